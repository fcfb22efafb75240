"""Webhook endpoints of a seller and the deliveries of events to them (Standard Webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.domain.webhooks import EVENT_TYPES, MAX_URL_LENGTH
from app.models.base import InputModel, UTCDateTime
from app.models.common import UTCTimestamp

_EVENT_TYPES_DOC = ", ".join(f"`{t}`" for t in EVENT_TYPES)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_seller_created", "seller_id", "created_at", "id"),)

    id: str = DbField(primary_key=True, max_length=40)
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    url: str = DbField(max_length=MAX_URL_LENGTH)
    events: list[str] = DbField(default_factory=list, sa_column=Column(JSON(), nullable=False))
    # The signing secret is derived from SECRET_KEY and this salt: a copy of the database alone
    # cannot sign (nor read) anything.
    secret_salt: str = DbField(max_length=64)
    previous_secret_salt: str | None = DbField(default=None, max_length=64)
    previous_secret_expires_at: datetime | None = DbField(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    status: str = DbField(default="enabled", max_length=16)  # enabled | disabled
    disabled_reason: str | None = DbField(default=None, max_length=300)
    disabled_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_success_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: its signed body and every attempt's outcome (the delivery log)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_endpoint_created", "endpoint_id", "created_at", "id"),
        Index("ix_webhook_delivery_endpoint_status_created", "endpoint_id", "status", "created_at", "id"),
        Index("ix_webhook_delivery_endpoint_updated", "endpoint_id", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    endpoint_id: str = DbField(
        sa_column=Column(String(40), ForeignKey("webhook_endpoint.id"), nullable=False)
    )
    seller_id: str = DbField(sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False))
    event_id: str = DbField(max_length=40)  # the case event's id: the ``webhook-id`` of every attempt
    event_type: str = DbField(max_length=64)
    payload: str = DbField(sa_column=Column(Text(), nullable=False))  # the exact body that is signed
    replay_of: str | None = DbField(default=None, max_length=40)
    status: str = DbField(default="pending", max_length=16)  # pending | succeeded | failed
    attempts: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    next_attempt_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    locked_until: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_attempt_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    response_status: int | None = DbField(default=None, sa_column=Column(Integer(), nullable=True))
    last_error: str | None = DbField(default=None, max_length=500)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookEventData(SQLModel):
    id: str = Field(description="The case.", examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    order_id: str = Field(examples=["ord_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    seller_id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    status: str = Field(description="The case's status after this change.", examples=["needs_response"])
    respond_by: str | None = Field(
        default=None, description="`chargeback.created` only.", examples=["2026-12-03T15:59:59.999999Z"]
    )
    evidence_id: str | None = Field(
        default=None, description="`chargeback.evidence_added` and `…_removed` only."
    )
    appeal_id: str | None = Field(default=None, description="`chargeback.appealed` only.")


class WebhookEvent(SQLModel):
    """The body of every delivery (Standard Webhooks' ``{type, timestamp, data}``)."""

    type: str = Field(description=f"One of {_EVENT_TYPES_DOC}.", examples=["chargeback.created"])
    timestamp: str = Field(
        description="When the change happened (RFC 3339, UTC).", examples=["2026-11-27T09:30:00.123456Z"]
    )
    data: WebhookEventData


class WebhookEndpointCreate(InputModel):
    url: str = Field(
        min_length=1,
        description=f"Where events are POSTed: `https` (plain `http` only where "
        f"`WEBHOOK_ALLOW_PRIVATE_URLS` is on), at most {MAX_URL_LENGTH} characters, no credentials, "
        "a host that resolves to public addresses only.",
        examples=["https://erp.acme-shop.example/hooks/chargebacks"],
    )
    events: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description=f"The event types to receive, at least one: {_EVENT_TYPES_DOC}.",
        examples=[["chargeback.created", "chargeback.won", "chargeback.lost"]],
    )
    seller_id: str | None = Field(
        default=None,
        max_length=40,
        description="With the platform key: the seller the endpoint belongs to (required). "
        "A seller credential always creates its own; it may not name another seller.",
        examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"],
    )

    @field_validator("events")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class WebhookEndpointPublic(SQLModel):
    id: str = Field(examples=["whe_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    seller_id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    url: str = Field(examples=["https://erp.acme-shop.example/hooks/chargebacks"])
    events: list[str] = Field(examples=[["chargeback.created", "chargeback.won"]])
    status: Literal["enabled", "disabled"] = Field(
        description="`disabled` after the receiver answered 410 Gone or failed every attempt of a "
        "delivery (about 28 hours); nothing is sent to a disabled endpoint.",
        examples=["enabled"],
    )
    disabled_reason: str | None = Field(default=None, examples=[None])
    disabled_at: UTCTimestamp | None = None
    previous_secret_expires_at: UTCTimestamp | None = Field(
        default=None,
        description="After a rotation: until when the previous secret signs too (a second signature).",
    )
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str | None = Field(
        description="The signing secret (`whsec_` + base64 of the HMAC-SHA256 key), shown in this "
        "response only: store it now. An idempotent replay of the request answers `null` here; if "
        "you lost the secret, rotate it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3j5aEo1PcVk="],
    )


class WebhookEndpointPage(SQLModel):
    data: list[WebhookEndpointPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class WebhookDeliveryPublic(SQLModel):
    id: str = Field(examples=["whd_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    endpoint_id: str = Field(examples=["whe_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    event_id: str = Field(
        description="The event's id, sent as `webhook-id` on every attempt and replay.",
        examples=["evt_01jd2x3y4z5a6b7c8d9e0f1g2h"],
    )
    event_type: str = Field(examples=["chargeback.created"])
    payload: dict[str, Any] = Field(
        description="The body sent: `{type, timestamp, data}`.",
        examples=[
            {
                "type": "chargeback.created",
                "timestamp": "2026-11-27T09:30:00.123456Z",
                "data": {
                    "id": "cb_01jd2x3y4z5a6b7c8d9e0f1g2h",
                    "order_id": "ord_01jd2x3y4z5a6b7c8d9e0f1g2h",
                    "seller_id": "sel_01jd2x3y4z5a6b7c8d9e0f1g2h",
                    "status": "needs_response",
                },
            }
        ],
    )
    replay_of: str | None = Field(default=None, description="The delivery this one replays.")
    status: Literal["pending", "succeeded", "failed"] = Field(examples=["failed"])
    attempts: int = Field(examples=[3])
    next_attempt_at: UTCTimestamp | None = None
    last_attempt_at: UTCTimestamp | None = None
    response_status: int | None = Field(
        default=None, description="The receiver's HTTP status on the last attempt.", examples=[500]
    )
    last_error: str | None = Field(default=None, examples=["the receiver answered 500"])
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class WebhookDeliveryPage(SQLModel):
    data: list[WebhookDeliveryPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
