"""The sweeps in app.services.chargebacks: ``expire_due`` closes lapsed cases, ``remind_due`` warns once."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlmodel import Session, col
from time_machine import TimeMachineFixture

from app.core.config import Settings
from app.models.chargeback import CaseEvent, Chargeback
from app.models.message import Message
from app.models.order import Order
from app.models.outbox import OutboxMessage
from app.services.chargebacks import expire_due, remind_due
from tests.services.conftest import T0, make_case, make_order, make_seller

DEADLINE = T0 + timedelta(hours=30)
REMINDER_HORIZON = timedelta(hours=24)  # the settings' default reminder_hours_before_deadline


def _events(session: Session, case: Chargeback) -> list[tuple[str, str]]:
    q = select(CaseEvent).where(col(CaseEvent.chargeback_id) == case.id)
    return [(e.type, e.actor) for e in session.execute(q).scalars()]


def _messages(session: Session, case: Chargeback) -> list[str]:
    q = select(Message).where(col(Message.chargeback_id) == case.id)
    return [m.kind for m in session.execute(q).scalars()]


def _emails(session: Session) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage)).scalars())


_Row = TypeVar("_Row", Chargeback, Order)


def _reloaded(session: Session, row: _Row) -> _Row:
    session.refresh(row)
    return row


# expire_due ---------------------------------------------------------------------------


def test_lapsed_case_expired_by_system_and_its_funds_debited(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    seller = make_seller(session)
    order = make_order(session, seller, 10_000, frozen=3_000)
    case = make_case(session, order, 3_000, respond_by=DEADLINE)
    swept_at = DEADLINE + timedelta(seconds=1)
    time_machine.move_to(swept_at, tick=False)

    assert expire_due(session, settings) == 1

    case = _reloaded(session, case)
    assert (case.status, case.closed_at, case.version, case.updated_at) == ("expired", swept_at, 2, swept_at)
    order = _reloaded(session, order)
    assert (order.frozen_amount_minor, order.debited_amount_minor) == (0, 3_000)
    assert _events(session, case) == [("chargeback.expired", "system")]
    assert _messages(session, case) == ["chargeback_expired"]
    assert [(e.recipient, e.headers["X-Chargeback-Id"]) for e in _emails(session)] == [
        (seller.email, case.id)
    ]


def test_case_exactly_at_its_deadline_not_expired(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    case = make_case(session, make_order(session, make_seller(session), frozen=3_000), respond_by=DEADLINE)
    time_machine.move_to(DEADLINE, tick=False)
    assert expire_due(session, settings) == 0
    assert _reloaded(session, case).status == "needs_response"


def test_appealed_case_past_deadline_not_expired(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), frozen=3_000)
    case = make_case(session, order, respond_by=DEADLINE, status="under_review")
    time_machine.move_to(DEADLINE + timedelta(days=1), tick=False)
    assert expire_due(session, settings) == 0
    assert _reloaded(session, case).status == "under_review"
    assert _reloaded(session, order).frozen_amount_minor == 3_000


def test_second_expiry_sweep_closes_nothing_and_debits_once(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=3_000)
    case = make_case(session, order, 3_000, respond_by=DEADLINE)
    time_machine.move_to(DEADLINE + timedelta(seconds=1), tick=False)
    expire_due(session, settings)
    time_machine.shift(timedelta(minutes=1))
    assert expire_due(session, settings) == 0
    assert _reloaded(session, order).debited_amount_minor == 3_000
    assert _events(session, case) == [("chargeback.expired", "system")]


def test_expiry_sweep_over_batch_closes_batch_then_rest(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=3_000)
    cases = [make_case(session, order, 1_000, respond_by=DEADLINE) for _ in range(3)]
    time_machine.move_to(DEADLINE + timedelta(seconds=1), tick=False)
    assert expire_due(session, settings, batch=2) == 2
    assert expire_due(session, settings, batch=2) == 1
    assert {_reloaded(session, c).status for c in cases} == {"expired"}
    assert _reloaded(session, order).debited_amount_minor == 3_000


# remind_due ---------------------------------------------------------------------------


def test_case_within_reminder_horizon_reminded_once(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    seller = make_seller(session)
    case = make_case(session, make_order(session, seller, frozen=3_000), respond_by=DEADLINE)
    reminded_at = DEADLINE - timedelta(hours=23)
    time_machine.move_to(reminded_at, tick=False)

    assert remind_due(session, settings) == 1

    case = _reloaded(session, case)
    # Not a change to the case: a seller's If-Match must not trip on a reminder.
    assert (case.reminded_at, case.status, case.version) == (reminded_at, "needs_response", 1)
    assert _events(session, case) == [("chargeback.reminder_sent", "system")]
    assert _messages(session, case) == ["appeal_reminder"]
    assert [(e.recipient, e.dedupe_key) for e in _emails(session)] == [(seller.email, f"reminder:{case.id}")]
    time_machine.shift(timedelta(hours=1))
    assert remind_due(session, settings) == 0
    assert len(_emails(session)) == 1


def test_case_exactly_at_reminder_horizon_reminded(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    make_case(session, make_order(session, make_seller(session), frozen=3_000), respond_by=DEADLINE)
    time_machine.move_to(DEADLINE - REMINDER_HORIZON, tick=False)
    assert remind_due(session, settings) == 1


def test_case_beyond_reminder_horizon_not_reminded(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    case = make_case(session, make_order(session, make_seller(session), frozen=3_000), respond_by=DEADLINE)
    time_machine.move_to(DEADLINE - REMINDER_HORIZON - timedelta(seconds=1), tick=False)
    assert remind_due(session, settings) == 0
    assert _reloaded(session, case).reminded_at is None
    assert _emails(session) == []


def test_lapsed_case_not_reminded(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    make_case(session, make_order(session, make_seller(session), frozen=3_000), respond_by=DEADLINE)
    time_machine.move_to(DEADLINE + timedelta(seconds=1), tick=False)
    assert remind_due(session, settings) == 0


def test_appealed_case_not_reminded(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), frozen=3_000)
    make_case(session, order, respond_by=DEADLINE, appeal_id="apl_1", status="under_review")
    make_case(session, order, respond_by=DEADLINE, appeal_id="apl_2")  # appeal filed, status not yet moved
    time_machine.move_to(DEADLINE - timedelta(hours=1), tick=False)
    assert remind_due(session, settings) == 0


def test_reminder_hours_setting_sets_the_horizon(
    session: Session, settings: Settings, time_machine: TimeMachineFixture
) -> None:
    make_case(session, make_order(session, make_seller(session), frozen=3_000), respond_by=DEADLINE)
    time_machine.move_to(DEADLINE - timedelta(hours=30), tick=False)
    assert remind_due(session, settings) == 0
    assert remind_due(session, settings.model_copy(update={"reminder_hours_before_deadline": 30})) == 1
