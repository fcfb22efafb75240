"""Sellers and their API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.base import InputModel, UTCDateTime
from app.models.common import CountryCode, EmailAddress, SingleLine, TimeZoneName, UTCTimestamp


class Seller(SQLModel, table=True):
    __tablename__ = "seller"

    id: str = DbField(primary_key=True, max_length=40)
    name: str = DbField(max_length=200)
    email: str = DbField(max_length=254)
    country: str = DbField(max_length=2)
    timezone: str = DbField(max_length=64)
    account_id: str | None = DbField(default=None, max_length=40)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class SellerCreate(InputModel):
    name: SingleLine = Field(min_length=1, max_length=200, examples=["Acme Shop"])
    email: EmailAddress = Field(description="Where chargeback notices are emailed.")
    country: CountryCode
    timezone: TimeZoneName | None = Field(
        default=None,
        description="The seller's own time zone; defaults to the business time zone.",
        examples=["Europe/Berlin"],
    )
    owner_password: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Creates the seller's owner account (email = the seller's, active at once): it logs "
        "in like a buyer, uses the buyer endpoints, and its access token works on the seller endpoints "
        "like an API key. The password policy of buyer accounts applies.",
        examples=["a long passphrase the owner chose"],
    )


class SellerPublic(SQLModel):
    id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    name: str = Field(examples=["Acme Shop"])
    email: str = Field(examples=["orders@acme-shop.example"])
    country: str = Field(examples=["DE"])
    timezone: str = Field(examples=["Europe/Berlin"])
    account_id: str | None = Field(
        default=None,
        description="The seller's owner account (created with `owner_password`); null without one.",
        examples=["acct_01jd2x3y4z5a6b7c8d9e0f1g2h"],
    )
    created_at: UTCTimestamp


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: str = DbField(primary_key=True, max_length=40)
    seller_id: str = DbField(
        sa_column=Column(String(40), ForeignKey("seller.id"), nullable=False, index=True)
    )
    name: str = DbField(max_length=100)
    prefix: str = DbField(max_length=16)
    key_hash: str = DbField(max_length=64, unique=True)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ApiKeyCreate(InputModel):
    name: SingleLine = Field(min_length=1, max_length=100, examples=["ERP production"])


class ApiKeyPublic(SQLModel):
    id: str = Field(examples=["key_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    seller_id: str = Field(examples=["sel_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    name: str = Field(examples=["ERP production"])
    prefix: str = Field(
        description="The key's first characters, to tell keys apart.", examples=["sk_7Hq2Lm9x"]
    )
    created_at: UTCTimestamp
    revoked_at: UTCTimestamp | None = None


class ApiKeyCreated(ApiKeyPublic):
    key: str | None = Field(
        description="The secret key, shown only in this response: store it now. It is never stored "
        "in a readable form, so an idempotent replay of this request answers `null` here; if you "
        "lost the key, revoke it and create a new one.",
        examples=["sk_7Hq2Lm9xK3vB8nR1tY6wE4uI0oP5aS2dF"],
    )
