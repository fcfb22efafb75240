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

from sqlalchemy import bindparam, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.domain.errors import FieldProblem, IdempotencyInProgress, IdempotencyKeyReused, InvalidInput
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
    check_key(key)
    begin_write(session)
    for _ in range(2):
        now = utcnow()
        existing = session.get(IdempotencyRecord, (caller_id, key), populate_existing=True)
        if existing is not None and existing.expires_at > now:
            return _answer(session, existing, fp, now)
        if existing is not None:
            session.delete(existing)
            session.flush()
        session.add(
            IdempotencyRecord(
                caller_id=caller_id,
                key=key,
                fingerprint=fp,
                state="in_progress",
                created_at=now,
                expires_at=now + KEEP_FOR,
            )
        )
        try:
            session.flush()  # PostgreSQL: a concurrent duplicate waits here for the first to end
        except IntegrityError:
            session.rollback()  # the first attempt committed: answer with what it stored
            begin_write(session)
            continue
        return Reservation(caller_id, key)
    raise IdempotencyInProgress("A request with this Idempotency-Key is being processed; retry later.")


def _answer(session: Session, existing: IdempotencyRecord, fp: str, now: datetime) -> Reservation | Replay:
    if existing.fingerprint != fp:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request; use a new key for a new request."
        )
    if existing.state == "done" and existing.response_status is not None:
        return Replay(existing.response_status, existing.response_body or "")
    # Only a bulk request keeps a key in progress across its own commits (``reserve_committed``).
    if existing.created_at + LEASE > now:
        raise IdempotencyInProgress("A request with this Idempotency-Key is being processed; retry later.")
    existing.created_at = now  # abandoned by a crashed process: take it over
    session.flush()
    return Reservation(existing.caller_id, existing.key)


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
