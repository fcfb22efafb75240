"""``Annotated`` dependency aliases shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel import Session

from app.core.config import Settings
from app.domain.errors import FieldProblem, Forbidden, InvalidInput
from app.security.credentials import Caller, resolve


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    # Services commit; this only guarantees the session (and its connection) is given back.
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_caller(request: Request, session: SessionDep, settings: SettingsDep) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    platform_key = settings.platform_api_key.get_secret_value() if settings.platform_api_key else None
    return resolve(session, token.strip() if scheme.lower() == "bearer" else None, platform_key)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_platform(caller: CallerDep) -> Caller:
    caller.require_platform()
    return caller


def get_seller_or_platform(caller: CallerDep) -> Caller:
    if caller.kind not in ("seller", "platform"):
        raise Forbidden("This operation needs a seller credential or the platform key.")
    return caller


def get_seller(caller: CallerDep) -> Caller:
    caller.require_seller()
    return caller


PlatformCaller = Annotated[Caller, Depends(get_platform)]
SellerOrPlatform = Annotated[Caller, Depends(get_seller_or_platform)]
SellerCaller = Annotated[Caller, Depends(get_seller)]


def get_if_match(
    if_match: Annotated[
        str | None,
        Header(
            description='The `ETag` you last saw (e.g. `"3"`); the write is refused with 412 if the '
            "resource has changed since.",
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 12:
        raise InvalidInput(
            "If-Match must be an ETag returned by this API.", errors=[FieldProblem("If-Match", "invalid")]
        )
    return int(value)


IfMatch = Annotated[int | None, Depends(get_if_match)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes retries safe: a repeat with the same key and body returns the first response.",
        examples=["erp-7f3c2a10-notice-000123"],
    ),
]
