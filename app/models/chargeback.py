"""Chargeback cases and their audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.domain.case_states import CaseStatus
from app.domain.reasons import ReasonCategory
from app.models.base import InputModel, UTCDateTime
from app.models.common import AmountMinor, AwareTimestamp, Currency, UTCTimestamp

_WEBHOOK_PENDING = text("webhook_pending IS NOT NULL")
# Always true (a CHECK constraint), and named only by the platform's lists across sellers: a seller's
# list cannot prove it, so the planner keeps a seller to its own indexes rather than walk everyone's.
ACROSS_SELLERS = text("amount_minor > 0")


class Chargeback(SQLModel, table=True):
    __tablename__ = "chargeback"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        # A bank reference names one dispute; a second notice with it is a duplicate, not a new case.
        Index("uq_chargeback_order_bank_reference", "order_id", "bank_reference", unique=True),
        # One index per filter, each ending in the keyset sort (created_at, id). The unfiltered one
        # carries respond_by too, so `respond_by_before` skips not-yet-due cases inside the index.
        Index("ix_chargeback_seller_created", "seller_id", "created_at", "id", "respond_by"),
        Index("ix_chargeback_seller_status_created", "seller_id", "status", "created_at", "id"),
        Index("ix_chargeback_seller_category_created", "seller_id", "reason_category", "created_at", "id"),
        Index("ix_chargeback_seller_order_created", "seller_id", "order_id", "created_at", "id"),
        Index("ix_chargeback_seller_respond_by", "seller_id", "respond_by", "id"),  # sort=respond_by
        Index("ix_chargeback_seller_updated", "seller_id", "updated_at", "id"),
        # The platform's lists across sellers, in each of their orders.
        Index(
            "ix_chargeback_created",
            "created_at",
            "id",
            sqlite_where=ACROSS_SELLERS,
            postgresql_where=ACROSS_SELLERS,
        ),
        Index(
            "ix_chargeback_respond_by",
            "respond_by",
            "id",
            sqlite_where=ACROSS_SELLERS,
            postgresql_where=ACROSS_SELLERS,
        ),
        Index(
            "ix_chargeback_updated",
            "updated_at",
            "id",
            sqlite_where=ACROSS_SELLERS,
            postgresql_where=ACROSS_SELLERS,
        ),
        Index("ix_chargeback_status_respond_by", "status", "respond_by"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    order_id: str = DbField(sa_column=Column(String(40), ForeignKey("order.id"), nullable=False))
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    reason_code: str = DbField(max_length=64)
    network: str | None = DbField(default=None, max_length=20)
    reason_category: str = DbField(max_length=32)
    reason_title: str = DbField(max_length=200)
    amount_minor: int = DbField(sa_column=Column(BigInteger(), nullable=False))
    currency: str = DbField(max_length=3)
    bank_reference: str = DbField(max_length=64)
    status: str = DbField(max_length=20)
    received_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    respond_by: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    provider_due_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    appeal_id: str | None = DbField(default=None, max_length=40)
    reminded_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    ruling_note: str | None = DbField(default=None, max_length=2000)
    version: int = DbField(default=1, sa_column=Column(Integer(), nullable=False))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class ChargebackCreate(InputModel):
    order_id: str = Field(max_length=40, examples=["ord_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    reason_code: str = Field(
        min_length=1,
        max_length=64,
        description="A card-network reason code (Visa `13.1`, Mastercard `4853`, Amex `C08`), a Stripe or "
        "PayPal reason name, or one of our categories. Unknown codes are kept and filed under `general`.",
        examples=["13.1"],
    )
    amount_minor: AmountMinor
    currency: Currency
    bank_reference: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[\x21-\x7E]+$",
        description="The issuer's or acquirer's reference for this dispute (e.g. the ARN).",
        examples=["74537606258000012345678"],
    )
    network: Literal["visa", "mastercard", "amex", "discover", "stripe", "paypal"] | None = Field(
        default=None,
        description="Disambiguates the reason code; inferred from its form when omitted.",
        examples=["visa"],
    )
    received_at: AwareTimestamp | None = Field(
        default=None,
        description="When the notice arrived; defaults to now; may not lie in the future.",
        examples=["2026-11-27T09:30:00Z"],
    )
    provider_due_at: AwareTimestamp | None = Field(
        default=None,
        description="The payment provider's own deadline; `respond_by` is the earlier one.",
        examples=["2026-12-04T15:59:59Z"],
    )


class BulkNotice(ChargebackCreate):
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Replays this item like a single request with this `Idempotency-Key`.",
    )


class BulkChargebackCreate(InputModel):
    notices: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=500,
        description="Up to 500 notice bodies (each as for `POST /v1/chargebacks`, plus an optional "
        "`idempotency_key`). Each is validated and processed on its own.",
    )


class ChargebackPublic(SQLModel):
    id: str = Field(examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    order_id: str = Field(examples=["ord_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    seller_id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    reason_code: str = Field(examples=["13.1"])
    network: str | None = Field(default=None, examples=["visa"])
    reason_category: ReasonCategory = Field(examples=["not_received"])
    reason_title: str = Field(examples=["Merchandise/Services Not Received"])
    amount_minor: int = Field(examples=[12999])
    currency: str = Field(examples=["EUR"])
    bank_reference: str = Field(examples=["74537606258000012345678"])
    status: CaseStatus = Field(examples=["needs_response"])
    received_at: UTCTimestamp
    respond_by: UTCTimestamp = Field(description="End of the last working day to appeal, in UTC.")
    respond_by_local: str = Field(
        description="`respond_by` in the business time zone (RFC 3339 with offset).",
        examples=["2026-12-02T23:59:59.999999+08:00"],
    )
    business_timezone: str = Field(examples=["Asia/Shanghai"])
    working_days_left: int = Field(description="Working days left to appeal, today included.", examples=[3])
    provider_due_at: UTCTimestamp | None = None
    appeal_id: str | None = None
    closed_at: UTCTimestamp | None = None
    ruling_note: str | None = None
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
    version: int = Field(examples=[1])


class RulingCreate(InputModel):
    outcome: Literal["won", "lost"] = Field(
        description="The bank's decision for the seller.", examples=["won"]
    )
    note: str | None = Field(default=None, max_length=2000, examples=["Issuer accepted proof of delivery."])


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (
        Index("ix_case_event_chargeback_occurred", "chargeback_id", "occurred_at", "id"),
        # The webhook outbox: events still to fan out to the seller's endpoints (few at any time).
        Index(
            "ix_case_event_webhook_pending",
            "occurred_at",
            sqlite_where=_WEBHOOK_PENDING,
            postgresql_where=_WEBHOOK_PENDING,
        ),
    )

    id: str = DbField(primary_key=True, max_length=40)
    chargeback_id: str = DbField(sa_column=Column(String(40), ForeignKey("chargeback.id"), nullable=False))
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    type: str = DbField(max_length=64)
    actor: str = DbField(max_length=60)
    occurred_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    changes: dict[str, Any] = DbField(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    # True when the seller had a webhook endpoint as the change committed; cleared once fanned out.
    webhook_pending: bool | None = DbField(default=None, sa_column=Column(Boolean(), nullable=True))


class CaseEventPublic(SQLModel):
    id: str = Field(examples=["evt_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    chargeback_id: str = Field(examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    type: str = Field(examples=["chargeback.created"])
    actor: str = Field(
        description="`platform`, an API key id, an account id or `system`.", examples=["platform"]
    )
    occurred_at: UTCTimestamp
    changes: dict[str, Any] = Field(
        description="What changed: field → [before, after], or the recorded facts.",
        examples=[{"status": [None, "needs_response"]}],
    )
