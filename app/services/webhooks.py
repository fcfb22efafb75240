"""A seller's webhook endpoints: create (the secret shown once), delete, rotate the secret, enable,
and replay a delivery. Deliveries themselves: ``webhook_delivery``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import has_prefix, new_id
from app.domain.errors import (
    FieldProblem,
    InvalidInput,
    NotFound,
    UnknownEventType,
    WebhookEndpointDisabled,
    WebhookEndpointLimit,
    WebhookUrlNotAllowed,
    WebhookUrlUnresolvable,
)
from app.domain.webhooks import (
    EVENT_TYPES,
    MAX_ENDPOINTS_PER_SELLER,
    ROTATION_OVERLAP,
    unknown_event_types,
    url_problems,
)
from app.models.seller import Seller
from app.models.webhook import WebhookDelivery, WebhookEndpoint, WebhookEndpointCreate
from app.notify import webhooks as send
from app.security.credentials import Caller
from app.security.tokens import derive_key
from app.services import views
from app.services.idempotency import Reservation


def master_key(settings: Settings) -> bytes:
    """The key every endpoint's signing secret is derived from (its own use of ``SECRET_KEY``)."""
    if settings.secret_key is None:
        raise ValueError("SECRET_KEY is required")
    return derive_key(settings.secret_key.get_secret_value(), "webhook-signing")


def check_url(url: str, settings: Settings) -> None:
    """Refuse a URL by its text, then by every address its host resolves to (blocking DNS: this
    runs in the request's worker thread, never on the event loop)."""
    problems = url_problems(url, settings.webhook_allow_private_urls)
    if problems:
        raise WebhookUrlNotAllowed(
            f"The webhook URL {'; '.join(problems)}.",
            errors=[FieldProblem("url", problem) for problem in problems],
        )
    try:
        send.resolve(url, settings.webhook_allow_private_urls)
    except send.DestinationRefused as exc:
        raise WebhookUrlNotAllowed(
            f"{exc}: webhooks only go to public addresses.", errors=[FieldProblem("url", str(exc))]
        ) from None
    except send.DestinationUnresolvable as exc:
        raise WebhookUrlUnresolvable(
            str(exc).capitalize() + ".", errors=[FieldProblem("url", str(exc))]
        ) from None


def _owner(session: Session, caller: Caller, named: str | None) -> str:
    """The seller a new endpoint belongs to: the caller's own, or the one the platform names."""
    if caller.kind == "platform":
        if named is None:
            raise InvalidInput(
                "With the platform key, name the seller the endpoint is for.",
                errors=[FieldProblem("seller_id", "required with the platform key")],
            )
        if session.get(Seller, named) is None:
            raise NotFound(f"Seller {named} does not exist.")
        return named
    own = caller.require_seller()
    if named is not None and named != own:
        raise NotFound(f"Seller {named} does not exist.")
    return own


def create_endpoint(
    session: Session,
    settings: Settings,
    caller: Caller,
    data: WebhookEndpointCreate,
    reservation: Reservation | None = None,
) -> dict[str, Any]:
    """A new endpoint, enabled; its secret is in this response only (a replay shows ``null``)."""
    unknown = unknown_event_types(data.events)
    if unknown:
        raise UnknownEventType(
            f"Unknown event type: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.",
            errors=[FieldProblem("events", f"unknown event type {name}") for name in unknown],
        )
    check_url(data.url, settings)  # before the transaction: no write lock is held during DNS
    begin_write(session)
    seller_id = _owner(session, caller, data.seller_id)
    count = session.execute(
        select(func.count()).where(col(WebhookEndpoint.seller_id) == seller_id)
    ).scalar_one()
    if count >= MAX_ENDPOINTS_PER_SELLER:
        raise WebhookEndpointLimit(
            f"A seller may have {MAX_ENDPOINTS_PER_SELLER} webhook endpoints; delete one first."
        )
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        seller_id=seller_id,
        url=data.url,
        events=data.events,
        secret_salt=send.new_salt(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    public = views.webhook_endpoint(endpoint)
    if reservation is not None:
        reservation.complete(session, 201, views.json_text(public | {"secret": None}))
    session.commit()
    return public | {"secret": send.secret_text(master_key(settings), endpoint.secret_salt)}


def _endpoint(session: Session, caller: Caller, endpoint_id: str, lock: bool = False) -> WebhookEndpoint:
    endpoint = (
        session.get(WebhookEndpoint, endpoint_id, with_for_update=lock)
        if has_prefix(endpoint_id, "whe")
        else None
    )
    if endpoint is None or not caller.may_see(endpoint.seller_id):
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
    return endpoint


def delete_endpoint(session: Session, caller: Caller, endpoint_id: str) -> None:
    """Remove the endpoint and its delivery log; nothing more is sent to it."""
    begin_write(session)
    endpoint = _endpoint(session, caller, endpoint_id, lock=True)
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id))
    session.delete(endpoint)
    session.commit()


def rotate_secret(
    session: Session,
    settings: Settings,
    caller: Caller,
    endpoint_id: str,
    reservation: Reservation | None = None,
) -> dict[str, Any]:
    """A new secret (shown once); the current one keeps signing beside it for ``ROTATION_OVERLAP``."""
    begin_write(session)
    endpoint = _endpoint(session, caller, endpoint_id, lock=True)
    now = utcnow()
    endpoint.previous_secret_salt = endpoint.secret_salt
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret_salt = send.new_salt()
    endpoint.updated_at = now
    public = views.webhook_endpoint(endpoint)
    if reservation is not None:
        reservation.complete(session, 200, views.json_text(public | {"secret": None}))
    session.commit()
    return public | {"secret": send.secret_text(master_key(settings), endpoint.secret_salt)}


def enable(session: Session, settings: Settings, caller: Caller, endpoint_id: str) -> dict[str, Any]:
    """Send to a disabled endpoint again (after its URL is checked again); events from now on."""
    endpoint = _endpoint(session, caller, endpoint_id)
    url = endpoint.url
    session.rollback()
    check_url(url, settings)
    begin_write(session)
    endpoint = _endpoint(session, caller, endpoint_id, lock=True)
    if endpoint.status != "enabled":
        now = utcnow()
        endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = "enabled", None, None
        endpoint.updated_at = now
    public = views.webhook_endpoint(endpoint)
    session.commit()
    return public


def replay(
    session: Session,
    caller: Caller,
    endpoint_id: str,
    delivery_id: str,
    reservation: Reservation | None = None,
) -> dict[str, Any]:
    """Queue a delivery's event again for its endpoint: a new delivery, same ``webhook-id`` and body."""
    begin_write(session)
    endpoint = _endpoint(session, caller, endpoint_id)
    original = session.get(WebhookDelivery, delivery_id) if has_prefix(delivery_id, "whd") else None
    if original is None or original.endpoint_id != endpoint.id:
        raise NotFound(f"Delivery {delivery_id} does not exist on webhook endpoint {endpoint_id}.")
    if endpoint.status != "enabled":
        raise WebhookEndpointDisabled(
            f"Webhook endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); enable it first."
        )
    now = utcnow()
    delivery = new_delivery(
        endpoint, original.event_id, original.event_type, original.payload, now, replay_of=original.id
    )
    row = WebhookDelivery(**delivery)
    session.add(row)
    public = views.webhook_delivery(row)
    if reservation is not None:
        reservation.complete(session, 202, views.json_text(public))
    session.commit()
    return public


def new_delivery(
    endpoint: Any, event_id: str, event_type: str, payload: str, now: datetime, replay_of: str | None = None
) -> dict[str, Any]:
    """A delivery row, due at once."""
    return {
        "id": new_id("whd"),
        "endpoint_id": endpoint.id,
        "seller_id": endpoint.seller_id,
        "event_id": event_id,
        "event_type": event_type,
        "payload": payload,
        "replay_of": replay_of,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "locked_until": None,
        "last_attempt_at": None,
        "response_status": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }


def disable(session: Session, endpoint_id: str, reason: str, now: datetime) -> bool:
    """Disable an endpoint and fail its pending deliveries (no commit); False if it was not enabled."""
    changed = session.execute(
        update(WebhookEndpoint)
        .where(col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.status) == "enabled")
        .values(status="disabled", disabled_reason=reason[:300], disabled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        return False
    session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == endpoint_id, col(WebhookDelivery.status) == "pending")
        .values(
            status="failed",
            next_attempt_at=None,
            last_error="not sent: the endpoint was disabled",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return True
