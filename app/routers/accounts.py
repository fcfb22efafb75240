"""Buyer accounts: registration with two codes, activation, login and sessions, the account itself."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from app.core.errors import error_responses
from app.dependencies import AccountCaller, ApiRouter, IdempotencyKey, db_of
from app.domain import errors as e
from app.models.account import (
    AccountActivate,
    AccountPublic,
    LoginRequest,
    RefreshRequest,
    RegistrationComplete,
    RegistrationCreate,
    RegistrationPublic,
    RegistrationResend,
    RegistrationVerified,
    RegistrationVerify,
    TokenPair,
)
from app.routers.support import NO_STORE, create_once, json_response, sends
from app.security.tokens import token_digest
from app.services import auth, reads, registrations

router = ApiRouter(tags=["accounts"])
_PUBLIC: dict[str, Any] = {"security": []}  # anyone may call these; no credential is sent
_IDEM = (e.IdempotencyKeyReused, e.IdempotencyInProgress)


def client_address(request: Request) -> str:
    """The client's address (uvicorn sets it from ``X-Forwarded-For`` only for FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


class _RegistrationFingerprint(BaseModel):
    # The password enters the idempotency record only as a keyed digest, as a seller owner's does:
    # a retry with another password is another body (422), never a replay of the first.
    country: str
    email: str
    phone: str
    password: str


class ResendAccepted(BaseModel):
    status: str = Field(examples=["pending_verification"])
    retry_after: int = Field(description="Seconds before another code may be asked for.", examples=[60])


@router.post(
    "/v1/registrations",
    status_code=201,
    response_model=RegistrationPublic,
    responses=error_responses(
        e.InvalidEmail, e.EmailNotAllowed, e.InvalidPhone, e.WeakPassword, e.RateLimited, *_IDEM
    ),
    openapi_extra=sends(201, "Location", extra=_PUBLIC),
)
def create_registration(
    request: Request, body: RegistrationCreate, idempotency_key: IdempotencyKey = None
) -> Response:
    """Start a registration: a 6-digit code goes to the email and another to the phone.

    Follow with `verify_registration` (both codes), then `complete_registration` (the terms), then
    the emailed activation link; `resend_registration_code` sends a fresh code on one channel.
    """
    db = db_of(request)
    fingerprint = _RegistrationFingerprint(
        country=body.country,
        email=body.email,
        phone=body.phone,
        password=token_digest(db.auth.keys.tokens, body.password),
    )
    return create_once(
        request,
        db,
        registrations.ANONYMOUS,
        idempotency_key,
        fingerprint,
        lambda session, r: registrations.register(
            session, db.settings, db.auth, body, client_address(request), r
        ),
        location="/v1/registrations/{id}",
    )


@router.get(
    "/v1/registrations/{registration_id}",
    response_model=RegistrationPublic,
    responses=error_responses(e.NotFound, validation=False),
    openapi_extra=_PUBLIC,
)
async def get_registration(registration_id: str, request: Request) -> Response:
    """How far a registration got (pending_verification, verified, completed)."""
    db = db_of(request)
    return json_response(await reads.registration(db.loop_reader, registration_id))


@router.post(
    "/v1/registrations/{registration_id}/verify",
    response_model=RegistrationVerified,
    responses=error_responses(e.NotFound, e.InvalidCode, e.RegistrationExpired),
    openapi_extra=_PUBLIC,
)
def verify_registration(registration_id: str, body: RegistrationVerify, request: Request) -> Response:
    """Confirm both codes (each channel's code works only for that channel)."""
    db = db_of(request)
    with db.session() as session:
        return json_response(registrations.verify(session, db.auth, registration_id, body))


@router.post(
    "/v1/registrations/{registration_id}/resend",
    status_code=202,
    response_model=ResendAccepted,
    responses=error_responses(e.NotFound, e.RegistrationExpired, e.RateLimited),
    openapi_extra=_PUBLIC,
)
def resend_registration_code(registration_id: str, body: RegistrationResend, request: Request) -> Response:
    """Send a new code on one channel (after a cooldown, within an hourly cap)."""
    db = db_of(request)
    with db.session() as session:
        result = registrations.resend(session, db.settings, db.auth, registration_id, body)
    return json_response(result, status=202)


@router.post(
    "/v1/registrations/{registration_id}/complete",
    status_code=201,
    response_model=AccountPublic,
    responses=error_responses(e.NotFound, e.TermsNotAccepted, e.NotVerified, e.RegistrationExpired, *_IDEM),
    openapi_extra=sends(201, "Location", extra=_PUBLIC),
)
def complete_registration(
    registration_id: str,
    request: Request,
    body: RegistrationComplete,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept the terms and create the account; an activation link is emailed."""
    db = db_of(request)
    return create_once(
        request,
        db,
        registrations.ANONYMOUS,
        idempotency_key,
        body,
        lambda session, r: registrations.complete(session, db.settings, db.auth, registration_id, body, r),
        location="/v1/me",
    )


@router.post(
    "/v1/accounts/activate",
    response_model=AccountPublic,
    responses=error_responses(e.InvalidCode),
    openapi_extra=_PUBLIC,
)
def activate_account(body: AccountActivate, request: Request) -> Response:
    """Activate the account with the token from the emailed link."""
    db = db_of(request)
    with db.session() as session:
        public = registrations.activate(session, db.auth, body)
    return json_response(public, version=public["version"])


@router.post(
    "/v1/auth/login",
    response_model=TokenPair,
    responses=error_responses(e.InvalidCredentials, e.AccountNotActive, e.IdentifierAmbiguous, e.RateLimited),
    openapi_extra=sends(200, "Cache-Control", extra=_PUBLIC),
)
async def login(request: Request, body: LoginRequest) -> Response:
    """Log in with an email, phone or member id and the password.

    Answers a short-lived access token and a one-use refresh token (`Cache-Control: no-store`).
    Repeated failures for one identifier or address are slowed down with 429 and `Retry-After`.
    """
    db = db_of(request)
    pair = await auth.login(db.loop_reader, db.session, db.auth, body, client_address(request))
    return json_response(pair, headers=NO_STORE)


@router.post(
    "/v1/auth/refresh",
    response_model=TokenPair,
    responses=error_responses(e.InvalidCredential),
    openapi_extra=sends(200, "Cache-Control", extra=_PUBLIC),
)
def refresh_tokens(body: RefreshRequest, request: Request) -> Response:
    """Trade a refresh token for a new pair (each refresh token works once)."""
    db = db_of(request)
    with db.session() as session:
        pair = auth.refresh(session, db.auth, body)
    return json_response(pair, headers=NO_STORE)


@router.post(
    "/v1/auth/logout",
    status_code=204,
    response_class=Response,
    responses=error_responses(e.InvalidCredential, e.Forbidden, validation=False),
)
def logout(caller: AccountCaller, request: Request) -> Response:
    """End this login's session (its access and refresh tokens stop working)."""
    db = db_of(request)
    assert caller.session_id is not None
    with db.session() as session:
        auth.revoke_session(session, caller.session_id, "logout")
    return Response(status_code=204)


@router.get(
    "/v1/me",
    response_model=AccountPublic,
    responses=error_responses(e.InvalidCredential, e.Forbidden, validation=False),
)
async def get_me(caller: AccountCaller, request: Request) -> Response:
    """The logged-in account."""
    db = db_of(request)
    public = await reads.account(db.loop_reader, caller.require_account())
    return json_response(public, version=public["version"])


# The activation link's landing page, for deployments whose PUBLIC_BASE_URL is this service: the token
# stays in the fragment (never sent to a server or a referrer) and is spent only by a click (a POST),
# so a mail scanner that follows links activates nothing.
_ACTIVATE_SCRIPT = """
document.getElementById("go").addEventListener("click", async () => {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const out = document.getElementById("out");
  const r = await fetch("/v1/accounts/activate", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})});
  out.textContent = r.ok ? "Your account is active: you can log in now."
    : "This link is not valid any more (used, expired or incomplete).";
});
"""
_ACTIVATE_PAGE = f"""<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Activate your account</title>
<h1>Activate your Chargeback Desk account</h1>
<p><button id="go" type="button">Activate my account</button></p>
<p id="out" role="status"></p>
<script>{_ACTIVATE_SCRIPT}</script>
</html>
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_ACTIVATE_SCRIPT.encode()).digest()).decode()
_PAGE_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/activate", response_class=HTMLResponse, include_in_schema=False)
async def activation_page() -> HTMLResponse:
    return HTMLResponse(_ACTIVATE_PAGE, headers=_PAGE_HEADERS)
