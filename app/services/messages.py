"""The seller's message centre."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.domain.errors import NotFound
from app.models.message import Message
from app.services import views


def mark_read(session: Session, seller_id: str, message_id: str) -> dict[str, Any]:
    begin_write(session)
    now = utcnow()  # after BEGIN: timestamps follow commit order (``updated_since``)
    message = session.get(Message, message_id)
    if message is None or message.seller_id != seller_id:
        raise NotFound(f"Message {message_id} does not exist.")
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.read_at).is_(None))
        .values(read_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(message)
    return views.message(message)
