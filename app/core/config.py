"""Settings from environment variables (and an optional ``.env``); names fixed by the API contract."""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.calendar import WorkingCalendar, build_calendar


def _parse_dates(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting the service reads. See the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/chargeback-desk.db"
    # Writing handlers running at once, each in one worker thread. Unset: 4 on SQLite (one writer;
    # more threads only fight over the GIL), 16 on PostgreSQL (handlers wait on the network).
    thread_pool_size: int | None = Field(default=None, ge=1, le=1000)
    # Unset: the handlers, plus the in-process dispatcher and one spare.
    database_pool_size: int | None = Field(default=None, ge=1)
    evidence_storage_url: str = "file://./var/evidence"
    s3_endpoint_url: str | None = None
    platform_api_key: SecretStr | None = None
    secret_key: SecretStr | None = None

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "transaction_seller@notice.chargeback-desk.local"
    appeal_mailbox: str = "chargeback@chargeback-desk.local"
    sms_gateway_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"

    business_timezone: str = "Asia/Shanghai"
    business_calendar: str = "CN"
    business_holidays: Annotated[list[date], NoDecode] = []
    business_workdays: Annotated[list[date], NoDecode] = []
    appeal_window_working_days: int = Field(default=3, ge=1, le=60)
    reminder_hours_before_deadline: int = Field(default=24, ge=1, le=240)

    max_evidence_file_bytes: int = 10_485_760
    max_evidence_case_bytes: int = 52_428_800
    max_package_pages: int = 19
    password_min_length: int = Field(default=15, ge=8, le=64)
    # Argon2id parameters: "owasp" (m=19 MiB, t=2, p=1), "rfc9106" (64 MiB, t=3, p=4); "test" only in tests.
    password_hash_profile: Literal["owasp", "rfc9106", "test"] = "owasp"

    dispatch_in_process: bool = True
    dispatch_poll_seconds: float = Field(default=2.0, gt=0)
    dispatch_max_attempts: int = Field(default=8, ge=1)
    webhook_allow_private_urls: bool = False
    rate_limit_storage_url: str = "memory://"
    # Limits in the ``limits`` library's notation ("600/minute", "10/second", "1000 per hour").
    rate_limit_per_key: str = "600/minute"
    rate_limit_per_address: str = "1200/minute"
    rate_limit_per_platform_key: str = "6000/minute"
    rate_limit_key_prefix: str = Field(default="cbd-limits", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    forwarded_allow_ips: str = "127.0.0.1"
    max_json_body_bytes: int = Field(default=1_048_576, ge=1024)
    clock_skew_seconds: int = Field(default=300, ge=0)
    reconcile_lag_seconds: int = Field(default=5, ge=0, le=300)
    log_level: str = "INFO"

    _split_dates = field_validator("business_holidays", "business_workdays", mode="before")(_parse_dates)

    @field_validator("rate_limit_per_key", "rate_limit_per_address", "rate_limit_per_platform_key")
    @classmethod
    def _one_rate(cls, value: str) -> str:
        items = parse_many(value)
        if len(items) != 1:
            raise ValueError('one rate, such as "600/minute"')
        return value

    @field_validator("business_calendar")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        return value.strip().upper()

    @cached_property
    def calendar(self) -> WorkingCalendar:
        return build_calendar(
            self.business_timezone,
            self.business_calendar or None,
            self.business_holidays,
            self.business_workdays,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def handler_threads(self) -> int:
        return self.thread_pool_size or (4 if self.is_sqlite else 16)

    @property
    def pool_size(self) -> int:
        return self.database_pool_size or self.handler_threads + 2
