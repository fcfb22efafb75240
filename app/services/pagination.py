"""Opaque keyset cursors: a page continues after the last row's sort key, so depth costs nothing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from app.domain.errors import FieldProblem, InvalidInput


def encode_cursor(at: datetime, id_: str) -> str:
    raw = json.dumps([at.isoformat(), id_], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, id_ = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        parsed = datetime.fromisoformat(at)
        # Our ids are short printable ASCII; anything else (a NUL, a lone surrogate) was forged.
        if parsed.tzinfo is None or not isinstance(id_, str) or not (id_.isascii() and id_.isprintable()):
            raise ValueError
        if len(id_) > 64:
            raise ValueError
        return parsed.astimezone(UTC), id_
    except (ValueError, TypeError, OverflowError, UnicodeError, json.JSONDecodeError):
        raise InvalidInput(
            "The cursor is not one this API returned.", errors=[FieldProblem("cursor", "invalid cursor")]
        ) from None
