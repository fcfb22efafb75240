"""Orders and their fund details."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field

from app.core.errors import error_responses
from app.dependencies import ApiRouter, IdempotencyKey, PlatformCaller, QueryModel, SellerOrPlatform, db_of
from app.domain import errors as e
from app.models.order import OrderCreate, OrderPublic
from app.routers.support import ListQuery, create_once, json_response, sends
from app.services import orders, reads
from app.services.orders import ExternalRefTaken

router = ApiRouter(prefix="/v1/orders", tags=["orders"])
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
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an order (platform)."""
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: orders.create(session, body, r),
        location="/v1/orders/{id}",
    )


class OrderPage(BaseModel):
    data: list[OrderPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class OrderQuery(ListQuery):
    """The list's filters, validated as one model."""

    external_ref: str | None = Field(
        default=None,
        max_length=100,
        description="The order's id in your system.",
        examples=["SO-2026-000123"],
    )
    buyer_account_id: str | None = Field(default=None, max_length=40)


Filters = Annotated[OrderQuery, Depends(QueryModel(OrderQuery))]


@router.get("", response_model=OrderPage, responses=error_responses(*_AUTH, e.CursorMismatch))
async def list_orders(caller: SellerOrPlatform, request: Request, q: Filters) -> Response:
    """List orders with their fund details, newest first."""
    db = db_of(request)
    f = reads.OrderFilter(
        seller_id=q.seller_id,
        external_ref=q.external_ref,
        buyer_account_id=q.buyer_account_id,
        updated_since=q.updated_since,
    )
    return json_response(await reads.orders(db.loop_reader, db.settings, caller, f, q.limit, q.cursor))


@router.get(
    "/{order_id}", response_model=OrderPublic, responses=error_responses(*_AUTH, e.NotFound, validation=False)
)
async def get_order(order_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Get an order with its fund details."""
    db = db_of(request)
    order = await reads.order(db.loop_reader, caller, order_id)
    return json_response(order, version=order["version"])
