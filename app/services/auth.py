"""Log in, refresh, log out.

One answer for an unknown identifier, a wrong password and (until the password is known good) an
inactive account: the same status, body and work (a dummy hash when nobody matched). Failures are
counted per identifier, known or not, with growing delays and never a permanent lock; per client
address a coarse rate limit applies. A login is a session; its refresh tokens rotate on every use,
and presenting a used one revokes the whole session.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.core.ids import new_id
from app.core.reads import LoopReader
from app.domain import account_rules as rules
from app.domain import login_throttle
from app.domain.email_policy import email_key
from app.domain.errors import (
    AccountNotActive,
    IdentifierAmbiguous,
    InvalidCredential,
    InvalidCredentials,
    InvalidEmail,
    RateLimited,
)
from app.domain.passwords import normalise_password
from app.models.account import Account, AuthSession, LoginRequest, LoginThrottle, RefreshRequest, RefreshToken
from app.security import rate_limits
from app.security.accounts import Auth
from app.security.tokens import issue_access, new_token, token_digest


def identifier_of(raw: str) -> tuple[str, str]:
    """(kind, normalised value) of a login identifier: an email, a member id or a phone number."""
    # NFKC first: a full-width at sign or digit is the same identifier, and the same throttle.
    value = unicodedata.normalize("NFKC", raw).strip()
    if "@" in value:
        try:
            return "email", email_key(value)  # the form accounts are stored under
        except InvalidEmail:
            return "email", value.casefold()  # matches nothing, answered like any unknown identifier
    if value[:1] in ("M", "m") and value[1:].isdigit():
        return "member_id", value.upper()
    digits = "".join(ch for ch in value if ch.isdigit())
    return "phone", "+" + digits


def _throttle_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def candidates(session: Session, kind: str, value: str) -> list[Account]:
    """The accounts answering to an identifier of this kind, whole (recovery), oldest first."""
    return list(session.execute(_CANDIDATE_ACCOUNTS[kind], {"value": value}).scalars())


def _fail(session: Session, keys: list[str], now: datetime) -> None:
    for key in sorted(keys):  # one order for every login, so two never wait on each other's rows
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            try:
                with session.begin_nested():  # two first failures at once: one inserts, the other counts
                    session.add(LoginThrottle(key=key, failures=1, last_failure_at=now))
            except IntegrityError:
                row = session.get_one(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is not None:
            row.failures, row.last_failure_at = row.failures + 1, now
    session.commit()


# Built once and run as Core: the ORM's Python work per login held the GIL against the event loop.
_ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
_THROTTLES = LoginThrottle.__table__  # type: ignore[attr-defined]
_THROTTLE = select(_THROTTLES.c.failures, _THROTTLES.c.last_failure_at).where(
    _THROTTLES.c.key == bindparam("key")
)
_IDENTIFIED_BY = {
    "email": _ACCOUNTS.c.email_key,
    "member_id": _ACCOUNTS.c.member_id,
    "phone": _ACCOUNTS.c.phone,
}


def _answering(statement: Select[Any], kind: str) -> Select[Any]:
    """The accounts an identifier of ``kind`` (``:value``) names, oldest first."""
    # A deactivated account no longer answers to its email, phone or member id.
    return (
        statement.where(_IDENTIFIED_BY[kind] == bindparam("value"), _ACCOUNTS.c.status != "deactivated")
        .order_by(_ACCOUNTS.c.created_at)
        .limit(20)
    )


# What a login needs of them, and whole accounts for recovery.
_CANDIDATES = {
    kind: _answering(select(_ACCOUNTS.c.id, _ACCOUNTS.c.password_hash, _ACCOUNTS.c.status), kind)
    for kind in _IDENTIFIED_BY
}
_CANDIDATE_ACCOUNTS = {kind: _answering(select(Account), kind) for kind in _IDENTIFIED_BY}
_STATUS = select(_ACCOUNTS.c.status).where(_ACCOUNTS.c.id == bindparam("id"))
_RESET_THROTTLE = update(_THROTTLES).where(_THROTTLES.c.key == bindparam("throttle")).values(failures=0)
# Only the hash that was verified is replaced: a password changed meanwhile stays.
_REHASH = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account"), _ACCOUNTS.c.password_hash == bindparam("old_hash"))
    .values(password_hash=bindparam("new_hash"))
)
_NEW_SESSION = insert(AuthSession.__table__)  # type: ignore[attr-defined]
_NEW_REFRESH_TOKEN = insert(RefreshToken.__table__)  # type: ignore[attr-defined]


async def login(
    reader: LoopReader, sessions: Callable[[], Session], auth: Auth, data: LoginRequest, client: str
) -> dict[str, Any]:
    """Reads on the loop reader, hashes on the hasher's threads, one write transaction in a worker thread."""
    wait = await auth.limiter.hit_async("login", client, rate_limits.LOGIN_PER_ADDRESS)
    if wait:
        raise RateLimited("Too many logins from this address; wait before trying again.", retry_after=wait)
    kind, value = identifier_of(data.identifier)
    key = _throttle_key(kind, value)
    now = utcnow()
    throttled = await _throttled(reader, [key], now)
    accounts = await reader.all(_CANDIDATES[kind], {"value": value})
    # Each account also counts the failures against it by any of its identifiers (checklist 22).
    account_keys = [_throttle_key("account", a.id) for a in accounts]
    throttled += await _throttled(reader, account_keys, now)
    password = normalise_password(data.password)
    if not accounts:
        await auth.hasher.verify_dummy_async(password)
    matched = [a for a in accounts if await auth.hasher.verify_async(a.password_hash, password)]
    rehash = None
    if (
        len(matched) == 1
        and matched[0].status == "active"
        and auth.hasher.needs_rehash(matched[0].password_hash)
    ):
        # Hashed before the write transaction, so its lock is never held for a hash.
        rehash = (matched[0].password_hash, await auth.hasher.hash_async(password))
    ids = [a.id for a in matched]
    failing = [key, *account_keys]
    # A success clears the identifier's count and its own account's, never another account's that
    # shares the identifier: logging in to one's own account must not reset a guess at someone else's.
    clearing = [k for k in [key, *(_throttle_key("account", i) for i in ids)] if k in throttled]
    pair = await to_thread.run_sync(_conclude, sessions, auth, failing, clearing, ids, rehash, now)
    # A login proves the password: the count of checks against it (a stolen session's guesses) starts over.
    await auth.limiter.clear_async("password-check", ids[0], rate_limits.PASSWORD_CHECK_PER_ACCOUNT)
    return pair


async def _throttled(reader: LoopReader, keys: list[str], now: datetime) -> list[str]:
    """Those of ``keys`` with failures on record; 429 if any of them still has to wait.

    One answer whichever key it is, so it does not tell an identifier with an account from one without.
    """
    found = []
    for key in keys:
        row = await reader.one(_THROTTLE, {"key": key})
        if row is None:
            continue
        found.append(key)
        wait = login_throttle.retry_after(now, row.last_failure_at, row.failures)
        if wait:
            raise RateLimited(
                "Too many failed logins for this identifier; wait, or reset the password.", retry_after=wait
            )
    return found


def _conclude(
    sessions: Callable[[], Session],
    auth: Auth,
    failing: list[str],
    clearing: list[str],
    matched: list[str],
    rehash: tuple[str, str] | None,
    now: datetime,
) -> dict[str, Any]:
    """The login's one write transaction: a failure counted against the identifier and the accounts it
    names, or their throttles reset and a session opened."""
    with sessions() as session:
        begin_write(session)
        if not matched:
            _fail(session, failing, now)
            raise InvalidCredentials("The identifier or the password is not correct.")
        conn = session.connection()
        for throttle in clearing:
            conn.execute(_RESET_THROTTLE, {"throttle": throttle})
        if len(matched) > 1:
            session.commit()
            raise IdentifierAmbiguous(
                "This identifier and password belong to several accounts: log in with your member id."
            )
        [account_id] = matched
        status = conn.execute(_STATUS, {"id": account_id}).scalar_one()  # as of now, not of the read
        if status != "active":
            session.commit()
            raise AccountNotActive(
                "This account is not active: activate it from the emailed link."
                if status == "pending_activation"
                else "This account has been deactivated."
            )
        if rehash is not None:
            conn.execute(_REHASH, {"account": account_id, "old_hash": rehash[0], "new_hash": rehash[1]})
        session_id, refresh = new_id("ses"), new_token("rt")
        conn.execute(
            _NEW_SESSION,
            {
                "id": session_id,
                "account_id": account_id,
                "created_at": now,
                "expires_at": now + rules.REFRESH_TTL,
            },
        )
        conn.execute(
            _NEW_REFRESH_TOKEN,
            {
                "id": new_id("rft"),
                "session_id": session_id,
                "digest": token_digest(auth.keys.tokens, refresh),
                "created_at": now,
            },
        )
        session.commit()
    return _tokens(auth, account_id, session_id, refresh, now)


def _pair(session: Session, auth: Auth, login_session: AuthSession, now: datetime) -> dict[str, Any]:
    refresh = new_token("rt")
    session.add(
        RefreshToken(
            id=new_id("rft"),
            session_id=login_session.id,
            digest=token_digest(auth.keys.tokens, refresh),
            created_at=now,
        )
    )
    return _tokens(auth, login_session.account_id, login_session.id, refresh, now)


def _tokens(auth: Auth, account_id: str, session_id: str, refresh: str, now: datetime) -> dict[str, Any]:
    access = issue_access(
        auth.keys.jwt,
        account_id=account_id,
        session_id=session_id,
        now=now,
        ttl=rules.ACCESS_TTL,
        issuer=auth.issuer,
        audience=auth.audience,
    )
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": int(rules.ACCESS_TTL.total_seconds()),
    }


def refresh(session: Session, auth: Auth, data: RefreshRequest) -> dict[str, Any]:
    """A new pair for a refresh token, which is spent; a spent one presented again ends its session."""
    begin_write(session)
    now = utcnow()
    digest = token_digest(auth.keys.tokens, data.refresh_token.strip())
    token = session.execute(
        select(RefreshToken).where(col(RefreshToken.digest) == digest).with_for_update()
    ).scalar_one_or_none()
    if token is None:
        raise InvalidCredential("The refresh token is not valid.")
    login_session = session.get_one(AuthSession, token.session_id, with_for_update=True)
    if token.used_at is not None:
        # Reuse: someone holds a copy. Revoke the whole family, so neither copy works any more.
        if login_session.revoked_at is None:
            login_session.revoked_at, login_session.revoked_reason = now, "refresh_reuse"
        session.commit()
        raise InvalidCredential("The refresh token was already used; the session has been ended.")
    account = session.get_one(Account, login_session.account_id)
    if login_session.revoked_at is not None or now > login_session.expires_at or account.status != "active":
        raise InvalidCredential("The session has ended; log in again.")
    token.used_at = now
    pair = _pair(session, auth, login_session, now)
    session.commit()
    return pair


def revoke_session(session: Session, session_id: str, reason: str) -> None:
    begin_write(session)
    session.execute(
        update(AuthSession)
        .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    session.commit()


def revoke_all(session: Session, account_id: str, reason: str, now: datetime) -> None:
    """End every session of the account (in the caller's transaction)."""
    revoke_others(session, account_id, None, reason, now)


def revoke_others(session: Session, account_id: str, keep: str | None, reason: str, now: datetime) -> None:
    """End every session of the account but ``keep`` (the caller's own), in the caller's transaction."""
    q = update(AuthSession).where(
        col(AuthSession.account_id) == account_id, col(AuthSession.revoked_at).is_(None)
    )
    if keep is not None:
        q = q.where(col(AuthSession.id) != keep)
    session.execute(q.values(revoked_at=now, revoked_reason=reason))
