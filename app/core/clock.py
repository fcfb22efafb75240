"""The one place the service asks for the time (tests move it with time-machine)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(value: datetime) -> str:
    """UTC timestamp as RFC 3339 with a ``Z`` suffix, millisecond precision kept as microseconds."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
