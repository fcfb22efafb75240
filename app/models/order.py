"""Orders and their fund details."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.base import InputModel, UTCDateTime
from app.models.common import AmountMinor, AwareTimestamp, Currency, SingleLine, UTCTimestamp

FundStatus = Literal["available", "frozen", "debited"]


class Order(SQLModel, table=True):
    __tablename__ = "order"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "frozen_amount_minor >= 0 AND debited_amount_minor >= 0 "
            "AND frozen_amount_minor + debited_amount_minor <= amount_minor",
            name="funds_within_amount",
        ),
        Index("uq_order_seller_external_ref", "seller_id", "external_ref", unique=True),
        Index("ix_order_seller_created", "seller_id", "created_at", "id"),
        Index("ix_order_buyer_created", "buyer_account_id", "created_at", "id"),
        Index("ix_order_seller_updated", "seller_id", "updated_at", "id"),
        Index("ix_order_buyer_updated", "buyer_account_id", "updated_at", "id"),
        # The platform's list across sellers.
        Index("ix_order_created", "created_at", "id"),
        Index("ix_order_updated", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    buyer_account_id: str | None = DbField(default=None, max_length=40)
    external_ref: str | None = DbField(default=None, max_length=100)
    amount_minor: int = DbField(sa_column=Column(BigInteger(), nullable=False))
    currency: str = DbField(max_length=3)
    description: str | None = DbField(default=None, max_length=500)
    shipping_address: str | None = DbField(default=None, max_length=500)
    placed_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    frozen_amount_minor: int = DbField(default=0, sa_column=Column(BigInteger(), nullable=False))
    debited_amount_minor: int = DbField(default=0, sa_column=Column(BigInteger(), nullable=False))
    version: int = DbField(default=1, sa_column=Column(Integer(), nullable=False))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class OrderCreate(InputModel):
    seller_id: str = Field(max_length=40, examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    buyer_account_id: str | None = Field(
        default=None, max_length=40, examples=["acct_01jd2x3y4z5a6b7c8d9e0f1g2h"]
    )
    external_ref: SingleLine | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The order number in the marketplace; unique per seller.",
        examples=["SO-2026-000123"],
    )
    amount_minor: AmountMinor
    currency: Currency
    description: str | None = Field(default=None, max_length=500, examples=["2 x ceramic teapot"])
    shipping_address: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Where the order was to be delivered; evidence naming another address is flagged.",
        examples=["Hauptstr. 5, 10115 Berlin, DE"],
    )
    placed_at: AwareTimestamp | None = Field(default=None, examples=["2026-11-20T08:15:00Z"])


class OrderPublic(SQLModel):
    id: str = Field(examples=["ord_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    seller_id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    buyer_account_id: str | None = None
    external_ref: str | None = Field(default=None, examples=["SO-2026-000123"])
    amount_minor: int = Field(examples=[12999])
    currency: str = Field(examples=["EUR"])
    description: str | None = None
    shipping_address: str | None = None
    placed_at: UTCTimestamp | None = None
    fund_status: FundStatus = Field(
        description="frozen while any chargeback holds funds; debited once funds were taken; else available.",
        examples=["frozen"],
    )
    frozen_amount_minor: int = Field(examples=[12999])
    debited_amount_minor: int = Field(examples=[0])
    available_amount_minor: int = Field(description="Amount neither frozen nor debited.", examples=[0])
    chargeback_ids: list[str] = Field(examples=[["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"]])
    version: int = Field(examples=[2])
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
