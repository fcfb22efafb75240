"""Password recovery by email or phone, and the one-time codes an account holder asks for.

A reset request answers 202 for any identifier, with the same body, and does its sending through
the outbox, so nothing tells whether the identifier has an account. Each matching account gets its
own code (a shared email lists every account it serves, with one code each), stored as a keyed
digest bound to that account and purpose. Confirming sets a new password under the usual policy,
ends every session of the account and tells the holder; it does not log anyone in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import new_id
from app.domain import account_rules as rules
from app.domain.errors import FieldProblem, InvalidCode, RateLimited
from app.domain.passwords import check_password, context_words, normalise_password
from app.models.account import Account, AccountToken
from app.notify import outbox
from app.security import rate_limits
from app.security.accounts import Auth
from app.security.tokens import code_digest, new_code, same_digest
from app.services.auth import candidates, identifier_of, revoke_all
from app.services.registrations import SENSITIVE

Channel = Literal["email", "phone"]
log = logging.getLogger("chargeback_desk.recovery")
_LIVE = ("active", "pending_activation")


def _digest(auth: Auth, account_id: str, purpose: str, code: str) -> str:
    return code_digest(auth.keys.codes, code, purpose=purpose, subject=account_id)


def issue_code(
    session: Session, auth: Auth, account: Account, purpose: str, now: datetime, target: str | None = None
) -> str:
    """A fresh code for ``purpose``; any earlier unused code of that purpose stops working."""
    session.execute(
        update(AccountToken)
        .where(
            col(AccountToken.account_id) == account.id,
            col(AccountToken.purpose) == purpose,
            col(AccountToken.used_at).is_(None),
        )
        .values(used_at=now)
    )
    code = new_code()
    session.add(
        AccountToken(
            id=new_id("tok"),
            account_id=account.id,
            purpose=purpose,
            digest=_digest(auth, account.id, purpose, code),
            target=target,
            created_at=now,
            expires_at=now + rules.CODE_TTL,
        )
    )
    return code


def spend_code(
    session: Session, auth: Auth, account: Account, purpose: str, code: str, now: datetime
) -> AccountToken | None:
    """The account's live code of ``purpose`` if ``code`` is it (then spent); a wrong try counts."""
    token: AccountToken | None = session.execute(
        select(AccountToken)
        .where(
            col(AccountToken.account_id) == account.id,
            col(AccountToken.purpose) == purpose,
            col(AccountToken.used_at).is_(None),
        )
        .order_by(col(AccountToken.created_at).desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if token is None or rules.code_state(token.created_at, token.tries, now) != "valid":
        return None
    if not same_digest(token.digest, _digest(auth, account.id, purpose, code.strip())):
        token.tries += 1
        return None
    token.used_at = now
    return token


def send_code(
    session: Session,
    settings: Settings,
    account: Account,
    channel: Channel,
    subject: str,
    text: str,
    now: datetime,
) -> None:
    """Queue a message with a code to the account's email or phone (nothing if it has no phone)."""
    if channel == "email":
        outbox.enqueue(
            session,
            channel="email",
            recipient=account.email,
            subject=subject,
            body=text,
            headers={"From": settings.mail_from, **SENSITIVE},
            now=now,
        )
    elif account.phone:
        outbox.enqueue(
            session, channel="sms", recipient=account.phone, body=text, headers=dict(SENSITIVE), now=now
        )


def limit_reset(auth: Auth, identifier: str, client: str) -> tuple[str, str]:
    """Count a reset request against its identifier and address (429 over either); the identifier
    as looked up. Nothing here depends on whether the identifier has an account."""
    kind, value = identifier_of(identifier)
    wait = max(
        auth.limiter.hit("reset", f"{kind}:{value}", rate_limits.RESET_PER_IDENTIFIER),
        auth.limiter.hit("reset-from", client, rate_limits.RESET_PER_ADDRESS),
    )
    if wait:
        raise RateLimited("Too many reset requests; wait before trying again.", retry_after=wait)
    return kind, value


def send_reset(
    sessions: Callable[[], Session], settings: Settings, auth: Auth, kind: str, value: str, channel: Channel
) -> None:
    """Send a reset code to every live account the identifier names, after the answer has gone:
    its time then says nothing about whether there was any. A failure is logged, not answered."""
    try:
        with sessions() as session:
            _send_reset(session, settings, auth, kind, value, channel)
    except Exception:
        log.exception("password reset codes not sent")


def _send_reset(
    session: Session, settings: Settings, auth: Auth, kind: str, value: str, channel: Channel
) -> None:
    begin_write(session)
    now = utcnow()
    accounts = [a for a in candidates(session, kind, value) if a.status in _LIVE]
    minutes = int(rules.CODE_TTL.total_seconds() // 60)
    # One message per destination: a shared email lists every account it serves, each with its code.
    by_destination: dict[str, list[tuple[Account, str]]] = {}
    for account in accounts:
        destination = account.email_key if channel == "email" else (account.phone or "")
        if destination:
            code = issue_code(session, auth, account, "password_reset", now)
            by_destination.setdefault(destination, []).append((account, code))
    for pairs in by_destination.values():
        lines = "\n".join(f"  member id {a.member_id}: {code}" for a, code in pairs)
        if channel == "email":
            text = (
                f"Someone asked to reset the password of your Chargeback Desk account. The code, valid "
                f"{minutes} minutes:\n{lines}\n\nIf it was not you, ignore this message: your password "
                "stays as it is."
            )
        else:
            text = f"Chargeback Desk password reset code(s), valid {minutes} min: " + ", ".join(
                f"{a.member_id} {code}" for a, code in pairs
            )
        send_code(session, settings, pairs[0][0], channel, "Reset your Chargeback Desk password", text, now)
    session.commit()


def confirm_reset(
    session: Session,
    settings: Settings,
    auth: Auth,
    identifier: str,
    code: str,
    new_password: str,
    client: str,
) -> dict[str, str]:
    """Set a new password with a reset code; every session of the account ends."""
    # Each code allows 5 tries; this bounds guessing across many identifiers from one address.
    wait = auth.limiter.hit("reset-confirm-from", client, rate_limits.RESET_PER_ADDRESS)
    if wait:
        raise RateLimited("Too many attempts from this address; wait before trying again.", retry_after=wait)
    kind, value = identifier_of(identifier)
    wait = auth.limiter.hit("reset-confirm", f"{kind}:{value}", rate_limits.RESET_CONFIRM_PER_IDENTIFIER)
    if wait:
        raise RateLimited(
            "Too many codes tried for this identifier; wait before trying again.", retry_after=wait
        )
    begin_write(session)
    now = utcnow()
    matched = None
    for account in candidates(session, kind, value):
        if account.status in _LIVE and spend_code(session, auth, account, "password_reset", code, now):
            matched = account
            break
    if matched is None:
        session.commit()  # wrong tries count
        raise InvalidCode(
            "The code is not valid (wrong, used or expired): ask for a new one.",
            errors=[FieldProblem("code", "invalid or expired")],
        )
    password = normalise_password(new_password)
    check_password(
        password,
        min_length=settings.password_min_length,
        blocklist=auth.blocklist,
        context=context_words(matched.email, matched.member_id, matched.username),
        field="new_password",
    )
    matched.password_hash = auth.hasher.hash(password)
    matched.version, matched.updated_at = matched.version + 1, now
    revoke_all(session, matched.id, "password_reset", now)
    outbox.enqueue(
        session,
        channel="email",
        recipient=matched.email,
        subject="Your Chargeback Desk password was changed",
        body=f"The password of your account (member id {matched.member_id}) was changed with a reset "
        "code, and every session was logged out. If this was not you, reset the password again at once "
        "and contact support.",
        headers={"From": settings.mail_from},
        now=now,
    )
    session.commit()
    return {"status": "password_changed"}
