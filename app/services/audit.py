"""The per-case audit trail: who changed what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.core.ids import new_id
from app.models.chargeback import CaseEvent, Chargeback


def record(
    session: Session, case: Chargeback, type_: str, actor: str, now: datetime, changes: dict[str, Any]
) -> CaseEvent:
    """Add an event to the case's trail in the caller's transaction."""
    event = CaseEvent(
        id=new_id("evt"),
        chargeback_id=case.id,
        seller_id=case.seller_id,
        type=type_,
        actor=actor,
        occurred_at=now,
        changes=changes,
    )
    session.add(event)
    return event
