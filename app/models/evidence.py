"""Evidence items of a case and its one appeal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.domain.evidence_rules import EvidenceType
from app.models.base import InputModel, UTCDateTime
from app.models.common import AmountMinor, AwareTimestamp, Currency, SingleLine, UTCTimestamp

MAX_TEXT_CHARS = 10_000
MAX_DESCRIPTION_CHARS = 1_000


class Evidence(SQLModel, table=True):
    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_chargeback_created", "chargeback_id", "created_at", "id"),
        Index("ix_evidence_chargeback_updated", "chargeback_id", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    chargeback_id: str = DbField(sa_column=Column(String(40), ForeignKey("chargeback.id"), nullable=False))
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    evidence_type: str = DbField(max_length=40)
    filename: str | None = DbField(default=None, max_length=255)
    content_type: str | None = DbField(default=None, max_length=100)
    size_bytes: int = DbField(default=0, sa_column=Column(BigInteger(), nullable=False))
    sha256: str = DbField(max_length=64)
    pages: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    storage_key: str | None = DbField(default=None, max_length=200)
    text: str | None = DbField(default=None, sa_column=Column(Text(), nullable=True))
    description: str | None = DbField(default=None, sa_column=Column(Text(), nullable=True))
    facts: dict[str, Any] = DbField(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    appeal_id: str | None = DbField(default=None, max_length=40)  # set when an appeal freezes it
    created_by: str = DbField(max_length=60)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    # Created, or frozen into an appeal: what ``updated_since`` lists.
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class Appeal(SQLModel, table=True):
    __tablename__ = "appeal"
    __table_args__ = (
        # One appeal package per case, whatever races: the database refuses a second.
        Index("uq_appeal_chargeback_id", "chargeback_id", unique=True),
    )

    id: str = DbField(primary_key=True, max_length=40)
    chargeback_id: str = DbField(sa_column=Column(String(40), ForeignKey("chargeback.id"), nullable=False))
    order_id: str = DbField(sa_column=Column(String(40), ForeignKey("order.id"), nullable=False))
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    statement: str = DbField(sa_column=Column(Text(), nullable=False))
    evidence_ids: list[str] = DbField(default_factory=list, sa_column=Column(JSON(), nullable=False))
    path: str = DbField(max_length=60)
    package_key: str = DbField(max_length=200)
    package_sha256: str = DbField(max_length=64)
    package_size_bytes: int = DbField(sa_column=Column(BigInteger(), nullable=False))
    package_pages: int = DbField(sa_column=Column(Integer(), nullable=False))
    submitted_by: str = DbField(max_length=60)
    submitted_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class EvidenceFacts(InputModel):
    """Structured facts beside or instead of a file; the rule module checks them against the case."""

    carrier: SingleLine | None = Field(default=None, min_length=1, max_length=100, examples=["DHL"])
    tracking_number: SingleLine | None = Field(
        default=None, min_length=1, max_length=100, examples=["JD014600006281234567"]
    )
    shipped_at: AwareTimestamp | None = Field(default=None, examples=["2026-11-21T10:00:00Z"])
    delivered_at: AwareTimestamp | None = Field(default=None, examples=["2026-11-24T14:02:00Z"])
    delivery_address: str | None = Field(
        default=None, min_length=1, max_length=500, examples=["Hauptstr. 5, 10115 Berlin, DE"]
    )
    signed: bool | None = Field(default=None, description="The delivery was signed for.", examples=[True])
    signed_by: SingleLine | None = Field(default=None, min_length=1, max_length=200, examples=["M. Muster"])
    expected_delivery_at: AwareTimestamp | None = Field(
        default=None, description="The delivery date promised at sale.", examples=["2026-12-10T00:00:00Z"]
    )
    refund_id: SingleLine | None = Field(default=None, min_length=1, max_length=100, examples=["re_3QxY"])
    refund_amount_minor: AmountMinor | None = Field(default=None, examples=[12999])
    refund_currency: Currency | None = Field(default=None, examples=["EUR"])
    refunded_at: AwareTimestamp | None = Field(default=None, examples=["2026-11-25T09:00:00Z"])


class EvidenceForm(InputModel):
    """The upload's form fields beside the file (multipart), validated as one model."""

    evidence_type: EvidenceType
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)
    description: str | None = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    facts: EvidenceFacts | None = None


# The form fields an upload accepts and their longest values in characters (``facts`` is JSON).
FORM_FIELDS = {
    "evidence_type": 40,
    "text": MAX_TEXT_CHARS,
    "description": MAX_DESCRIPTION_CHARS,
    "facts": 8_000,
}


class EvidencePublic(SQLModel):
    id: str = Field(examples=["ev_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    chargeback_id: str = Field(examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    evidence_type: EvidenceType = Field(examples=["delivery_proof"])
    filename: str | None = Field(
        default=None, description="The client's file name, sanitised; metadata only.", examples=["pod.pdf"]
    )
    content_type: str | None = Field(
        default=None,
        description="Judged from the file's bytes; null for text-only evidence.",
        examples=["application/pdf"],
    )
    size_bytes: int = Field(description="The file's size; 0 for text-only evidence.", examples=[48213])
    sha256: str = Field(
        description="SHA-256 of the file (or, for text-only evidence, of its UTF-8 text).",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    pages: int = Field(description="Pages it adds to the appeal package.", examples=[1])
    text: str | None = Field(default=None, examples=["Tracking JD014600006281234567"])
    description: str | None = Field(default=None, examples=["Carrier's proof of delivery, signed"])
    facts: dict[str, Any] = Field(
        description="The structured facts given with it (see `EvidenceFacts`).",
        examples=[{"carrier": "DHL", "tracking_number": "JD014600006281234567", "signed": True}],
    )
    content_url: str | None = Field(
        default=None, description="Where to download the file; null for text-only evidence."
    )
    appeal_id: str | None = Field(default=None, description="Set once an appeal has frozen this item.")
    created_at: UTCTimestamp
    updated_at: UTCTimestamp = Field(description="Created, or frozen into an appeal.")


class AppealCreate(InputModel):
    statement: str = Field(
        min_length=1,
        max_length=20_000,
        description="The seller's written rebuttal, printed on the package's cover page.",
        examples=["The parcel was delivered and signed for on 24 Nov 2026; see the carrier's record."],
    )


class AppealPublic(SQLModel):
    id: str = Field(examples=["apl_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    chargeback_id: str = Field(examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    order_id: str = Field(examples=["ord_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    statement: str = Field(
        examples=["The parcel was delivered and signed for on 28 Nov 2026; see the carrier's proof."]
    )
    evidence_ids: list[str] = Field(examples=[["ev_01jd2x3y4z5a6b7c8d9e0f1g2h"]])
    path: str = Field(description="The defence path the evidence satisfied.", examples=["delivered"])
    submitted_at: UTCTimestamp
    package_sha256: str = Field(examples=["2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"])
    package_size_bytes: int = Field(examples=[482113])
    package_pages: int = Field(examples=[4])
    package_url: str = Field(
        description="Where to download the package PDF.",
        examples=["/v1/chargebacks/cb_01jd2x3y4z5a6b7c8d9e0f1g2h/appeal/package"],
    )
