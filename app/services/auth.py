"""Log in, refresh, log out.

One answer for an unknown identifier, a wrong password and (until the password is known good) an
inactive account: the same status, body and work (a dummy hash when nobody matched). Failures are
counted per identifier, known or not, with growing delays and never a permanent lock; per client
address a coarse rate limit applies. A login is a session; its refresh tokens rotate on every use,
and presenting a used one revokes the whole session.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.core.ids import new_id
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
    value = raw.strip()
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
    column = {"email": Account.email_key, "member_id": Account.member_id, "phone": Account.phone}[kind]
    # A deactivated account no longer answers to its email, phone or member id.
    q = (
        select(Account)
        .where(col(column) == value, col(Account.status) != "deactivated")
        .order_by(col(Account.created_at))
    )
    return list(session.execute(q.limit(20)).scalars())


def _fail(session: Session, key: str, now: datetime) -> None:
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


def login(session: Session, auth: Auth, data: LoginRequest, client: str) -> dict[str, Any]:
    wait = auth.limiter.hit("login", client, rate_limits.LOGIN_PER_ADDRESS)
    if wait:
        raise RateLimited("Too many logins from this address; wait before trying again.", retry_after=wait)
    kind, value = identifier_of(data.identifier)
    key = _throttle_key(kind, value)
    begin_write(session)
    now = utcnow()
    throttle = session.get(LoginThrottle, key)
    if throttle is not None:
        wait = login_throttle.retry_after(now, throttle.last_failure_at, throttle.failures)
        if wait:
            session.rollback()
            raise RateLimited(
                "Too many failed logins for this identifier; wait, or reset the password.", retry_after=wait
            )
    accounts = candidates(session, kind, value)
    session.rollback()  # no transaction is held while passwords are hashed
    password = normalise_password(data.password)
    if not accounts:
        auth.hasher.verify_dummy(password)
    matched = [a for a in accounts if auth.hasher.verify(a.password_hash, password)]
    begin_write(session)
    if not matched:
        _fail(session, key, now)
        raise InvalidCredentials("The identifier or the password is not correct.")
    if throttle is not None:
        session.execute(update(LoginThrottle).where(col(LoginThrottle.key) == key).values(failures=0))
    if len(matched) > 1:
        session.commit()
        raise IdentifierAmbiguous(
            "This identifier and password belong to several accounts: log in with your member id."
        )
    account = session.get_one(Account, matched[0].id)
    if account.status != "active":
        session.commit()
        raise AccountNotActive(
            "This account is not active: activate it from the emailed link."
            if account.status == "pending_activation"
            else "This account has been deactivated."
        )
    if auth.hasher.needs_rehash(account.password_hash):
        account.password_hash = auth.hasher.hash(password)
    pair = _open_session(session, auth, account.id, now)
    session.commit()
    return pair


def _open_session(session: Session, auth: Auth, account_id: str, now: datetime) -> dict[str, Any]:
    login_session = AuthSession(
        id=new_id("ses"), account_id=account_id, created_at=now, expires_at=now + rules.REFRESH_TTL
    )
    session.add(login_session)
    return _pair(session, auth, login_session, now)


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
    access = issue_access(
        auth.keys.jwt,
        account_id=login_session.account_id,
        session_id=login_session.id,
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
