"""Coupons: the platform issues them to an account and marks them used; the account lists its own."""

from __future__ import annotations

from fastapi import Request, Response

from app.core.errors import error_responses
from app.dependencies import ApiRouter, IdempotencyKey, PlatformCaller, db_of
from app.domain import errors as e
from app.models.buyer import CouponCreate, CouponPublic
from app.routers.support import create_once, json_response, sends
from app.services import buyer, buyer_reads

router = ApiRouter(prefix="/v1/coupons", tags=["coupons"])
_AUTH = (e.InvalidCredential, e.Forbidden)


@router.post(
    "",
    status_code=201,
    response_model=CouponPublic,
    responses=error_responses(
        *_AUTH, e.NotFound, e.CouponCodeTaken, e.IdempotencyKeyReused, e.IdempotencyInProgress
    ),
    openapi_extra=sends(201, "Location"),
)
def issue_coupon(
    request: Request,
    body: CouponCreate,
    caller: PlatformCaller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue a coupon to an account: an amount or a percentage off, until it expires."""
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: buyer.issue_coupon(session, body, r),
        location="/v1/coupons/{id}",
    )


@router.get(
    "/{coupon_id}",
    response_model=CouponPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_coupon(coupon_id: str, _platform: PlatformCaller, request: Request) -> Response:
    """Get a coupon the platform issued, used or not.

    The account it was issued to sees it in `GET /v1/me/coupons` while it is still valid; this is the
    platform's view of any coupon, including used and expired ones.
    """
    db = db_of(request)
    return json_response(await buyer_reads.coupon(db.loop_reader, coupon_id))


@router.post(
    "/{coupon_id}/redeem",
    response_model=CouponPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.CouponNotRedeemable, validation=False),
)
def redeem_coupon(coupon_id: str, _platform: PlatformCaller, request: Request) -> Response:
    """Mark a coupon used (once, before it expires)."""
    db = db_of(request)
    with db.session() as session:
        return json_response(buyer.redeem_coupon(session, coupon_id))
