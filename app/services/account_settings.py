"""The account holder's own settings: username, email and phone (each changed only once a code sent
to the new address or number is confirmed, the old one told), password (with the current one), and
deactivation (with a fresh code and a reason; orders and chargebacks stay for the records)."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.domain import account_rules as rules
from app.domain.email_policy import email_key
from app.domain.errors import (
    FieldProblem,
    InvalidCode,
    InvalidInput,
    NotFound,
    RateLimited,
    ReauthenticationRequired,
    WrongPassword,
    check_version,
)
from app.domain.passwords import check_password, context_words, normalise_password
from app.domain.payment_refs import mask_ref
from app.models.account import (
    Account,
    AccountUpdate,
    AuthSession,
    CodeConfirm,
    Deactivate,
    EmailChange,
    PasswordChange,
    PhoneChange,
    Reauthenticated,
    VerificationCodeRequest,
)
from app.notify import outbox
from app.security import rate_limits
from app.security.accounts import Auth
from app.security.credentials import Caller
from app.services import views
from app.services.auth import revoke_all, revoke_others
from app.services.contacts import parse_email, parse_phone
from app.services.recovery import issue_code, send_code, spend_code
from app.services.registrations import SENSITIVE

Change = Literal["email_change", "phone_change"]


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id, with_for_update=True)
    if account is None or account.status == "deactivated":
        raise NotFound("The account does not exist.")
    return account


def _limit(auth: Auth, account_id: str) -> None:
    wait = auth.limiter.hit("account-code", account_id, rate_limits.CODE_SEND_PER_DESTINATION)
    if wait:
        raise RateLimited("Too many codes asked for; wait before asking again.", retry_after=wait)


def _tell(session: Session, settings: Settings, account: Account, subject: str, text: str) -> None:
    outbox.enqueue(
        session,
        channel="email",
        recipient=account.email,
        subject=subject,
        body=text,
        headers={"From": settings.mail_from},
        now=utcnow(),
    )


def _tell_old_phone(session: Session, account: Account, text: str) -> None:
    """The number being replaced hears of it too: it may be the only contact its holder still has."""
    if account.phone:
        outbox.enqueue(session, channel="sms", recipient=account.phone, body=text, now=utcnow())


def update_profile(
    session: Session, account_id: str, data: AccountUpdate, if_match: int | None = None
) -> dict[str, Any]:
    begin_write(session)
    account = _account(session, account_id)
    check_version("account", account.version, if_match)
    for field, value in data.model_dump(exclude_unset=True, exclude={"current_password"}).items():
        setattr(account, field, value)
    account.version, account.updated_at = account.version + 1, utcnow()
    public = views.account(account)
    session.commit()
    return public


def start_change(
    session: Session, settings: Settings, auth: Auth, account_id: str, data: EmailChange | PhoneChange
) -> dict[str, str]:
    """Hold the new email or phone until the code sent there is confirmed; tell the old one."""
    begin_write(session)
    account = _account(session, account_id)
    now = utcnow()
    minutes = int(rules.CODE_TTL.total_seconds() // 60)
    if isinstance(data, EmailChange):
        new_email, _ = parse_email(data.new_email, "new_email")
        _limit(auth, account.id)
        code = issue_code(session, auth, account, "email_change", now, target=new_email)
        outbox.enqueue(
            session,
            channel="email",
            recipient=new_email,
            subject="Confirm your new email address",
            body=f"Your code to confirm this address for your Chargeback Desk account is {code} "
            f"(valid {minutes} minutes). If you did not ask for it, ignore this message.",
            headers={"From": settings.mail_from, **SENSITIVE},
            now=now,
        )
        _tell(
            session,
            settings,
            account,
            "Your email address is about to change",
            f"Someone asked to change your account's email address to {mask_ref(new_email)}. Nothing "
            "changes until the code sent there is confirmed. If this was not you, change your password.",
        )
    else:
        new_phone = parse_phone(data.new_phone, account.country, "new_phone")
        _limit(auth, account.id)
        code = issue_code(session, auth, account, "phone_change", now, target=new_phone)
        outbox.enqueue(
            session,
            channel="sms",
            recipient=new_phone,
            body=f"Chargeback Desk code to confirm this number: {code} (valid {minutes} min).",
            headers=dict(SENSITIVE),
            now=now,
        )
        _tell(
            session,
            settings,
            account,
            "Your phone number is about to change",
            f"Someone asked to change your account's phone number to {mask_ref(new_phone)}. Nothing "
            "changes until the code sent there is confirmed. If this was not you, change your password.",
        )
        _tell_old_phone(
            session,
            account,
            f"Chargeback Desk: someone asked to replace this number on your account with "
            f"{mask_ref(new_phone)}. If this was not you, change your password.",
        )
    session.commit()
    return {"status": "code_sent"}


def confirm_change(
    session: Session, settings: Settings, auth: Auth, account_id: str, purpose: Change, data: CodeConfirm
) -> dict[str, Any]:
    begin_write(session)
    account = _account(session, account_id)
    now = utcnow()
    token = spend_code(session, auth, account, purpose, data.code, now)
    if token is None or token.target is None:
        session.commit()  # the wrong try counts
        raise InvalidCode(
            "The code is not valid (wrong, used or expired).",
            errors=[FieldProblem("code", "invalid or expired")],
        )
    if purpose == "email_change":
        old = account.email
        account.email, account.email_key = token.target, email_key(token.target)
        note = f"Your account's email address was changed from {mask_ref(old)} to {mask_ref(token.target)}."
        outbox.enqueue(
            session,
            channel="email",
            recipient=old,
            subject="Your email address was changed",
            body=note + " If this was not you, contact support at once.",
            headers={"From": settings.mail_from},
            now=now,
        )
    else:
        old_phone = account.phone
        _tell_old_phone(
            session,
            account,
            f"Chargeback Desk: this number was replaced on your account by {mask_ref(token.target)}. "
            "If this was not you, contact support at once.",
        )
        account.phone = token.target
        _tell(
            session,
            settings,
            account,
            "Your phone number was changed",
            f"Your account's phone number was changed from {mask_ref(old_phone or '')} to "
            f"{mask_ref(token.target)}. If this was not you, change your password.",
        )
    account.version, account.updated_at = account.version + 1, now
    public = views.account(account)
    session.commit()
    return public


def _check_current_password(auth: Auth, account_id: str, stored: str | None, given: str) -> None:
    """The account's password, given again: counted per account, so it cannot be guessed through here."""
    wait = auth.limiter.hit("password-check", account_id, rate_limits.PASSWORD_CHECK_PER_ACCOUNT)
    if wait:
        raise RateLimited(
            "Too many password checks for this account; wait before trying again.", retry_after=wait
        )
    if stored is None or not auth.hasher.verify(stored, normalise_password(given)):
        raise WrongPassword(
            "The current password is not correct.", errors=[FieldProblem("current_password", "not correct")]
        )


def confirm_identity(session: Session, auth: Auth, caller: Caller, data: Reauthenticated) -> None:
    """Before the email, phone, username or a payment binding changes: a login at most 5 minutes old
    (``account_rules.REAUTH_WINDOW``), or the current password. Reads in a transaction of its own,
    so no write lock is held while a password is hashed."""
    account_id, current_password = caller.require_account(), data.current_password
    with session.begin():
        login = session.get(AuthSession, caller.session_id) if caller.session_id else None
        if login is not None and rules.login_is_recent(login.created_at, utcnow()):
            return
        account = session.get(Account, account_id)
        stored = account.password_hash if account is not None else None
    if current_password is None:
        raise ReauthenticationRequired(
            "This change needs a login from the last 5 minutes: send `current_password`, or log in again."
        )
    _check_current_password(auth, account_id, stored, current_password)


def change_password(
    session: Session,
    settings: Settings,
    auth: Auth,
    account_id: str,
    session_id: str | None,
    data: PasswordChange,
) -> dict[str, str]:
    """A new password with the current one; every other session ends."""
    with session.begin():
        account = session.get(Account, account_id)
        stored = account.password_hash if account is not None else None
    _check_current_password(auth, account_id, stored, data.current_password)
    password = normalise_password(data.new_password)
    assert account is not None
    check_password(
        password,
        min_length=settings.password_min_length,
        blocklist=auth.blocklist,
        context=context_words(account.email, account.member_id, account.username),
        field="new_password",
    )
    hashed = auth.hasher.hash(password)
    begin_write(session)
    account = _account(session, account_id)
    now = utcnow()
    account.password_hash = hashed
    account.version, account.updated_at = account.version + 1, now
    revoke_others(session, account.id, session_id, "password_change", now)
    _tell(
        session,
        settings,
        account,
        "Your Chargeback Desk password was changed",
        "Your password was changed and your other sessions were logged out. If this was not you, reset "
        "your password at once.",
    )
    session.commit()
    return {"status": "password_changed"}


def send_verification_code(
    session: Session, settings: Settings, auth: Auth, account_id: str, data: VerificationCodeRequest
) -> dict[str, str]:
    """A fresh code to confirm a sensitive action (today: deactivation)."""
    begin_write(session)
    account = _account(session, account_id)
    if data.channel == "phone" and not account.phone:
        raise InvalidInput(
            "This account has no phone number: ask for the code by email.",
            errors=[FieldProblem("channel", "the account has no phone number")],
        )
    _limit(auth, account.id)
    now = utcnow()
    code = issue_code(session, auth, account, data.purpose, now)
    minutes = int(rules.CODE_TTL.total_seconds() // 60)
    text = (
        f"Your Chargeback Desk code to deactivate your account is {code} (valid {minutes} minutes). "
        "If you did not ask for it, change your password."
    )
    send_code(session, settings, account, data.channel, "Confirm deactivating your account", text, now)
    session.commit()
    return {"status": "code_sent"}


def deactivate(
    session: Session, settings: Settings, auth: Auth, account_id: str, data: Deactivate
) -> dict[str, Any]:
    """End the account: no more logins, every session revoked; its orders and cases stay on record."""
    begin_write(session)
    account = _account(session, account_id)
    now = utcnow()
    if spend_code(session, auth, account, "deactivate", data.code, now) is None:
        session.commit()
        raise InvalidCode(
            "The code is not valid (wrong, used or expired): ask for a new one.",
            errors=[FieldProblem("code", "invalid or expired")],
        )
    account.status, account.deactivated_at, account.deactivation_reason = "deactivated", now, data.reason
    account.version, account.updated_at = account.version + 1, now
    revoke_all(session, account.id, "deactivated", now)
    _tell(
        session,
        settings,
        account,
        "Your Chargeback Desk account was deactivated",
        "Your account was deactivated and every session was logged out. Your orders and their records stay "
        "with the platform as the law requires.",
    )
    public = views.account(account)
    session.commit()
    return public
