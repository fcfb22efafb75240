"""Reads of webhook endpoints and their delivery logs: prebuilt statements on the loop reader,
scoped by ``readable`` (as every read in ``reads``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, select

from app.core.config import Settings
from app.core.ids import has_prefix
from app.core.reads import AnySelect, LoopReader
from app.domain.errors import NotFound
from app.models.base import UTCDateTime
from app.models.webhook import WebhookDelivery, WebhookEndpoint
from app.security.credentials import Caller, Scoped
from app.services import views
from app.services.pagination import keyset, keyset_select, next_after, query_tag
from app.services.reads import read_all, read_one

_ENDPOINTS = WebhookEndpoint.__table__  # type: ignore[attr-defined]
_DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
_LIMIT: BindParameter[int] = bindparam("limit")
_AT = bindparam("at", type_=UTCDateTime())

_ENDPOINT = Scoped(select(_ENDPOINTS).where(_ENDPOINTS.c.id == bindparam("id")), _ENDPOINTS.c.seller_id)


def _endpoint_page(after: bool) -> Scoped:
    e = _ENDPOINTS.c
    q = keyset_select(select(_ENDPOINTS), e.id, e.created_at, e.updated_at, after=after, changes=False)
    return Scoped(q, e.seller_id)


_ENDPOINT_PAGES = {after: _endpoint_page(after) for after in (False, True)}


async def endpoint(reader: LoopReader, caller: Caller, endpoint_id: str) -> dict[str, Any]:
    row = (
        await read_one(reader, _ENDPOINT, caller, id=endpoint_id) if has_prefix(endpoint_id, "whe") else None
    )
    if row is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
    return views.webhook_endpoint(row)


async def endpoints(
    reader: LoopReader,
    settings: Settings,
    caller: Caller,
    seller_id: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The caller's endpoints (the platform's: every seller's, or ``seller_id``'s), newest first."""
    tag = query_tag("webhook_endpoints", seller_id)
    params = keyset(settings, tag, limit, cursor, None)
    if caller.kind == "platform" and seller_id is not None:
        caller = Caller(kind="seller", principal_id=seller_id, actor=caller.actor, seller_id=seller_id)
    rows = await read_all(reader, _ENDPOINT_PAGES[bool(cursor)], caller, **params)
    next_cursor = next_after(rows, limit, None, tag)
    return views.page([views.webhook_endpoint(r) for r in rows[:limit]], next_cursor)


def _delivery_page(status: bool, after: bool, changes: bool) -> AnySelect:
    d = _DELIVERIES.c
    q = select(_DELIVERIES).where(d.endpoint_id == bindparam("endpoint_id"))
    if status:
        q = q.where(d.status == bindparam("status"))
    return keyset_select(q, d.id, d.created_at, d.updated_at, after=after, changes=changes)


_DELIVERY_PAGES = {
    (s, a, c): _delivery_page(s, a, c) for s in (False, True) for a in (False, True) for c in (False, True)
}
_DELIVERY: AnySelect = select(_DELIVERIES).where(
    _DELIVERIES.c.id == bindparam("id"), _DELIVERIES.c.endpoint_id == bindparam("endpoint_id")
)


async def deliveries(
    reader: LoopReader,
    settings: Settings,
    caller: Caller,
    endpoint_id: str,
    status: str | None,
    limit: int,
    cursor: str | None,
    updated_since: datetime | None,
) -> dict[str, Any]:
    """An endpoint's delivery log, newest first (or oldest change first with ``updated_since``)."""
    tag = query_tag("webhook_deliveries", endpoint_id, status, updated_since)
    params = keyset(settings, tag, limit, cursor, updated_since)
    await endpoint(reader, caller, endpoint_id)  # 404 unless the endpoint is the caller's
    params |= {"endpoint_id": endpoint_id, "status": status}
    query = _DELIVERY_PAGES[status is not None, bool(cursor), updated_since is not None]
    rows = await reader.all(query, params)  # the endpoint is the caller's: so are these
    next_cursor = next_after(rows, limit, updated_since, tag)
    return views.page([views.webhook_delivery(r) for r in rows[:limit]], next_cursor)


async def delivery(reader: LoopReader, caller: Caller, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    await endpoint(reader, caller, endpoint_id)
    row = (
        await reader.one(_DELIVERY, {"id": delivery_id, "endpoint_id": endpoint_id})
        if has_prefix(delivery_id, "whd")
        else None
    )
    if row is None:
        raise NotFound(f"Delivery {delivery_id} does not exist on webhook endpoint {endpoint_id}.")
    return views.webhook_delivery(row)
