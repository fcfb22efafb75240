"""Notice ingestion: one chargeback notice, or a bulk of them, written with Core statements built once.

A notice locks its order (with its seller, in one ``SELECT … FOR UPDATE OF order``), freezes the
funds with one guarded ``UPDATE … RETURNING``, and inserts the case, its audit event, the
message-centre entry and the outbox email as plain rows. Every check that can refuse a notice runs
before its first write (the guarded ``UPDATE`` writes nothing when it refuses), so a refused notice
leaves nothing behind and needs no savepoint; the rows to insert wait in a ``_Writes`` until just
before the commit.

A bulk request commits its notices in transactions of up to ``CHUNK`` notices: one commit instead of
one per notice, and locks held for a bounded time. Each notice still succeeds or fails on its own,
and a notice's idempotency key is taken and completed in the transaction that commits its case.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.clock import rfc3339, utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import new_id
from app.domain import case_states as cs
from app.domain.errors import (
    DomainError,
    DuplicateChargeback,
    FieldProblem,
    InvalidInput,
    NotFound,
)
from app.domain.reasons import ReasonInfo, classify
from app.models.base import UTCDateTime
from app.models.chargeback import CaseEvent, Chargeback, ChargebackCreate, ChargebackPublic
from app.models.message import Message
from app.models.order import Order
from app.models.outbox import OutboxMessage
from app.models.seller import Seller
from app.notify import templates
from app.security.credentials import Caller
from app.services import audit, funds, idempotency, views
from app.services.notices import case_facts, notice_rows

# Notices per transaction in a bulk request. Bounded, so a bulk holds its order locks (and keeps its
# notices' timestamps uncommitted) for a short while, whatever its size.
CHUNK = 50

_ORDERS = Order.__table__  # type: ignore[attr-defined]
_SELLERS = Seller.__table__  # type: ignore[attr-defined]
_CASES = Chargeback.__table__  # type: ignore[attr-defined]


class _Order(NamedTuple):
    id: str
    seller_id: str
    external_ref: str | None
    currency: str
    amount_minor: int
    frozen_amount_minor: int
    debited_amount_minor: int


class _Seller(NamedTuple):
    id: str
    name: str
    email: str
    timezone: str


class _Case(NamedTuple):
    """A new case, as the row to insert and as the view ``to_public`` and the templates read."""

    id: str
    order_id: str
    seller_id: str
    reason_code: str
    network: str | None
    reason_category: str
    reason_title: str
    amount_minor: int
    currency: str
    bank_reference: str
    status: str
    received_at: datetime
    respond_by: datetime
    provider_due_at: datetime | None
    appeal_id: str | None
    reminded_at: datetime | None
    closed_at: datetime | None
    ruling_note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# Statements are built once, at import: a notice only binds its values.

# The order row is locked first (PostgreSQL; SQLite writers are serialised already), so a concurrent
# notice on the same order waits here, and every later statement of this one sees its cases.
_LOCK_ORDER = (
    select(
        *(_ORDERS.c[name] for name in _Order._fields),
        *(_SELLERS.c[name] for name in _Seller._fields),
        # Read with the lock: whether the new case's event also goes to the webhook outbox.
        audit.has_endpoints(_SELLERS.c.id).label("webhooks"),
    )
    .join_from(_ORDERS, _SELLERS, _SELLERS.c.id == _ORDERS.c.seller_id)
    .where(_ORDERS.c.id == bindparam("order_id"))
    .with_for_update(of=_ORDERS)
)
_SPLIT = len(_Order._fields)  # where the seller's columns start in a row of ``_LOCK_ORDER``
_SAME_REFERENCE = (
    _CASES.c.order_id == bindparam("order_id"),
    _CASES.c.bank_reference == bindparam("reference"),
)
# The guard of ``funds.freeze`` (never freeze more than is neither frozen nor debited), and no case
# with this bank reference yet. The order is locked since the statement before, so this one's snapshot
# holds every committed case of the order (a concurrent duplicate committed while this notice waited).
_FREEZE = (
    update(_ORDERS)
    .where(
        _ORDERS.c.id == bindparam("order_id"),
        funds.can_freeze(bindparam("amount")),
        ~exists().where(*_SAME_REFERENCE),
    )
    .values(
        frozen_amount_minor=_ORDERS.c.frozen_amount_minor + bindparam("amount"),
        version=_ORDERS.c.version + 1,
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
    .returning(_ORDERS.c.frozen_amount_minor)
)
_DUPLICATE = select(_CASES.c.id).where(*_SAME_REFERENCE)
_INSERTS = (
    insert(_CASES),
    insert(CaseEvent.__table__),  # type: ignore[attr-defined]
    insert(Message.__table__),  # type: ignore[attr-defined]
    insert(OutboxMessage.__table__),  # type: ignore[attr-defined]
)


@dataclass(slots=True)
class _Writes:
    """The rows a transaction's notices insert, written together just before its commit."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    responses: list[tuple[idempotency.Reservation, int, str]] = field(default_factory=list)
    # (order id, bank reference) → case id, for the cases above: not in the database yet.
    references: dict[tuple[str, str], str] = field(default_factory=dict)

    def write(self, session: Session) -> None:
        conn = session.connection()
        # Cases first: the trail and the messages reference them.
        for statement, rows in zip(
            _INSERTS, (self.cases, self.events, self.messages, self.emails), strict=True
        ):
            if rows:
                conn.execute(statement, rows)
        if self.responses:
            idempotency.complete_many(session, self.responses)


def _check_times(data: ChargebackCreate, settings: Settings, now: datetime) -> datetime:
    received_at = data.received_at or now
    problems = []
    if received_at > now + timedelta(seconds=settings.clock_skew_seconds):
        problems.append(FieldProblem("received_at", "may not lie in the future"))
    if received_at < now - timedelta(days=3650):
        problems.append(FieldProblem("received_at", "is more than ten years ago"))
    if data.provider_due_at is not None and data.provider_due_at <= received_at:
        problems.append(FieldProblem("provider_due_at", "must be after received_at"))
    if problems:
        raise InvalidInput("The notice's times are not plausible.", errors=problems)
    return min(received_at, now)


def _record(
    conn: Connection,
    settings: Settings,
    caller: Caller,
    data: ChargebackCreate,
    received_at: datetime,
    reason: ReasonInfo,
    writes: _Writes,
) -> ChargebackPublic:
    """Lock the order, freeze the funds and queue the notice's rows in ``writes`` (no commit)."""
    found = conn.execute(_LOCK_ORDER, {"order_id": data.order_id}).first()
    if found is None:
        raise NotFound(f"Order {data.order_id} does not exist.")
    order, seller = _Order._make(found[:_SPLIT]), _Seller._make(found[_SPLIT:-1])
    now = utcnow()  # after the lock: timestamps follow commit order (``updated_since``)
    if order.currency != data.currency:
        raise InvalidInput(
            f"The order is in {order.currency}; the chargeback must be too.",
            errors=[FieldProblem("currency", f"must be the order's currency {order.currency}")],
        )
    earlier = writes.references.get((order.id, data.bank_reference))
    if earlier is not None:
        raise _duplicate(earlier, data.bank_reference)
    frozen = conn.execute(
        _FREEZE,
        {
            "order_id": order.id,
            "reference": data.bank_reference,
            "amount": data.amount_minor,
            "now": now,
        },
    ).scalar()
    if frozen is None:
        duplicate = conn.execute(
            _DUPLICATE, {"order_id": order.id, "reference": data.bank_reference}
        ).scalar()
        if duplicate is not None:
            raise _duplicate(duplicate, data.bank_reference)
        available = order.amount_minor - order.frozen_amount_minor - order.debited_amount_minor
        raise funds.exceeds(available, order.currency, data.amount_minor)
    case = _Case(
        id=new_id("cb"),
        order_id=order.id,
        seller_id=order.seller_id,
        reason_code=reason.code,
        network=reason.network,
        reason_category=reason.category.value,
        reason_title=reason.title,
        amount_minor=data.amount_minor,
        currency=data.currency,
        bank_reference=data.bank_reference,
        status=cs.CaseStatus.NEEDS_RESPONSE.value,
        received_at=received_at,
        respond_by=settings.calendar.respond_by(
            received_at, settings.appeal_window_working_days, data.provider_due_at
        ),
        provider_due_at=data.provider_due_at,
        appeal_id=None,
        reminded_at=None,
        closed_at=None,
        ruling_note=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    writes.cases.append(case._asdict())
    writes.references[(order.id, case.bank_reference)] = case.id
    writes.events.append(
        audit.event_row(
            case.id,
            case.seller_id,
            "chargeback.created",
            caller.actor,
            now,
            {
                "status": [None, case.status],
                "respond_by": [None, rfc3339(case.respond_by)],
                "order.frozen_amount_minor": [order.frozen_amount_minor, frozen],
                "reason": {"code": reason.code, "category": reason.category.value, "known": reason.known},
            },
            webhooks=bool(found.webhooks),
        )
    )
    rendered = templates.case_opened(case_facts(settings, seller, order, case, now))
    message, email = notice_rows(settings, seller, case.id, rendered, now)
    writes.messages.append(message)
    writes.emails.append(email)
    return ChargebackPublic.model_validate(views.chargeback(case, settings, now))


def _duplicate(case_id: str, bank_reference: str) -> DuplicateChargeback:
    return DuplicateChargeback(
        f"Chargeback {case_id} already has bank reference {bank_reference} on this order."
    )


def _checked(data: ChargebackCreate, settings: Settings) -> tuple[datetime, ReasonInfo]:
    return _check_times(data, settings, utcnow()), classify(data.reason_code, data.network)


def _commit(session: Session, writes: _Writes, bank_reference: str) -> None:
    try:
        writes.write(session)
        session.commit()
    except IntegrityError:
        # The order lock keeps a duplicate bank reference out; the unique index is the backstop.
        session.rollback()
        raise DuplicateChargeback(
            f"A chargeback with bank reference {bank_reference} already exists."
        ) from None


def create(
    session: Session,
    settings: Settings,
    caller: Caller,
    data: ChargebackCreate,
    reservation: idempotency.Reservation | None = None,
) -> ChargebackPublic:
    """Record a notice: freeze the funds, set the deadline, tell the seller, all in one transaction."""
    received_at, reason = _checked(data, settings)
    begin_write(session)
    writes = _Writes()
    public = _record(session.connection(), settings, caller, data, received_at, reason, writes)
    if reservation is not None:
        writes.responses.append((reservation, 201, public.model_dump_json()))
    _commit(session, writes, data.bank_reference)
    return public


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One notice of a bulk request, with its own idempotency key and the request's fingerprint."""

    data: ChargebackCreate
    idempotency_key: str | None = None
    fingerprint: str = ""


Outcome = ChargebackPublic | idempotency.Replay | DomainError


def create_many(
    session: Session, settings: Settings, caller: Caller, items: Sequence[BulkItem]
) -> list[Outcome]:
    """Record notices, each on its own; per notice, in order: the new case, a replay or the error."""
    outcomes: dict[int, Outcome] = {}
    for chunk in _chunks(items):
        _create_chunk(session, settings, caller, chunk, outcomes)
    return [outcomes[index] for index in range(len(items))]


def _chunks(items: Sequence[BulkItem]) -> Iterator[list[tuple[int, BulkItem]]]:
    """Runs of up to ``CHUNK`` items; an idempotency key met again starts a new run, so the second
    use sees the first one committed (a replay), as two single requests would."""
    chunk: list[tuple[int, BulkItem]] = []
    keys: set[str] = set()
    for index, item in enumerate(items):
        if len(chunk) == CHUNK or item.idempotency_key in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append((index, item))
        if item.idempotency_key is not None:
            keys.add(item.idempotency_key)
    if chunk:
        yield chunk


def _create_chunk(
    session: Session,
    settings: Settings,
    caller: Caller,
    chunk: list[tuple[int, BulkItem]],
    outcomes: dict[int, Outcome],
) -> None:
    """One transaction: the chunk's keys reserved first, then its notices, then the commit."""
    try:
        todo: list[tuple[int, BulkItem, idempotency.Reservation | None]] = []
        keyed = [(i, item.idempotency_key, item.fingerprint) for i, item in chunk if item.idempotency_key]
        reserved: dict[int, idempotency.Reservation | idempotency.Replay | DomainError] = {}
        if keyed:
            found = idempotency.reserve_many(session, caller.principal_id, [(k, fp) for _, k, fp in keyed])
            reserved = {i: outcome for (i, _, _), outcome in zip(keyed, found, strict=True)}
        for index, item in chunk:
            outcome = reserved.get(index)
            if outcome is None or isinstance(outcome, idempotency.Reservation):
                todo.append((index, item, outcome))
            else:  # a response to replay, or the key's error
                outcomes[index] = outcome
        if not todo:
            session.rollback()  # replays and refused keys only: nothing to write
            return
        begin_write(session)
        _record_chunk(session, settings, caller, todo, outcomes)
    except BaseException:
        session.rollback()  # nothing of the chunk commits, its keys included
        raise


def _record_chunk(
    session: Session,
    settings: Settings,
    caller: Caller,
    todo: list[tuple[int, BulkItem, idempotency.Reservation | None]],
    outcomes: dict[int, Outcome],
) -> None:
    conn = session.connection()
    writes = _Writes()
    # Every bulk locks its orders in one order (by id), so two bulks that share orders queue rather
    # than deadlock; the sort is stable, so one order's notices keep their request order. (Keys are
    # taken before any order, by every request.)
    for index, item, reservation in sorted(todo, key=lambda t: t[1].data.order_id):
        try:
            received_at, reason = _checked(item.data, settings)
            public = _record(conn, settings, caller, item.data, received_at, reason, writes)
        except DomainError as exc:
            if reservation is not None:
                reservation.discard(session)
            outcomes[index] = exc
            continue
        if reservation is not None:
            writes.responses.append((reservation, 201, public.model_dump_json()))
        outcomes[index] = public
    writes.write(session)
    session.commit()
