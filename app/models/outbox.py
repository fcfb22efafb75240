"""The transactional outbox: every email, SMS and webhook to deliver, written with the state change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, Text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.base import UTCDateTime


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: str = DbField(primary_key=True, max_length=40)
    channel: str = DbField(max_length=16)  # email | sms | webhook
    recipient: str = DbField(max_length=500)
    subject: str | None = DbField(default=None, max_length=300)
    body: str = DbField(sa_column=Column(Text(), nullable=False))
    headers: dict[str, Any] = DbField(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    # Makes a message happen once (e.g. one reminder per case) even if the producer runs twice.
    dedupe_key: str | None = DbField(default=None, max_length=200, unique=True)
    status: str = DbField(default="pending", max_length=16)  # pending | sent | failed | held (channel off)
    attempts: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    next_attempt_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    locked_until: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_error: str | None = DbField(default=None, max_length=1000)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
