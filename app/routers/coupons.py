"""Coupons: the platform issues them to an account and marks them used; the account lists its own."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.errors import error_responses
from app.dependencies import ApiRoute, DbDep, IdempotencyKey, PlatformCaller
from app.domain import errors as e
from app.models.buyer import CouponCreate, CouponPublic
from app.routers.support import create_once, json_response
from app.services import buyer

router = APIRouter(prefix="/v1/coupons", tags=["coupons"], route_class=ApiRoute)
_AUTH = (e.InvalidCredential, e.Forbidden)


@router.post(
    "",
    status_code=201,
    response_model=CouponPublic,
    responses=error_responses(
        *_AUTH, e.NotFound, e.CouponCodeTaken, e.IdempotencyKeyReused, e.IdempotencyInProgress
    ),
)
def issue_coupon(
    request: Request,
    body: CouponCreate,
    caller: PlatformCaller,
    db: DbDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue a coupon to an account: an amount or a percentage off, until it expires."""
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: buyer.issue_coupon(session, body, r),
        location=None,
    )


@router.post(
    "/{coupon_id}/redeem",
    response_model=CouponPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.CouponNotRedeemable, validation=False),
)
def redeem_coupon(coupon_id: str, _platform: PlatformCaller, db: DbDep) -> Response:
    """Mark a coupon used (once, before it expires)."""
    with db.session() as session:
        return json_response(buyer.redeem_coupon(session, coupon_id))
