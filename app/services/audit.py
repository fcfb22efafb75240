"""The per-case audit trail: who changed what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlmodel import Session, col

from app.core.ids import new_id
from app.domain.webhooks import event_type
from app.models.chargeback import CaseEvent, Chargeback
from app.models.webhook import WebhookEndpoint


def has_endpoints(seller_id: Any) -> ColumnElement[bool]:
    """Whether the seller (an id or a column) has an enabled webhook endpoint, as an expression."""
    return exists().where(
        col(WebhookEndpoint.seller_id) == seller_id, col(WebhookEndpoint.status) == "enabled"
    )


def event_row(
    chargeback_id: str,
    seller_id: str,
    type_: str,
    actor: str,
    now: datetime,
    changes: dict[str, Any],
    webhooks: bool = False,
) -> dict[str, Any]:
    """An event of a case's trail as a row: what ``record`` adds, for a Core insert instead.

    ``webhooks``: the seller has an endpoint, so the row also waits in the webhook outbox (the
    dispatcher fans it out), committed or rolled back with the change itself.
    """
    return {
        "id": new_id("evt"),
        "chargeback_id": chargeback_id,
        "seller_id": seller_id,
        "type": type_,
        "actor": actor,
        "occurred_at": now,
        "changes": changes,
        "webhook_pending": True if webhooks and event_type(type_) is not None else None,
    }


def record(
    session: Session, case: Chargeback, type_: str, actor: str, now: datetime, changes: dict[str, Any]
) -> CaseEvent:
    """Add an event to the case's trail in the caller's transaction."""
    webhooks = event_type(type_) is not None and bool(
        session.execute(select(has_endpoints(case.seller_id))).scalar()
    )
    event = CaseEvent(**event_row(case.id, case.seller_id, type_, actor, now, changes, webhooks))
    session.add(event)
    return event
