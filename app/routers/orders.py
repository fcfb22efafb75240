"""Orders and their fund details."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.errors import error_responses
from app.dependencies import Auth, DbDep, IdempotencyKey
from app.domain import errors as e
from app.models.order import OrderCreate, OrderPublic
from app.routers.support import json_response, operation_id, platform_create
from app.services import orders
from app.services.orders import ExternalRefTaken

router = APIRouter(prefix="/v1/orders", tags=["orders"], generate_unique_id_function=operation_id)
_AUTH = (e.InvalidCredential, e.Forbidden)


@router.post(
    "",
    status_code=201,
    response_model=OrderPublic,
    responses=error_responses(
        *_AUTH, e.NotFound, ExternalRefTaken, e.IdempotencyKeyReused, e.IdempotencyInProgress
    ),
)
def create_order(
    request: Request, body: OrderCreate, db: DbDep, auth: Auth, idempotency_key: IdempotencyKey = None
) -> Response:
    """Create an order (platform)."""
    return platform_create(
        request, db, auth, idempotency_key, body, lambda session, _caller, r: orders.create(session, body, r)
    )


@router.get(
    "/{order_id}", response_model=OrderPublic, responses=error_responses(*_AUTH, e.NotFound, validation=False)
)
def get_order(order_id: str, db: DbDep, auth: Auth) -> Response:
    """Get an order with its fund details."""
    with db.reader() as session:
        order = orders.get_for(session, auth.seller_or_platform(session), order_id)
        return json_response(orders.to_public(session, order), version=order.version)
