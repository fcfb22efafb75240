"""One credential layer: every bearer credential resolves to a ``Caller``.

Today: the platform key and seller API keys. User access tokens (accounts) resolve here too when
they arrive, so routes depend on ``Caller`` and never on how the caller proved who it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from app.domain.errors import Forbidden, InvalidCredential
from app.models.seller import ApiKey
from app.security.api_keys import KEY_PREFIX, digest, same_secret

CallerKind = Literal["platform", "seller"]


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind
    principal_id: str  # scope of idempotency keys and rate limits: "platform" or the seller id
    actor: str  # recorded in audit trails: "platform" or the API key id
    seller_id: str | None = None

    def may_see(self, seller_id: str) -> bool:
        """The one tenancy rule: the platform sees every seller's data, a seller only its own.

        Callers answer "not found" when this is False, so nobody learns what others have.
        """
        return self.kind == "platform" or self.seller_id == seller_id

    def require_platform(self) -> None:
        if self.kind != "platform":
            raise Forbidden("This operation needs the platform key.")

    def require_seller(self) -> str:
        if self.seller_id is None:
            raise Forbidden("This operation needs a seller credential.")
        return self.seller_id


PLATFORM = Caller(kind="platform", principal_id="platform", actor="platform")

_KEY_LOOKUP = select(col(ApiKey.id), col(ApiKey.seller_id)).where(
    col(ApiKey.key_hash) == bindparam("key_hash"), col(ApiKey.revoked_at).is_(None)
)


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A token shaped like a seller API key, not yet looked up: the digest to look it up by."""

    key_hash: str


def claim(token: str | None, platform_key: str | None) -> Caller | KeyClaim:
    """What ``token`` claims to be, before any database lookup (the platform key is checked here)."""
    if not token or len(token) > 512:
        raise InvalidCredential("Send `Authorization: Bearer <credential>`.")
    if token.startswith(KEY_PREFIX):
        return KeyClaim(digest(token))
    if platform_key and same_secret(token, platform_key):
        return PLATFORM
    raise unknown_credential()


def unknown_credential() -> InvalidCredential:
    return InvalidCredential("The credential is not valid or has been revoked.")


def seller_caller(key_id: str, seller_id: str) -> Caller:
    return Caller(kind="seller", principal_id=seller_id, actor=key_id, seller_id=seller_id)


def resolve(session: Session, token: str | None, platform_key: str | None) -> Caller:
    """Find who holds ``token``; a missing, unknown or revoked credential is the same 401."""
    claimed = claim(token, platform_key)
    if isinstance(claimed, Caller):
        return claimed
    # Core on the session's connection with a prebuilt statement: this runs on every request.
    row = session.connection().execute(_KEY_LOOKUP, {"key_hash": claimed.key_hash}).first()
    if row is None:
        raise unknown_credential()
    return seller_caller(row.id, row.seller_id)
