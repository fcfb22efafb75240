"""Stored results of creating requests sent with an ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, Text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.base import UTCDateTime


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (Index("ix_idempotency_record_expires", "expires_at"),)

    caller_id: str = DbField(primary_key=True, max_length=60)
    key: str = DbField(primary_key=True, max_length=255)
    fingerprint: str = DbField(max_length=64)  # sha256 of method, path and body
    state: str = DbField(max_length=16)  # in_progress | done
    response_status: int | None = DbField(default=None, sa_column=Column(Integer(), nullable=True))
    response_body: str | None = DbField(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
