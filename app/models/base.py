"""Shared column types, the metadata naming convention and small schema helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, field_validator
from sqlalchemy import DateTime, MetaData
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:  # noqa: ARG002 (SQLAlchemy signature)
        # One function per value instead of the impl's parser wrapped in process_result_value: lists
        # read seven timestamps a row. SQLite keeps SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" text.
        if dialect.name == "sqlite":
            parse = datetime.fromisoformat

            def from_text(value: str | None) -> datetime | None:
                return None if value is None else parse(value).replace(tzinfo=UTC)

            return from_text
        if dialect.driver == "asyncpg":
            return None  # asyncpg decodes timestamptz as UTC-aware datetimes already

        def to_utc(value: datetime | None) -> datetime | None:
            if value is None or value.tzinfo is UTC:
                return value
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

        return to_utc


def _has_nul(value: object) -> bool:
    # Free-form objects are left to the model that validates them (bulk notices one by one, so one
    # bad notice fails alone).
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


# What the schema says of one-line text (app.models.common.SingleLine): no control characters.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# What pydantic strips (Unicode White_Space, not Python's wider str.isspace), in JSON Schema regex syntax.
_UNICODE_SPACE = r"\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NOT_BLANK = {
    None: rf"[^\t\n\v\f\r {_UNICODE_SPACE}]",
    SINGLE_LINE_PATTERN: rf"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f{_UNICODE_SPACE}][^\x00-\x1f\x7f]*$",
}


def _document_not_blank(schema: dict[str, Any]) -> None:
    """Strings are stripped before their length is checked, so a required one must have a non-space."""
    for prop in schema.get("properties", {}).values():
        for branch in (prop, *prop.get("anyOf", ())):
            if branch.get("type") == "string" and branch.get("minLength", 0) > 0:
                pattern = branch.get("pattern")
                branch["pattern"] = _NOT_BLANK.get(pattern, pattern)


class InputModel(SQLModel):
    """Base of request bodies: unknown fields are rejected, strings are stripped, NUL is refused."""

    model_config = ConfigDict(  # type: ignore[assignment]
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_document_not_blank
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL (it would fail as a 500 there and be stored on SQLite):
        # refuse it as invalid input on every backend alike.
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value
