"""Buyer accounts: pending registrations, accounts, their one-time codes and tokens, sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field as DbField
from sqlmodel import SQLModel

from app.models.base import InputModel, UTCDateTime
from app.models.common import CountryCode, UTCTimestamp


class Registration(SQLModel, table=True):
    """A sign-up in progress: both codes must be confirmed before it can become an account."""

    __tablename__ = "registration"

    id: str = DbField(primary_key=True, max_length=40)
    country: str = DbField(max_length=2)
    email: str = DbField(max_length=254)
    phone: str = DbField(max_length=20)  # E.164
    password_hash: str = DbField(max_length=200)
    status: str = DbField(max_length=24)  # pending_verification | verified | completed
    email_code: str = DbField(max_length=64)  # digests, never the codes
    email_code_sent_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    email_code_tries: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    phone_code: str = DbField(max_length=64)
    phone_code_sent_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    phone_code_tries: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    verified_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    account_id: str | None = DbField(default=None, max_length=40)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (
        Index("ix_account_email_key", "email_key"),
        Index("ix_account_phone", "phone"),
        # A seller has one owner account.
        Index("uq_account_seller_id", "seller_id", unique=True),
    )

    id: str = DbField(primary_key=True, max_length=40)
    member_id: str = DbField(max_length=20, unique=True)
    email: str = DbField(max_length=254)
    email_key: str = DbField(max_length=254)  # case-folded, for lookups
    phone: str | None = DbField(default=None, max_length=20)
    country: str = DbField(max_length=2)
    username: str | None = DbField(default=None, max_length=60)
    password_hash: str = DbField(max_length=200)
    status: str = DbField(max_length=24)  # pending_activation | active | deactivated
    terms_version: str | None = DbField(default=None, max_length=40)
    terms_accepted_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    seller_id: str | None = DbField(
        default=None, sa_column=Column(String(40), ForeignKey("seller.id"), nullable=True)
    )
    activated_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    deactivated_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    deactivation_reason: str | None = DbField(default=None, max_length=500)
    version: int = DbField(default=1, sa_column=Column(Integer(), nullable=False))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class AccountToken(SQLModel, table=True):
    """A single-use secret sent to the account holder: an activation link's token, or a code."""

    __tablename__ = "account_token"
    __table_args__ = (Index("ix_account_token_account_purpose", "account_id", "purpose", "created_at"),)

    id: str = DbField(primary_key=True, max_length=40)
    account_id: str = DbField(sa_column=Column(String(40), ForeignKey("account.id"), nullable=False))
    purpose: str = DbField(max_length=24)  # activation | password_reset | email_change | …
    digest: str = DbField(max_length=64, unique=True)
    target: str | None = DbField(default=None, max_length=254)  # a new email or phone awaiting its code
    tries: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class LoginThrottle(SQLModel, table=True):
    """Consecutive failed logins per identifier (known or not, so it reveals nothing) and per account."""

    __tablename__ = "login_throttle"

    key: str = DbField(primary_key=True, max_length=64)  # a digest of the identifier, or of the account id
    failures: int = DbField(default=0, sa_column=Column(Integer(), nullable=False))
    last_failure_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))


class AuthSession(SQLModel, table=True):
    """One login: its refresh tokens form one family, revoked together."""

    __tablename__ = "auth_session"
    __table_args__ = (Index("ix_auth_session_account", "account_id", "created_at"),)

    id: str = DbField(primary_key=True, max_length=40)
    account_id: str = DbField(sa_column=Column(String(40), ForeignKey("account.id"), nullable=False))
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_reason: str | None = DbField(default=None, max_length=40)


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_token"

    id: str = DbField(primary_key=True, max_length=40)
    session_id: str = DbField(
        sa_column=Column(String(40), ForeignKey("auth_session.id"), nullable=False, index=True)
    )
    digest: str = DbField(max_length=64, unique=True)
    created_at: datetime = DbField(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = DbField(default=None, sa_column=Column(UTCDateTime(), nullable=True))


# Requests and responses ------------------------------------------------------------------------


class RegistrationCreate(InputModel):
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 country or region.")
    # Lengths are judged with the syntax (``invalid_email``, ``invalid_phone``), not here.
    email: str = Field(min_length=1, max_length=1024, examples=["mia.schmidt@example.com"])
    phone: str = Field(
        min_length=1,
        max_length=64,
        description="Parsed for `country` unless it starts with `+`; stored in E.164.",
        examples=["+49 1512 3456789"],
    )
    password: str = Field(
        min_length=1,
        max_length=1024,
        description="At least PASSWORD_MIN_LENGTH (15) characters, at most 256; no composition rules; "
        "common passwords and words tied to this service or your address are refused.",
        examples=["correct horse battery staple"],
    )


class RegistrationPublic(SQLModel):
    id: str = Field(examples=["reg_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    status: Literal["pending_verification", "verified", "completed", "expired"] = Field(
        description="`expired` once its hour has passed or a code took 5 wrong entries: register again.",
        examples=["pending_verification"],
    )
    expires_at: UTCTimestamp


class RegistrationVerify(InputModel):
    email_code: str = Field(min_length=1, max_length=12, description="The code emailed.", examples=["204816"])
    phone_code: str = Field(
        min_length=1, max_length=12, description="The code sent by SMS.", examples=["739150"]
    )


class RegistrationVerified(SQLModel):
    status: Literal["verified"] = Field(examples=["verified"])


class RegistrationResend(InputModel):
    channel: Literal["email", "phone"] = Field(examples=["phone"])


class RegistrationComplete(InputModel):
    # `const` documents the rule; the check itself answers `terms_not_accepted`, not a type error.
    accept_terms: bool = Field(
        description="Must be true.", examples=[True], json_schema_extra={"const": True}
    )
    terms_version: str = Field(min_length=1, max_length=40, examples=["2026-11"])


class AccountActivate(InputModel):
    token: str = Field(
        min_length=1, max_length=200, description="From the activation link.", examples=["act_x"]
    )


class AccountPublic(SQLModel):
    id: str = Field(examples=["acct_01jd2x3y4z5a6b7c8d9e0f1g2h"])
    member_id: str = Field(
        description="Log in with it when an email or phone is shared.", examples=["M4821937065"]
    )
    email: str = Field(examples=["mia.schmidt@example.com"])
    phone: str | None = Field(default=None, examples=["+4915123456789"])
    country: str = Field(examples=["DE"])
    username: str | None = Field(default=None, examples=["mia"])
    status: Literal["pending_activation", "active", "deactivated"] = Field(examples=["active"])
    seller_id: str | None = Field(default=None, description="Set for a seller's owner account.")
    created_at: UTCTimestamp
    version: int = Field(
        description="Goes up with every change; sent as the `ETag`, checked against `If-Match`.", examples=[1]
    )


class LoginRequest(InputModel):
    identifier: str = Field(
        min_length=1,
        max_length=254,
        description="Email, phone or member id.",
        examples=["mia.schmidt@example.com"],
    )
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery staple"])


class TokenPair(SQLModel):
    access_token: str = Field(
        description="A JWT; send it as `Authorization: Bearer …`.",
        examples=["eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhY2NfMDEifQ.c2ln"],
    )
    refresh_token: str = Field(description="Opaque; use it once at `/v1/auth/refresh`.", examples=["rt_…"])
    token_type: Literal["bearer"] = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds the access token is valid.", examples=[600])


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=200, examples=["rt_…"])


class PasswordResetRequest(InputModel):
    identifier: str = Field(
        min_length=1,
        max_length=254,
        description="Email, phone or member id.",
        examples=["mia.schmidt@example.com"],
    )
    channel: Literal["email", "phone"] = Field(description="Where the code goes.", examples=["email"])


class PasswordResetConfirm(InputModel):
    identifier: str = Field(min_length=1, max_length=254, examples=["mia.schmidt@example.com"])
    code: str = Field(min_length=1, max_length=12, examples=["482913"])
    new_password: str = Field(min_length=1, max_length=1024, examples=["a brand new long passphrase"])


class Accepted(SQLModel):
    status: str = Field(examples=["accepted"])


REAUTH_PASSWORD = (
    "Needed when the login is more than 5 minutes old (`reauthentication_required` otherwise): the "
    "account's current password."
)


class Reauthenticated(InputModel):
    current_password: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description=REAUTH_PASSWORD,
        examples=["correct horse battery staple"],
    )


class AccountUpdate(Reauthenticated):
    username: str | None = Field(
        default=None, min_length=2, max_length=60, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["mia"]
    )


class EmailChange(Reauthenticated):
    new_email: str = Field(min_length=1, max_length=1024, examples=["mia@new-home.example"])


class PhoneChange(Reauthenticated):
    new_phone: str = Field(
        min_length=1,
        max_length=64,
        description="Parsed for the account's country unless it starts with +.",
        examples=["+49 1512 7654321"],
    )


class CodeConfirm(InputModel):
    code: str = Field(min_length=1, max_length=12, examples=["482913"])


class PasswordChange(InputModel):
    current_password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery staple"])
    new_password: str = Field(min_length=1, max_length=1024, examples=["a brand new long passphrase"])


class VerificationCodeRequest(InputModel):
    purpose: Literal["deactivate"] = Field(examples=["deactivate"])
    channel: Literal["email", "phone"] = Field(examples=["email"])


class Deactivate(InputModel):
    reason: str = Field(min_length=1, max_length=500, examples=["I no longer shop here."])
    code: str = Field(min_length=1, max_length=12, examples=["482913"])
