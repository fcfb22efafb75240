"""Validated field types shared by request and response schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from app.core.clock import rfc3339
from app.domain.money import is_currency
from app.models.base import SINGLE_LINE_PATTERN


def _currency(value: str) -> str:
    code = value.strip().upper()
    if not is_currency(code):
        raise ValueError("must be an ISO 4217 currency code such as EUR or USD")
    return code


def _utc(value: datetime) -> datetime:
    # A far offset can move an instant past year 1 or 9999 once in UTC: invalid input, not a 500 later.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must lie between the years 1 and 9999 in UTC") from None


# RFC 3339 `date-time`, what the schema's `format` promises; pydantic alone would also take a number
# (even "0.5" in a query string) as Unix time, or a time without seconds.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value.strip())):
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, such as 2026-11-27T09:30:00Z")


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def _timezone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("must be an IANA time zone such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in _COUNTRIES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as DE")
    return code


def _load_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from the tz database's ``iso3166.tab`` (shipped by ``tzdata``)."""
    text = (resources.files("tzdata") / "zoneinfo" / "iso3166.tab").read_text(encoding="utf-8")
    return frozenset(
        line.split("\t", 1)[0] for line in text.splitlines() if line and not line.startswith("#")
    )


_COUNTRIES = _load_countries()


def _single_line(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must be one line of text without control characters")
    return value


# Region/City zones and UTC: not the host-dependent "localtime" nor placeholders like "Factory".
_ZONES = frozenset(z for z in available_timezones() if "/" in z or z == "UTC") - {"posixrules"}

# Names and references end up in email subjects and headers: one line, no control characters.
SingleLine = Annotated[
    str, Field(json_schema_extra={"pattern": SINGLE_LINE_PATTERN}), AfterValidator(_single_line)
]
Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["EUR"]), AfterValidator(_currency)]
EmailAddress = Annotated[
    str, Field(max_length=254, examples=["orders@acme-shop.example"]), AfterValidator(_email)
]
TimeZoneName = Annotated[str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_timezone)]
CountryCode = Annotated[str, Field(min_length=2, max_length=2, examples=["DE"]), AfterValidator(_country)]
# Up to 10^13 minor units: more than any card transaction, small enough for every database integer.
AmountMinor = Annotated[int, Field(gt=0, le=10_000_000_000_000, examples=[12999], strict=True)]
# Sent as RFC 3339 text, and documented so (the serializer alone would leave the format out).
_SENT_AS_DATE_TIME = WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization")
UTCTimestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str), _SENT_AS_DATE_TIME]
AwareTimestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_utc),
    PlainSerializer(rfc3339, return_type=str),
    _SENT_AS_DATE_TIME,
]
