"""The seller's message centre."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.base import UTCDateTime
from app.models.common import UTCTimestamp


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_seller_created", "seller_id", "created_at", "id"),
        Index("ix_message_seller_unread", "seller_id", "read_at", "created_at", "id"),
        Index("ix_message_seller_updated", "seller_id", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    chargeback_id: str | None = DbField(
        default=None, sa_column=Column(String(40), ForeignKey("chargeback.id"), nullable=True)
    )
    kind: str = DbField(max_length=40)
    title: str = DbField(max_length=200)
    body: str = DbField(max_length=4000)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    read_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))  # created, or read


class MessagePublic(SQLModel):
    id: str = Field(examples=["msg_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    chargeback_id: str | None = Field(default=None, examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    kind: str = Field(examples=["chargeback_received"])
    title: str = Field(examples=["Chargeback on order SO-2026-000123: respond by 2 Dec 2026"])
    body: str = Field(
        examples=["A chargeback of 129.99 EUR (Visa 13.1) was received; respond by 2 Dec 2026."]
    )
    created_at: UTCTimestamp
    read_at: UTCTimestamp | None = None
    unread: bool = Field(examples=[True])
    updated_at: UTCTimestamp = Field(description="When it was created or last marked read (`updated_since`).")
