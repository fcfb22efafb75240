"""A buyer account's own things: bound payment accounts, favourite products and coupons."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.account import Reauthenticated
from app.models.base import InputModel, UTCDateTime
from app.models.common import AmountMinor, AwareTimestamp, Currency, SingleLine, UTCTimestamp

_ACTIVE_BINDING = text("unbound_at IS NULL")


class PaymentAccount(SQLModel, table=True):
    """A payment account bound to a buyer account; unbinding keeps the row and frees the reference."""

    __tablename__ = "payment_account"
    __table_args__ = (
        # One active binding per payment account, whatever the race: the database decides.
        Index(
            "uq_payment_account_active_ref",
            "provider",
            "ref_digest",
            unique=True,
            sqlite_where=_ACTIVE_BINDING,
            postgresql_where=_ACTIVE_BINDING,
        ),
        Index("ix_payment_account_account_created", "account_id", "created_at", "id"),
        Index("ix_payment_account_account_updated", "account_id", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    account_id: str = DbField(sa_column=Column(String(40), ForeignKey("account.id"), nullable=False))
    provider: str = DbField(max_length=20)
    ref_digest: str = DbField(max_length=64)  # keyed HMAC of the normalised reference, never the reference
    ref_masked: str = DbField(max_length=260)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    unbound_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class Favourite(SQLModel, table=True):
    __tablename__ = "favourite"
    __table_args__ = (
        Index("uq_favourite_account_product", "account_id", "product_ref", unique=True),
        Index("ix_favourite_account_created", "account_id", "created_at", "id"),
        Index("ix_favourite_account_updated", "account_id", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    account_id: str = DbField(sa_column=Column(String(40), ForeignKey("account.id"), nullable=False))
    product_ref: str = DbField(max_length=100)
    note: str | None = DbField(default=None, max_length=500)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class Coupon(SQLModel, table=True):
    __tablename__ = "coupon"
    __table_args__ = (
        CheckConstraint("(amount_minor IS NULL) <> (percent_off IS NULL)", name="one_discount"),
        CheckConstraint("percent_off IS NULL OR (percent_off >= 1 AND percent_off <= 100)", name="percent"),
        CheckConstraint("amount_minor IS NULL OR (amount_minor > 0 AND currency IS NOT NULL)", name="amount"),
        Index("uq_coupon_account_code", "account_id", "code", unique=True),
        Index("ix_coupon_account_expires", "account_id", "expires_at", "id"),
        Index("ix_coupon_account_updated", "account_id", "updated_at", "id"),
    )

    id: str = DbField(primary_key=True, max_length=40)
    account_id: str = DbField(sa_column=Column(String(40), ForeignKey("account.id"), nullable=False))
    code: str = DbField(max_length=40)
    amount_minor: int | None = DbField(default=None, sa_column=Column(BigInteger(), nullable=True))
    percent_off: int | None = DbField(default=None, sa_column=Column(Integer(), nullable=True))
    currency: str | None = DbField(default=None, max_length=3)
    expires_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


# Requests and responses ------------------------------------------------------------------------


class PaymentAccountCreate(Reauthenticated):
    provider: Literal["alipay"] = Field(examples=["alipay"])
    account_ref: str = Field(
        min_length=1,
        max_length=254,
        description="The Alipay account: its email address or mainland China mobile number. "
        "Stored only as a keyed digest and a masked form.",
        examples=["mia.schmidt@example.com"],
    )


class PaymentAccountPublic(SQLModel):
    id: str = Field(examples=["pay_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    provider: Literal["alipay"] = Field(examples=["alipay"])
    ref_masked: str = Field(description="Enough to recognise the account.", examples=["mi***@example.com"])
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class FavouriteCreate(InputModel):
    product_ref: SingleLine = Field(
        min_length=1,
        max_length=100,
        description="The marketplace's product id; unique among the account's favourites.",
        examples=["sku-7731-teapot"],
    )
    note: str | None = Field(default=None, max_length=500, examples=["for mum's birthday"])


class FavouritePublic(SQLModel):
    id: str = Field(examples=["fav_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    product_ref: str = Field(examples=["sku-7731-teapot"])
    note: str | None = Field(default=None, examples=["for mum's birthday"])
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class CouponCreate(InputModel):
    account_id: str = Field(max_length=40, examples=["acct_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    code: str = Field(
        min_length=3,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="Letters, digits, `_` and `-`; stored upper-case; unique per account.",
        examples=["WELCOME10"],
    )
    amount_minor: AmountMinor | None = Field(
        default=None,
        description="A fixed discount; give exactly one of this and `percent_off`.",
        examples=[500],
    )
    percent_off: int | None = Field(default=None, ge=1, le=100, strict=True, examples=[10])
    currency: Currency | None = Field(
        default=None,
        description="Required with `amount_minor`; not allowed with `percent_off`.",
        examples=["EUR"],
    )
    expires_at: AwareTimestamp = Field(description="In the future.", examples=["2027-01-31T16:00:00Z"])


class CouponPublic(SQLModel):
    id: str = Field(examples=["cpn_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    account_id: str = Field(examples=["acct_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    code: str = Field(examples=["WELCOME10"])
    amount_minor: int | None = Field(default=None, examples=[500])
    percent_off: int | None = Field(default=None, examples=[None])
    currency: str | None = Field(default=None, examples=["EUR"])
    expires_at: UTCTimestamp
    used_at: UTCTimestamp | None = None
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class BuyerCaseSummary(SQLModel):
    id: str = Field(examples=["cb_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    status: Literal["needs_response", "under_review", "won", "lost", "accepted", "expired"] = Field(
        description="As it reads now: a case whose deadline passed reads `expired`.",
        examples=["under_review"],
    )
    amount_minor: int = Field(examples=[5000])
    currency: str = Field(examples=["EUR"])
    respond_by: UTCTimestamp


class BuyerOrderPublic(SQLModel):
    id: str = Field(examples=["ord_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    seller_id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    external_ref: str | None = Field(default=None, examples=["SO-2026-000123"])
    amount_minor: int = Field(examples=[12999])
    currency: str = Field(examples=["EUR"])
    description: str | None = Field(default=None, examples=["2 x ceramic teapot"])
    placed_at: UTCTimestamp | None = None
    created_at: UTCTimestamp
    updated_at: UTCTimestamp = Field(
        description="The order's last change (its funds, when a case moves them)."
    )
    chargebacks: list[BuyerCaseSummary] = Field(description="The order's chargebacks, oldest first.")
