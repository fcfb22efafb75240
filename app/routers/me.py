"""The logged-in account's own things: bound payment accounts and the personal centre (orders with
their chargebacks, favourites, coupons)."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel, Field

from app.core.errors import error_responses
from app.dependencies import AccountCaller, ApiRouter, IdempotencyKey, db_of
from app.domain import errors as e
from app.models.buyer import (
    BuyerOrderPublic,
    CouponPublic,
    FavouriteCreate,
    FavouritePublic,
    PaymentAccountCreate,
    PaymentAccountPublic,
)
from app.routers.support import Cursor, Limit, UpdatedSince, create_once, json_response, sends
from app.services import account_settings, buyer, buyer_reads

router = ApiRouter(prefix="/v1/me", tags=["personal centre"])
_AUTH = (e.InvalidCredential, e.Forbidden)
_IDEM = (e.IdempotencyKeyReused, e.IdempotencyInProgress)
_NEXT = "Pass as `cursor` for the next page; null on the last page."


class _PaymentAccountFingerprint(BaseModel):
    # An idempotency record keeps an unkeyed hash of the body: a phone number's could be reversed by
    # trying every number, so the reference enters it only as its keyed digest.
    provider: str
    ref_digest: str


class PaymentAccountPage(BaseModel):
    data: list[PaymentAccountPublic]
    next_cursor: str | None = Field(description=_NEXT)


class BuyerOrderPage(BaseModel):
    data: list[BuyerOrderPublic]
    next_cursor: str | None = Field(description=_NEXT)


class FavouritePage(BaseModel):
    data: list[FavouritePublic]
    next_cursor: str | None = Field(description=_NEXT)


class CouponPage(BaseModel):
    data: list[CouponPublic]
    next_cursor: str | None = Field(description=_NEXT)


@router.post(
    "/payment-accounts",
    status_code=201,
    response_model=PaymentAccountPublic,
    responses=error_responses(
        *_AUTH,
        e.ReauthenticationRequired,
        e.WrongPassword,
        e.InvalidAccountRef,
        e.PaymentAccountTaken,
        e.RateLimited,
        *_IDEM,
    ),
    openapi_extra=sends(201, "Location"),
)
def bind_payment_account(
    request: Request,
    body: PaymentAccountCreate,
    caller: AccountCaller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Bind an Alipay account (an email or mainland mobile number) to this account."""
    db = db_of(request)
    account_id = caller.require_account()
    with db.session() as session:
        account_settings.confirm_identity(session, db.auth, caller, body)
    fingerprint = _PaymentAccountFingerprint(
        provider=body.provider, ref_digest=buyer.ref_digest(db.auth, body.account_ref)
    )
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        fingerprint,
        lambda session, r: buyer.bind_payment_account(session, db.auth, account_id, body, r),
        location="/v1/me/payment-accounts/{id}",
    )


@router.get(
    "/payment-accounts",
    response_model=PaymentAccountPage,
    responses=error_responses(*_AUTH, e.CursorMismatch),
)
async def list_payment_accounts(
    caller: AccountCaller,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """List this account's bound payment accounts, newest first."""
    db = db_of(request)
    want = buyer_reads.Page(limit, cursor, updated_since)
    page = await buyer_reads.payment_accounts(db.loop_reader, db.settings, caller.require_account(), want)
    return json_response(page)


@router.get(
    "/payment-accounts/{payment_account_id}",
    response_model=PaymentAccountPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_payment_account(payment_account_id: str, caller: AccountCaller, request: Request) -> Response:
    """Get one of this account's bound payment accounts (404 once unbound)."""
    db = db_of(request)
    found = await buyer_reads.payment_account(db.loop_reader, caller.require_account(), payment_account_id)
    return json_response(found)


@router.delete(
    "/payment-accounts/{payment_account_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def unbind_payment_account(payment_account_id: str, caller: AccountCaller, request: Request) -> Response:
    """Unbind a payment account (it may then be bound again, by any account)."""
    db = db_of(request)
    with db.session() as session:
        buyer.unbind_payment_account(session, caller.require_account(), payment_account_id)
    return Response(status_code=204)


@router.get("/orders", response_model=BuyerOrderPage, responses=error_responses(*_AUTH, e.CursorMismatch))
async def list_my_orders(
    caller: AccountCaller,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """List this account's orders, newest first, each with its chargebacks' status."""
    db = db_of(request)
    want = buyer_reads.Page(limit, cursor, updated_since)
    return json_response(
        await buyer_reads.orders(db.loop_reader, db.settings, caller.require_account(), want)
    )


@router.post(
    "/favourites",
    status_code=201,
    response_model=FavouritePublic,
    responses=error_responses(*_AUTH, e.FavouriteExists, *_IDEM),
    openapi_extra=sends(201, "Location"),
)
def add_favourite(
    request: Request,
    body: FavouriteCreate,
    caller: AccountCaller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a product to this account's favourites (a product already there is 409 `favourite_exists`)."""
    db = db_of(request)
    account_id = caller.require_account()
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: buyer.add_favourite(session, account_id, body, r),
        location="/v1/me/favourites/{id}",
    )


@router.get("/favourites", response_model=FavouritePage, responses=error_responses(*_AUTH, e.CursorMismatch))
async def list_favourites(
    caller: AccountCaller,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """List this account's favourite products, newest first."""
    db = db_of(request)
    want = buyer_reads.Page(limit, cursor, updated_since)
    page = await buyer_reads.favourites(db.loop_reader, db.settings, caller.require_account(), want)
    return json_response(page)


@router.get(
    "/favourites/{favourite_id}",
    response_model=FavouritePublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_favourite(favourite_id: str, caller: AccountCaller, request: Request) -> Response:
    """Get one of this account's favourite products."""
    db = db_of(request)
    return json_response(await buyer_reads.favourite(db.loop_reader, caller.require_account(), favourite_id))


@router.delete(
    "/favourites/{favourite_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def remove_favourite(favourite_id: str, caller: AccountCaller, request: Request) -> Response:
    """Remove a product from this account's favourites."""
    db = db_of(request)
    with db.session() as session:
        buyer.remove_favourite(session, caller.require_account(), favourite_id)
    return Response(status_code=204)


@router.get("/coupons", response_model=CouponPage, responses=error_responses(*_AUTH, e.CursorMismatch))
async def list_my_coupons(
    caller: AccountCaller,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """List this account's coupons still to use (unused, unexpired), the soonest to expire first."""
    db = db_of(request)
    want = buyer_reads.Page(limit, cursor, updated_since)
    return json_response(
        await buyer_reads.coupons(db.loop_reader, db.settings, caller.require_account(), want)
    )
