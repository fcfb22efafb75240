"""One credential layer: every bearer credential resolves to a ``Caller``, and one tenancy rule.

The platform key, seller API keys, and account access tokens (a JWT naming a login session, which
is checked server-side on every request so a logout or a revoked session takes effect at once). A
seller's owner account acts as that seller. Routes depend on ``Caller`` and never on how the caller
proved who it is.

A seller key is looked up once per request (``verify``). A read may defer that: its statements
carry the key's own lookup (``readable`` scopes them by the seller that holds the key), so a read
that finds rows has proved the key with the same statement, and one that finds nothing or fails
looks the key up alone, so an unknown key is still a 401 and never a 404 or an empty page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, TextClause, bindparam, select
from sqlmodel import col

from app.core.clock import utcnow
from app.core.reads import AnySelect, LoopReader
from app.domain.errors import Forbidden, InvalidCredential
from app.models.account import Account, AuthSession
from app.models.base import UTCDateTime
from app.models.seller import ApiKey
from app.security.api_keys import KEY_PREFIX, digest, same_secret
from app.security.tokens import decode_access

CallerKind = Literal["platform", "seller", "account"]


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind
    principal_id: str  # scope of idempotency keys and rate limits: "platform" or the seller id
    actor: str  # recorded in audit trails: "platform" or the API key id
    seller_id: str | None = None
    key_hash: str | None = None  # a seller key not yet looked up (``pending``)
    account_id: str | None = None  # a user access token's account (a seller's owner too)
    session_id: str | None = None
    session_checked: bool = True  # an access token's session not yet looked up is ``pending``

    @property
    def pending(self) -> bool:
        """A credential not looked up yet: a seller key (reads defer it) or an access token's session."""
        return self.key_hash is not None or not self.session_checked

    def may_see(self, seller_id: str) -> bool:
        """The one tenancy rule: the platform sees every seller's data, a seller only its own.

        Callers answer "not found" when this is False, so nobody learns what others have. Reads
        apply the same rule inside their statements through ``readable``.
        """
        self._verified()
        return self.kind == "platform" or self.seller_id == seller_id

    def _verified(self) -> None:
        if self.pending:
            raise RuntimeError("a pending seller key must be verified before its identity is used")

    def require_platform(self) -> None:
        if self.kind != "platform":
            raise Forbidden("This operation needs the platform key.")

    def require_seller(self) -> str:
        self._verified()
        if self.seller_id is None:
            raise Forbidden("This operation needs a seller credential.")
        return self.seller_id

    def require_seller_or_platform(self) -> None:
        if self.kind not in ("seller", "platform"):
            raise Forbidden("This operation needs a seller credential or the platform key.")

    def require_account(self) -> str:
        """The account of a user access token (a buyer, or a seller's owner)."""
        self._verified()
        if self.account_id is None:
            raise Forbidden("This operation needs an account's access token (log in first).")
        return self.account_id


PLATFORM = Caller(kind="platform", principal_id="platform", actor="platform")
TENANT = "tenant_seller_id"  # the bind parameters ``readable`` adds
TENANT_KEY = "tenant_key_hash"

_LIVE_KEY = (col(ApiKey.key_hash) == bindparam(TENANT_KEY), col(ApiKey.revoked_at).is_(None))
_KEY_LOOKUP = select(col(ApiKey.id), col(ApiKey.seller_id)).where(*_LIVE_KEY)
_KEY_HOLDER = select(col(ApiKey.seller_id)).where(*_LIVE_KEY).scalar_subquery()


class Scoped:
    """A prebuilt read statement and the column that says whose data a row is.

    Built once at import; ``readable`` picks the variant for a caller, so every read is scoped by
    the same rule and no statement is built per request.
    """

    def __init__(
        self,
        statement: AnySelect,
        owner: ColumnElement[Any],
        across: ColumnElement[bool] | TextClause | None = None,
    ) -> None:
        # ``across``: what only the platform's reads across owners say (a partial index's predicate).
        self.everyone = statement if across is None else statement.where(across)
        self.one_seller = statement.where(owner == bindparam(TENANT))
        self.key_holder = statement.where(owner == _KEY_HOLDER)


def readable(query: Scoped, caller: Caller) -> tuple[AnySelect, dict[str, Any]]:
    """``Caller.may_see`` as a statement: what this caller may read of ``query``, and its parameters."""
    if caller.kind == "platform":
        return query.everyone, {}
    if caller.key_hash is not None:
        return query.key_holder, {TENANT_KEY: caller.key_hash}
    if caller.seller_id is None:
        raise Forbidden("This operation needs a seller credential or the platform key.")
    return query.one_seller, {TENANT: caller.seller_id}


async def narrowed(reader: LoopReader, caller: Caller, seller_id: str | None) -> Caller | None:
    """``caller`` as it reads a list filtered by ``seller_id``: the platform reads as that seller; a
    seller reads its own data under its own id and nothing under another's (None: an empty page)."""
    if seller_id is None:
        return caller
    if caller.kind == "platform":
        return Caller(kind="seller", principal_id=seller_id, actor=caller.actor, seller_id=seller_id)
    caller = await verify(reader, caller)
    return caller if caller.seller_id == seller_id else None


def unknown_credential() -> InvalidCredential:
    return InvalidCredential("The credential is not valid or has been revoked.")


def seller_caller(key_id: str, seller_id: str) -> Caller:
    return Caller(kind="seller", principal_id=seller_id, actor=key_id, seller_id=seller_id)


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """How to read an access token: the key and the claims it must carry."""

    key: bytes
    issuer: str
    audience: str


def identify(token: str | None, platform_key: str | None, tokens: TokenCheck | None = None) -> Caller:
    """Who ``token`` claims to be, without I/O: the platform, a seller key still ``pending``, or an
    access token whose session is still to be checked."""
    if not token or len(token) > 2048:
        raise InvalidCredential("Send `Authorization: Bearer <credential>`.")
    if token.startswith(KEY_PREFIX):
        return Caller(kind="seller", principal_id="", actor="", key_hash=digest(token))
    if platform_key and same_secret(token, platform_key):
        return PLATFORM
    if tokens is not None and token.count(".") == 2:
        claims = decode_access(tokens.key, token, issuer=tokens.issuer, audience=tokens.audience)
        return Caller(
            kind="account",
            principal_id=claims.account_id,
            actor=claims.account_id,
            account_id=claims.account_id,
            session_id=claims.session_id,
            session_checked=False,
        )
    raise unknown_credential()


_LIVE_SESSION = (
    select(col(Account.id), col(Account.seller_id))
    .join(AuthSession, col(AuthSession.account_id) == col(Account.id))
    .where(
        col(AuthSession.id) == bindparam("sid"),
        col(AuthSession.revoked_at).is_(None),
        col(AuthSession.expires_at) > bindparam("now", type_=UTCDateTime()),
        col(Account.status) == "active",
    )
)


async def verify(reader: LoopReader, caller: Caller) -> Caller:
    """The caller with its credential looked up; an unknown or revoked key, or an ended session, is
    the same 401 as a missing credential."""
    if not caller.session_checked:
        row = await reader.one(_LIVE_SESSION, {"sid": caller.session_id, "now": utcnow()})
        if row is None or row.id != caller.account_id:
            raise InvalidCredential("The session has ended; log in again.")
        if row.seller_id is not None:  # a seller's owner account acts as that seller
            return Caller(
                kind="seller",
                principal_id=row.seller_id,
                actor=row.id,
                seller_id=row.seller_id,
                account_id=row.id,
                session_id=caller.session_id,
            )
        return Caller(
            kind="account", principal_id=row.id, actor=row.id, account_id=row.id, session_id=caller.session_id
        )
    if caller.key_hash is None:
        return caller
    row = await reader.one(_KEY_LOOKUP, {TENANT_KEY: caller.key_hash})
    if row is None:
        raise unknown_credential()
    return seller_caller(row.id, row.seller_id)
