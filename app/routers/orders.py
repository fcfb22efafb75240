"""Orders and their fund details."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.errors import error_responses
from app.dependencies import ApiRoute, DbDep, IdempotencyKey, PlatformCaller, SellerOrPlatform
from app.domain import errors as e
from app.models.order import OrderCreate, OrderPublic
from app.routers.support import create_once, json_response, sends
from app.services import orders, reads
from app.services.orders import ExternalRefTaken

router = APIRouter(prefix="/v1/orders", tags=["orders"], route_class=ApiRoute)
_AUTH = (e.InvalidCredential, e.Forbidden)


@router.post(
    "",
    status_code=201,
    response_model=OrderPublic,
    responses=error_responses(
        *_AUTH, e.NotFound, ExternalRefTaken, e.IdempotencyKeyReused, e.IdempotencyInProgress
    ),
    openapi_extra=sends(201, "Location"),
)
def create_order(
    request: Request,
    caller: PlatformCaller,
    body: OrderCreate,
    db: DbDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an order (platform)."""
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: orders.create(session, body, r),
        location="/v1/orders/{id}",
    )


@router.get(
    "/{order_id}", response_model=OrderPublic, responses=error_responses(*_AUTH, e.NotFound, validation=False)
)
async def get_order(order_id: str, caller: SellerOrPlatform, db: DbDep) -> Response:
    """Get an order with its fund details."""
    order = await reads.order(db.loop_reader, caller, order_id)
    return json_response(order, version=order["version"])
