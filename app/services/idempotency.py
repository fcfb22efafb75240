"""``Idempotency-Key`` on creating POSTs.

A key is reserved in the use case's own transaction, which also stores the response, so the key,
what was created and the answer commit together or not at all. A bulk request, which commits item
by item, holds its key in a transaction of its own and frees it if it fails; one left behind by a
crashed process may be taken over after a lease.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.domain.errors import (
    DomainError,
    FieldProblem,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidInput,
)
from app.models.base import UTCDateTime
from app.models.idempotency import IdempotencyRecord

KEEP_FOR = timedelta(hours=24)
LEASE = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: str


_RECORDS = IdempotencyRecord.__table__  # type: ignore[attr-defined]
_THIS_KEY = (_RECORDS.c.caller_id == bindparam("caller"), _RECORDS.c.key == bindparam("idem_key"))
# Built once: completing a key is part of every keyed notice.
_COMPLETE = (
    update(_RECORDS)
    .where(*_THIS_KEY)
    .values(state="done", response_status=bindparam("status"), response_body=bindparam("body"))
)
_DISCARD = delete(_RECORDS).where(*_THIS_KEY, _RECORDS.c.state == "in_progress")


@dataclass(frozen=True, slots=True)
class Reservation:
    caller_id: str
    key: str

    def complete(self, session: Session, status: int, body: str) -> None:
        """Store the response in the use case's transaction (call just before its commit)."""
        complete_many(session, [(self, status, body)])

    def discard(self, session: Session) -> None:
        """Free the key in the use case's transaction (a bulk item that failed while others commit)."""
        session.connection().execute(_DISCARD, {"caller": self.caller_id, "idem_key": self.key})


def complete_many(session: Session, responses: Sequence[tuple[Reservation, int, str]]) -> None:
    """``Reservation.complete`` for several keys at once."""
    params = [{"caller": r.caller_id, "idem_key": r.key, "status": st, "body": b} for r, st, b in responses]
    session.connection().execute(_COMPLETE, params)


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 printable characters.",
            errors=[FieldProblem("Idempotency-Key", "1 to 255 printable characters")],
        )
    return key


def reserve(session: Session, caller_id: str, key: str, fp: str) -> Reservation | Replay:
    """Take ``key`` for this caller inside the use case's own transaction, or return the stored response.

    The reservation commits with what the use case creates, or not at all: a failed attempt (an
    error, a crash, the database going away) leaves the key free for the client's retry. A
    concurrent duplicate waits on the key's row until the first attempt ends, then replays it.
    """
    [outcome] = reserve_many(session, caller_id, [(key, fp)])
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


_FIND = select(_RECORDS).where(
    _RECORDS.c.caller_id == bindparam("caller"), _RECORDS.c.key.in_(bindparam("keys", expanding=True))
)
_DELETE_EXPIRED = delete(_RECORDS).where(
    _RECORDS.c.caller_id == bindparam("caller"),
    _RECORDS.c.key.in_(bindparam("keys", expanding=True)),
    _RECORDS.c.expires_at <= bindparam("now", type_=UTCDateTime()),
)
_INSERT = insert(_RECORDS)
# Compare and set: of two requests taking over one abandoned key, one changes the row.
_TAKE_OVER = (
    update(_RECORDS)
    .where(*_THIS_KEY, _RECORDS.c.state == "in_progress", _RECORDS.c.created_at == bindparam("seen"))
    .values(created_at=bindparam("now", type_=UTCDateTime()))
)


def _busy() -> IdempotencyInProgress:
    return IdempotencyInProgress("A request with this Idempotency-Key is being processed; retry later.")


def reserve_many(
    session: Session, caller_id: str, requests: Sequence[tuple[str, str]]
) -> list[Reservation | Replay | DomainError]:
    """``reserve`` for several different keys (key, fingerprint), first thing in the use case's
    transaction: per key, in order, its reservation, the response to replay, or the key's error."""
    outcomes: dict[str, Reservation | Replay | DomainError] = {}
    wanted: list[tuple[str, str]] = []
    for key, fp in requests:
        try:
            wanted.append((check_key(key), fp))
        except DomainError as exc:
            outcomes[key] = exc
    # Inserted in key order, so two requests sharing keys never wait for each other in a cycle.
    wanted.sort()
    for _ in range(2):
        if not wanted:
            break
        begin_write(session)
        now = utcnow()
        conn = session.connection()
        keys = [key for key, _ in wanted]
        found = {record.key: record for record in conn.execute(_FIND, {"caller": caller_id, "keys": keys})}
        expired = [key for key, record in found.items() if record.expires_at <= now]
        if expired:  # a new request now
            conn.execute(_DELETE_EXPIRED, {"caller": caller_id, "keys": expired, "now": now})
            for key in expired:
                del found[key]
        new = []
        for key, fp in wanted:
            record = found.get(key)
            if record is None:
                new.append(_new_record(caller_id, key, fp, now))
                outcomes[key] = Reservation(caller_id, key)
            else:
                outcomes[key] = _answer(conn, record, fp, now)
        try:
            if new:
                conn.execute(_INSERT, new)  # PostgreSQL: a concurrent duplicate waits here for the first
        except IntegrityError:
            session.rollback()  # one of the keys was taken meanwhile: look again at what it stored
            continue
        return [outcomes[key] for key, _ in requests]
    for key, _ in wanted:
        outcomes[key] = _busy()
    return [outcomes[key] for key, _ in requests]


def _new_record(caller_id: str, key: str, fp: str, now: datetime) -> dict[str, Any]:
    return {
        "caller_id": caller_id,
        "key": key,
        "fingerprint": fp,
        "state": "in_progress",
        "response_status": None,
        "response_body": None,
        "created_at": now,
        "expires_at": now + KEEP_FOR,
    }


def _answer(conn: Connection, record: Any, fp: str, now: datetime) -> Reservation | Replay | DomainError:
    if record.fingerprint != fp:
        return IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request; use a new key for a new request."
        )
    if record.state == "done" and record.response_status is not None:
        return Replay(record.response_status, record.response_body or "")
    # Only a bulk request keeps a key in progress across its own commits (``reserve_committed``).
    if record.created_at + LEASE > now:
        return _busy()
    # Abandoned by a crashed process: take it over, unless another request just did.
    params = {"caller": record.caller_id, "idem_key": record.key, "seen": record.created_at, "now": now}
    if conn.execute(_TAKE_OVER, params).rowcount != 1:
        return _busy()
    return Reservation(record.caller_id, record.key)


def reserve_committed(session: Session, caller_id: str, key: str, fp: str) -> Reservation | Replay:
    """``reserve`` for a use case that commits in several transactions (bulk): the key is held from
    now on, until ``finish`` stores the response or ``release`` frees it (after ``LEASE`` if the
    release itself fails)."""
    outcome = reserve(session, caller_id, key, fp)
    if isinstance(outcome, Reservation):
        session.commit()
    else:
        session.rollback()
    return outcome


def finish(session: Session, reservation: Reservation, status: int, body: str) -> None:
    """Store the response of a use case that committed its work in several transactions (bulk)."""
    begin_write(session)
    reservation.complete(session, status, body)
    session.commit()


def release(session: Session, reservation: Reservation) -> None:
    """Free a key whose use case failed, so the client may retry with it."""
    session.rollback()
    begin_write(session)
    reservation.discard(session)
    session.commit()


def purge_expired(session: Session) -> int:
    """Delete keys past their 24 hours (housekeeping; an expired key is also ignored when met)."""
    begin_write(session)
    result = session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) < utcnow()))
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
