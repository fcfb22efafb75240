"""The per-case audit trail: who changed what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.core.ids import new_id
from app.models.chargeback import CaseEvent, Chargeback


def event_row(
    chargeback_id: str, seller_id: str, type_: str, actor: str, now: datetime, changes: dict[str, Any]
) -> dict[str, Any]:
    """An event of a case's trail as a row: what ``record`` adds, for a Core insert instead."""
    return {
        "id": new_id("evt"),
        "chargeback_id": chargeback_id,
        "seller_id": seller_id,
        "type": type_,
        "actor": actor,
        "occurred_at": now,
        "changes": changes,
    }


def record(
    session: Session, case: Chargeback, type_: str, actor: str, now: datetime, changes: dict[str, Any]
) -> CaseEvent:
    """Add an event to the case's trail in the caller's transaction."""
    event = CaseEvent(**event_row(case.id, case.seller_id, type_, actor, now, changes))
    session.add(event)
    return event
