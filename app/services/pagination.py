"""Opaque keyset cursors: a page continues after the last row's sort key, so depth costs nothing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

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


def page_params(
    limit: int, cursor: str | None, updated_since: datetime | None, settled: datetime
) -> dict[str, Any]:
    """A keyset page's bind parameters: one row more than asked (is there a next page?), the
    cursor's sort key, and with ``updated_since`` the window of changes old enough to be settled."""
    params: dict[str, Any] = {"limit": limit + 1}
    if updated_since is not None:
        params["since"], params["settled"] = updated_since, settled
    if cursor:
        params["at"], params["last"] = decode_cursor(cursor)
        if updated_since is not None:
            # The page starts at the later bound: the index is entered there, not at ``since``.
            params["since"] = max(updated_since, params["at"])
    return params


def cut_page(rows: list[Any], limit: int, changes: bool) -> tuple[list[Any], str | None]:
    """The page's rows and the cursor of the next page (by ``updated_at`` when listing changes)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(last.updated_at if changes else last.created_at, last.id)
