"""Opaque keyset cursors: a page continues after the last row's sort key, so depth costs nothing.

A cursor is bound to the query that returned it (the list, newest first or changes since, and the
filters): a cursor passed with another query is refused with ``cursor_mismatch`` rather than
silently continuing a different walk. ``updated_since`` is checked here too, the same for every list.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, tuple_

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.reads import AnySelect
from app.domain.errors import CursorMismatch, FieldProblem, InvalidInput
from app.models.base import UTCDateTime

_LIMIT: BindParameter[int] = bindparam("limit")


def query_tag(list_name: str, *filters: Any) -> str:
    """What a cursor is bound to: the list's name and a short digest of its order and filters."""
    shape = json.dumps(filters, default=str, separators=(",", ":"), sort_keys=True)
    return f"{list_name}:{hashlib.sha256(shape.encode()).hexdigest()[:12]}"


def encode_cursor(at: datetime, id_: str, tag: str) -> str:
    raw = json.dumps([tag, at.isoformat(), id_], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str) -> tuple[datetime, str]:
    """The cursor's (sort key, id); 422 ``validation_error`` when forged, ``cursor_mismatch`` when foreign."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        given, at, id_ = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        parsed = datetime.fromisoformat(at)
        # Our ids are short printable ASCII; anything else (a NUL, a lone surrogate) was forged.
        if parsed.tzinfo is None or not isinstance(id_, str) or not (id_.isascii() and id_.isprintable()):
            raise ValueError
        if len(id_) > 64 or not isinstance(given, str):
            raise ValueError
        when = parsed.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, UnicodeError, json.JSONDecodeError):
        raise InvalidInput(
            "The cursor is not one this API returned.", errors=[FieldProblem("cursor", "invalid cursor")]
        ) from None
    if given != tag:
        raise CursorMismatch(
            "The cursor was returned for another list, order or filters; pass it with the same "
            "query parameters as the page it came from.",
            errors=[FieldProblem("cursor", "from another query")],
        )
    return when, id_


def check_since(updated_since: datetime | None, now: datetime) -> None:
    """``updated_since`` may not lie in the future: nothing has changed there yet, and a client
    that sent it has a clock or a bookmark gone wrong, which an empty page would hide."""
    if updated_since is not None and updated_since > now:
        raise InvalidInput(
            "updated_since lies in the future; pass the last updated_at you saw.",
            errors=[FieldProblem("updated_since", "must not be in the future")],
        )


def keyset_select(
    q: AnySelect,
    id_: ColumnElement[Any],
    created: ColumnElement[Any],
    updated: ColumnElement[Any],
    *,
    after: bool,
    changes: bool,
    ascending: bool = False,
) -> AnySelect:
    """``q`` as a keyset page: by ``created`` (newest first, or ``ascending``), or with ``changes``
    the rows changed in [``since``, ``settled``], oldest change first; ``after`` a cursor's row.

    A row-value comparison, which both databases answer by seeking in the (…, at, id) index.
    """
    sort_at = updated if changes else created
    up = ascending or changes
    if changes:
        q = q.where(sort_at >= bindparam("since", type_=UTCDateTime()), sort_at <= bindparam("settled"))
    if after:
        key, last = tuple_(sort_at, id_), tuple_(bindparam("at", type_=UTCDateTime()), bindparam("last"))
        q = q.where(key > last if up else key < last)
    order = (sort_at.asc(), id_.asc()) if up else (sort_at.desc(), id_.desc())
    return q.order_by(*order).limit(_LIMIT)


def keyset(
    settings: Settings, tag: str, limit: int, cursor: str | None, updated_since: datetime | None
) -> dict[str, Any]:
    """The parameters of a keyset page: one row more than asked (is there a next page?), the
    cursor's position, and with ``updated_since`` the bounds of the changes to list."""
    params: dict[str, Any] = {"limit": limit + 1}
    if updated_since is not None:
        now = utcnow()
        check_since(updated_since, now)
        # Only changes older than the lag: a writer takes its timestamp before it commits, so a
        # younger change could still be joined by an older one committing later.
        params["since"] = updated_since
        params["settled"] = now - timedelta(seconds=settings.reconcile_lag_seconds)
    if cursor:
        params["at"], params["last"] = decode_cursor(cursor, tag)
        if updated_since is not None:
            # The page starts at the later of the two bounds: the index is entered there, not at
            # ``since`` with every row up to the cursor skipped one by one.
            params["since"] = max(updated_since, params["at"])
    return params


def next_after(
    rows: list[Any], limit: int, updated_since: datetime | None, tag: str, sort: str = "created_at"
) -> str | None:
    """The cursor after the page's last row, or None when ``rows`` (limit + 1 asked) was the last page."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    at = last.updated_at if updated_since is not None else getattr(last, sort)
    return encode_cursor(at, last.id, tag)
