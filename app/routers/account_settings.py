"""Password recovery, and the logged-in account's own settings and deactivation."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.background import BackgroundTask

from app.core.errors import error_responses
from app.dependencies import AccountCaller, ApiRouter, IfMatch, db_of
from app.domain import errors as e
from app.models.account import (
    Accepted,
    AccountPublic,
    AccountUpdate,
    CodeConfirm,
    Deactivate,
    EmailChange,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    PhoneChange,
    VerificationCodeRequest,
)
from app.routers.accounts import client_address
from app.routers.support import json_response
from app.services import account_settings, recovery

router = ApiRouter(tags=["accounts"])
_PUBLIC: dict[str, Any] = {"security": []}
_AUTH = (e.InvalidCredential, e.Forbidden)
# A login more than 5 minutes old needs the current password with the change.
_REAUTH = (e.ReauthenticationRequired, e.WrongPassword, e.RateLimited)


@router.post(
    "/v1/auth/password-reset",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(e.RateLimited),
    openapi_extra=_PUBLIC,
)
def request_password_reset(request: Request, body: PasswordResetRequest) -> Response:
    """Send a reset code to the account's email or phone (202 for any identifier).

    The answer goes before the accounts are looked up and the codes queued, so neither its body nor
    its timing tells whether the identifier has an account.
    """
    db = db_of(request)
    kind, value = recovery.limit_reset(db.auth, body.identifier, client_address(request))
    send = BackgroundTask(recovery.send_reset, db.session, db.settings, db.auth, kind, value, body.channel)
    return json_response({"status": "accepted"}, status=202, background=send)


@router.post(
    "/v1/auth/password-reset/confirm",
    response_model=Accepted,
    responses=error_responses(e.InvalidCode, e.WeakPassword, e.RateLimited),
    openapi_extra=_PUBLIC,
)
def confirm_password_reset(request: Request, body: PasswordResetConfirm) -> Response:
    """Set a new password with the reset code; every session of the account ends."""
    db = db_of(request)
    with db.session() as session:
        result = recovery.confirm_reset(
            session,
            db.settings,
            db.auth,
            body.identifier,
            body.code,
            body.new_password,
            client_address(request),
        )
    return json_response(result)


@router.patch(
    "/v1/me",
    response_model=AccountPublic,
    responses=error_responses(*_AUTH, *_REAUTH, e.PreconditionFailed),
)
def update_me(body: AccountUpdate, caller: AccountCaller, request: Request, if_match: IfMatch) -> Response:
    """Change the account's profile (username)."""
    db = db_of(request)
    with db.session() as session:
        account_settings.confirm_identity(session, db.auth, caller, body)
        public = account_settings.update_profile(session, caller.require_account(), body, if_match)
    return json_response(public, version=public["version"])


@router.post(
    "/v1/me/email-change",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(*_AUTH, *_REAUTH, e.InvalidEmail, e.EmailNotAllowed),
)
def start_email_change(body: EmailChange, caller: AccountCaller, request: Request) -> Response:
    """Send a code to the new email; the old one is told. Nothing changes until it is confirmed."""
    db = db_of(request)
    with db.session() as session:
        account_settings.confirm_identity(session, db.auth, caller, body)
        result = account_settings.start_change(session, db.settings, db.auth, caller.require_account(), body)
    return json_response(result, status=202)


@router.post(
    "/v1/me/email-change/confirm",
    response_model=AccountPublic,
    responses=error_responses(*_AUTH, e.InvalidCode),
)
def confirm_email_change(body: CodeConfirm, caller: AccountCaller, request: Request) -> Response:
    """Confirm the new email with its code."""
    db = db_of(request)
    with db.session() as session:
        account_id = caller.require_account()
        public = account_settings.confirm_change(
            session, db.settings, db.auth, account_id, "email_change", body
        )
    return json_response(public, version=public["version"])


@router.post(
    "/v1/me/phone-change",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(*_AUTH, *_REAUTH, e.InvalidPhone),
)
def start_phone_change(body: PhoneChange, caller: AccountCaller, request: Request) -> Response:
    """Send a code to the new phone; the account is told. Nothing changes until it is confirmed."""
    db = db_of(request)
    with db.session() as session:
        account_settings.confirm_identity(session, db.auth, caller, body)
        result = account_settings.start_change(session, db.settings, db.auth, caller.require_account(), body)
    return json_response(result, status=202)


@router.post(
    "/v1/me/phone-change/confirm",
    response_model=AccountPublic,
    responses=error_responses(*_AUTH, e.InvalidCode),
)
def confirm_phone_change(body: CodeConfirm, caller: AccountCaller, request: Request) -> Response:
    """Confirm the new phone with its code."""
    db = db_of(request)
    with db.session() as session:
        account_id = caller.require_account()
        public = account_settings.confirm_change(
            session, db.settings, db.auth, account_id, "phone_change", body
        )
    return json_response(public, version=public["version"])


@router.post(
    "/v1/me/password",
    response_model=Accepted,
    responses=error_responses(*_AUTH, e.WrongPassword, e.WeakPassword),
)
def change_password(body: PasswordChange, caller: AccountCaller, request: Request) -> Response:
    """Change the password (the current one is needed); other sessions end."""
    db = db_of(request)
    with db.session() as session:
        result = account_settings.change_password(
            session, db.settings, db.auth, caller.require_account(), caller.session_id, body
        )
    return json_response(result)


@router.post(
    "/v1/me/verification-codes",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(*_AUTH, e.RateLimited),
)
def send_verification_code(
    body: VerificationCodeRequest, caller: AccountCaller, request: Request
) -> Response:
    """Send a code that confirms a sensitive action (deactivation) to the email or phone."""
    db = db_of(request)
    with db.session() as session:
        result = account_settings.send_verification_code(
            session, db.settings, db.auth, caller.require_account(), body
        )
    return json_response(result, status=202)


@router.post(
    "/v1/me/deactivate",
    response_model=AccountPublic,
    responses=error_responses(*_AUTH, e.InvalidCode),
)
def deactivate_me(body: Deactivate, caller: AccountCaller, request: Request) -> Response:
    """Deactivate the account with a reason and a fresh code; every session ends."""
    db = db_of(request)
    with db.session() as session:
        public = account_settings.deactivate(session, db.settings, db.auth, caller.require_account(), body)
    return json_response(public, version=public["version"])
