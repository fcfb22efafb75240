"""Sign-up: a registration with two codes (email and SMS), its completion into an account, activation.

Nothing here tells a caller whether an address already has an account: registration always answers
the same way, and a hint goes inside the email itself. Codes and tokens are stored as keyed digests;
every message goes through the outbox in the same transaction as the row it belongs to, marked
``sensitive`` so the dispatcher blanks its body once it has been delivered.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import has_prefix, new_id
from app.domain import account_rules as rules
from app.domain.email_policy import email_key
from app.domain.errors import (
    FieldProblem,
    InvalidCode,
    NotFound,
    NotVerified,
    RateLimited,
    RegistrationExpired,
    TermsNotAccepted,
)
from app.domain.passwords import check_password, context_words, normalise_password
from app.models.account import (
    Account,
    AccountActivate,
    AccountToken,
    Registration,
    RegistrationComplete,
    RegistrationCreate,
    RegistrationResend,
    RegistrationVerify,
)
from app.notify import outbox
from app.security import rate_limits
from app.security.accounts import Auth
from app.security.credentials import Caller
from app.security.tokens import code_digest, new_code, new_token, same_digest, token_digest
from app.services import views
from app.services.contacts import parse_email, parse_phone
from app.services.idempotency import Reservation

Channel = Literal["email", "phone"]
SENSITIVE = {"sensitive": True}  # the dispatcher blanks the body once delivered
_ALREADY = (
    "\nThis address already has an account with us. You can log in, or reset its password, instead of "
    "registering again; register only if you want another account.\n"
)


ANONYMOUS = Caller(kind="account", principal_id="anonymous", actor="anonymous")
"""Whom a public request's idempotency key belongs to: one scope, whatever the address, so that a
retry from another network (a phone leaving Wi-Fi) replays. A replay needs the same body, password
included (as a digest), or the registration's own id in the path: only the registrant has them."""


def _digest(auth: Auth, registration_id: str, channel: Channel, code: str) -> str:
    return code_digest(auth.keys.codes, code, purpose=f"registration:{channel}", subject=registration_id)


def _queue_code(
    session: Session,
    settings: Settings,
    reg: Registration,
    channel: Channel,
    code: str,
    hint: str,
    now: datetime,
) -> None:
    minutes = int(rules.CODE_TTL.total_seconds() // 60)
    if channel == "email":
        outbox.enqueue(
            session,
            channel="email",
            recipient=reg.email,
            subject="Your Chargeback Desk sign-up code",
            body=f"Your email code for signing up is {code}. It is valid for {minutes} minutes.\n"
            f"If you did not sign up, ignore this message.\n{hint}",
            headers={"From": settings.mail_from, **SENSITIVE},
            now=now,
        )
    else:
        outbox.enqueue(
            session,
            channel="sms",
            recipient=reg.phone,
            body=f"Chargeback Desk sign-up code: {code} (valid {minutes} min). Never share it.",
            headers=dict(SENSITIVE),
            now=now,
        )


def _refuse_over_limit(auth: Auth, *checks: tuple[str, str, str]) -> None:
    wait = max(auth.limiter.hit(scope, key, rate) for scope, key, rate in checks)
    if wait:
        raise RateLimited("Too many codes or sign-ups; wait before trying again.", retry_after=wait)


def register(
    session: Session,
    settings: Settings,
    auth: Auth,
    data: RegistrationCreate,
    client: str,
    reservation: Reservation | None,
) -> dict[str, Any]:
    """Check the sign-up, hold it as a registration and send a code to the email and to the phone."""
    email, key = parse_email(data.email)
    phone = parse_phone(data.phone, data.country)
    password = normalise_password(data.password)
    check_password(
        password,
        min_length=settings.password_min_length,
        blocklist=auth.blocklist,
        context=context_words(email),
    )
    _refuse_over_limit(
        auth,
        ("register", client, rate_limits.REGISTER_PER_ADDRESS),
        ("code", key, rate_limits.CODE_SEND_PER_DESTINATION),
        ("code", phone, rate_limits.CODE_SEND_PER_DESTINATION),
    )
    hashed = auth.hasher.hash(password)  # a worker thread: the event loop never waits for it
    begin_write(session)
    now = utcnow()
    email_code, phone_code = new_code(), new_code()
    reg = Registration(
        id=new_id("reg"),
        country=data.country,
        email=email,
        phone=phone,
        password_hash=hashed,
        status="pending_verification",
        email_code="",
        email_code_sent_at=now,
        phone_code="",
        phone_code_sent_at=now,
        created_at=now,
        expires_at=now + rules.REGISTRATION_TTL,
    )
    reg.email_code = _digest(auth, reg.id, "email", email_code)
    reg.phone_code = _digest(auth, reg.id, "phone", phone_code)
    session.add(reg)
    taken = session.execute(select(func.count()).where(col(Account.email_key) == key)).scalar_one()
    _queue_code(session, settings, reg, "email", email_code, _ALREADY if taken else "", now)
    _queue_code(session, settings, reg, "phone", phone_code, "", now)
    public = views.registration(reg, now)
    if reservation is not None:
        reservation.complete(session, 201, views.json_text(public))
    session.commit()
    return public


def _pending(session: Session, registration_id: str, now: datetime) -> Registration:
    """The registration, locked; gone once completed, expired or voided by wrong codes."""
    reg = None
    if has_prefix(registration_id, "reg"):
        reg = session.get(Registration, registration_id, with_for_update=True)
    if reg is None:
        raise NotFound(f"Registration {registration_id} does not exist.")
    if reg.status == "completed":
        raise RegistrationExpired(
            "This registration is complete and its account exists: activate it from the emailed link."
        )
    if now > reg.expires_at:
        raise RegistrationExpired("This registration has ended; register again.")
    if max(reg.email_code_tries, reg.phone_code_tries) >= rules.CODE_MAX_TRIES:
        raise RegistrationExpired("Too many wrong codes: this registration is void; register again.")
    return reg


def verify(session: Session, auth: Auth, registration_id: str, data: RegistrationVerify) -> dict[str, Any]:
    """Both codes at once; a wrong one counts against its channel (5 and the registration is void)."""
    begin_write(session)
    now = utcnow()
    reg = _pending(session, registration_id, now)
    if reg.status == "verified":
        return {"status": "verified"}
    for channel, sent_at in (("email", reg.email_code_sent_at), ("phone", reg.phone_code_sent_at)):
        if now > sent_at + rules.CODE_TTL:
            session.rollback()
            raise RegistrationExpired(
                f"The {channel} code has expired: ask for a new one (resend), or register again."
            )
    wrong: list[FieldProblem] = []
    if not same_digest(reg.email_code, _digest(auth, reg.id, "email", data.email_code.strip())):
        reg.email_code_tries += 1
        wrong.append(FieldProblem("email_code", "wrong code"))
    if not same_digest(reg.phone_code, _digest(auth, reg.id, "phone", data.phone_code.strip())):
        reg.phone_code_tries += 1
        wrong.append(FieldProblem("phone_code", "wrong code"))
    if wrong:
        session.commit()  # the failed try counts, even though the request fails
        left = rules.CODE_MAX_TRIES - max(reg.email_code_tries, reg.phone_code_tries)
        if left <= 0:
            raise RegistrationExpired("Too many wrong codes: this registration is void; register again.")
        raise InvalidCode(
            f"A code is wrong; {left} tries left before the registration is void.", errors=wrong
        )
    reg.status, reg.verified_at = "verified", now
    session.commit()
    return {"status": "verified"}


def resend(
    session: Session, settings: Settings, auth: Auth, registration_id: str, data: RegistrationResend
) -> dict[str, Any]:
    """A fresh code on one channel, after a cooldown and within an hourly cap per destination."""
    begin_write(session)
    now = utcnow()
    reg = _pending(session, registration_id, now)
    if reg.status == "verified":
        session.rollback()
        return {"status": "verified", "retry_after": 0}
    channel: Channel = data.channel
    sent_at = reg.email_code_sent_at if channel == "email" else reg.phone_code_sent_at
    cooldown = rules.resend_wait(sent_at, 0, now)
    if cooldown:
        session.rollback()
        raise RateLimited(f"Wait {cooldown} s before asking for another code.", retry_after=cooldown)
    destination = email_key(reg.email) if channel == "email" else reg.phone
    _refuse_over_limit(auth, ("code", destination, rate_limits.CODE_SEND_PER_DESTINATION))
    code = new_code()
    if channel == "email":
        reg.email_code, reg.email_code_sent_at = _digest(auth, reg.id, "email", code), now
    else:
        reg.phone_code, reg.phone_code_sent_at = _digest(auth, reg.id, "phone", code), now
    _queue_code(session, settings, reg, channel, code, "", now)
    session.commit()
    return {"status": reg.status, "retry_after": int(rules.RESEND_COOLDOWN.total_seconds())}


def member_id(session: Session) -> str:
    """A short number to log in with when an email or phone is shared; random, so it says nothing."""
    while True:
        candidate = f"M{secrets.randbelow(9 * 10**9) + 10**9}"
        if (
            session.execute(select(col(Account.id)).where(col(Account.member_id) == candidate)).first()
            is None
        ):
            return candidate


def activation_link(settings: Settings, token: str) -> str:
    # A page that POSTs the token to /v1/accounts/activate when clicked; in the fragment, the token
    # never reaches a server log or a Referer header.
    return f"{settings.public_base_url.rstrip('/')}/activate#token={token}"


def queue_activation(
    session: Session, settings: Settings, auth: Auth, account: Account, now: datetime
) -> None:
    token = new_token("act")
    session.add(
        AccountToken(
            id=new_id("tok"),
            account_id=account.id,
            purpose="activation",
            digest=token_digest(auth.keys.tokens, token),
            created_at=now,
            expires_at=now + rules.ACTIVATION_TTL,
        )
    )
    hours = int(rules.ACTIVATION_TTL.total_seconds() // 3600)
    outbox.enqueue(
        session,
        channel="email",
        recipient=account.email,
        subject="Activate your Chargeback Desk account",
        body=f"Welcome! Your member id is {account.member_id}.\n\n"
        f"Activate your account within {hours} hours:\n{activation_link(settings, token)}\n\n"
        "If you did not sign up, ignore this message.\n",
        headers={"From": settings.mail_from, **SENSITIVE},
        now=now,
    )


def complete(
    session: Session,
    settings: Settings,
    auth: Auth,
    registration_id: str,
    data: RegistrationComplete,
    reservation: Reservation | None,
) -> dict[str, Any]:
    """Accept the terms and create the account (pending activation); the activation link is emailed."""
    if data.accept_terms is not True:
        raise TermsNotAccepted(
            "Accept the terms to create the account.", errors=[FieldProblem("accept_terms", "must be true")]
        )
    begin_write(session)
    now = utcnow()
    reg = _pending(session, registration_id, now)
    if reg.status != "verified":
        raise NotVerified("Confirm the email and phone codes first.")
    account = Account(
        id=new_id("acct"),
        member_id=member_id(session),
        email=reg.email,
        email_key=email_key(reg.email),
        phone=reg.phone,
        country=reg.country,
        password_hash=reg.password_hash,
        status="pending_activation",
        terms_version=data.terms_version,
        terms_accepted_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    reg.status, reg.account_id = "completed", account.id
    queue_activation(session, settings, auth, account, now)
    public = views.account(account)
    if reservation is not None:
        reservation.complete(session, 201, views.json_text(public))
    session.commit()
    return public


def activate(session: Session, auth: Auth, data: AccountActivate) -> dict[str, Any]:
    """Consume the activation token (single use, within its lifetime)."""
    begin_write(session)
    now = utcnow()
    digest = token_digest(auth.keys.tokens, data.token.strip())
    token = session.execute(
        select(AccountToken)
        .where(col(AccountToken.digest) == digest, col(AccountToken.purpose) == "activation")
        .with_for_update()  # single use, even for two clicks at once
    ).scalar_one_or_none()
    if token is None or token.used_at is not None or now > token.expires_at:
        raise InvalidCode(
            "This activation link is not valid (used, expired or mistyped).",
            errors=[FieldProblem("token", "invalid or expired")],
        )
    account = session.get_one(Account, token.account_id, with_for_update=True)
    token.used_at = now
    if account.status == "pending_activation":
        account.status, account.activated_at = "active", now
        account.version, account.updated_at = account.version + 1, now
    public = views.account(account)
    session.commit()
    return public
