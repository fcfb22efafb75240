"""Writing to the outbox. Producers call these inside their own transaction; the dispatcher delivers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.core.ids import new_id
from app.models.outbox import OutboxMessage


def row(
    *,
    channel: str,
    recipient: str,
    body: str,
    now: datetime,
    subject: str | None = None,
    headers: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """One message to queue as a row: what ``enqueue`` adds, for a Core insert instead."""
    return {
        "id": new_id("obx"),
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "headers": headers or {},
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "locked_until": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    body: str,
    now: datetime,
    subject: str | None = None,
    headers: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue one message; with a ``dedupe_key`` already queued, queue nothing and return None."""
    if dedupe_key is not None:
        exists = session.execute(
            select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == dedupe_key)
        ).first()
        if exists is not None:
            return None
    message = OutboxMessage(
        **row(
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            headers=headers,
            dedupe_key=dedupe_key,
            now=now,
        )
    )
    session.add(message)
    return message
