"""The seller's message centre."""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.domain.errors import NotFound
from app.models.message import Message, MessagePublic
from app.services.pagination import decode_cursor, encode_cursor


def to_public(m: Message) -> MessagePublic:
    return MessagePublic(**m.model_dump(exclude={"seller_id"}), unread=m.read_at is None)


def list_for(
    session: Session, seller_id: str, unread: bool | None, limit: int, cursor: str | None
) -> tuple[list[MessagePublic], str | None]:
    q = select(Message).where(col(Message.seller_id) == seller_id)
    if unread is True:
        q = q.where(col(Message.read_at).is_(None))
    elif unread is False:
        q = q.where(col(Message.read_at).is_not(None))
    if cursor:
        at, last_id = decode_cursor(cursor)
        q = q.where(
            or_(col(Message.created_at) < at, and_(col(Message.created_at) == at, col(Message.id) < last_id))
        )
    rows = list(
        session.execute(
            q.order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(limit + 1)
        ).scalars()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
    return [to_public(m) for m in rows], next_cursor


def mark_read(session: Session, seller_id: str, message_id: str) -> MessagePublic:
    begin_write(session)
    message = session.get(Message, message_id)
    if message is None or message.seller_id != seller_id:
        raise NotFound(f"Message {message_id} does not exist.")
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.read_at).is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(message)
    return to_public(message)
