"""app.services.orders.to_public: the order's funds as its cases read now, before any sweep ran."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session
from time_machine import TimeMachineFixture

from app.models.order import Order, OrderPublic
from app.services import orders
from tests.services.conftest import T0, make_case, make_order, make_seller

DEADLINE = T0 + timedelta(hours=1)


def _public(session: Session, order: Order) -> OrderPublic:
    """The order as the API returns it (validated, whether the service hands back a model or a dict)."""
    return OrderPublic.model_validate(orders.to_public(session, order))


def test_lapsed_but_unswept_case_counts_as_debited(
    session: Session, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=5_000)
    make_case(session, order, 3_000, respond_by=DEADLINE)
    make_case(session, order, 2_000, respond_by=DEADLINE + timedelta(days=2))
    time_machine.move_to(DEADLINE + timedelta(microseconds=1), tick=False)
    public = _public(session, order)
    assert (public.frozen_amount_minor, public.debited_amount_minor, public.available_amount_minor) == (
        2_000,
        3_000,
        5_000,
    )
    assert public.fund_status == "frozen"  # the other case still holds funds


def test_only_lapsed_case_shows_order_debited(session: Session, time_machine: TimeMachineFixture) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=3_000)
    make_case(session, order, 3_000, respond_by=DEADLINE)
    time_machine.move_to(DEADLINE + timedelta(seconds=1), tick=False)
    public = _public(session, order)
    assert (public.frozen_amount_minor, public.debited_amount_minor, public.fund_status) == (
        0,
        3_000,
        "debited",
    )


def test_case_exactly_at_its_deadline_still_frozen(
    session: Session, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=3_000)
    make_case(session, order, 3_000, respond_by=DEADLINE)
    time_machine.move_to(DEADLINE, tick=False)
    public = _public(session, order)
    assert (public.frozen_amount_minor, public.debited_amount_minor, public.fund_status) == (
        3_000,
        0,
        "frozen",
    )


def test_appealed_case_past_deadline_still_frozen(session: Session, time_machine: TimeMachineFixture) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=3_000)
    make_case(session, order, 3_000, respond_by=DEADLINE, status="under_review")
    time_machine.move_to(DEADLINE + timedelta(days=1), tick=False)
    public = _public(session, order)
    assert (public.frozen_amount_minor, public.debited_amount_minor) == (3_000, 0)


def test_swept_expired_case_counted_as_debited_once(
    session: Session, time_machine: TimeMachineFixture
) -> None:
    order = make_order(session, make_seller(session), 10_000, debited=3_000)
    make_case(session, order, 3_000, respond_by=DEADLINE, status="expired")
    time_machine.move_to(DEADLINE + timedelta(days=1), tick=False)
    public = _public(session, order)
    assert (public.frozen_amount_minor, public.debited_amount_minor, public.available_amount_minor) == (
        0,
        3_000,
        7_000,
    )


def test_order_without_cases_available_and_lists_no_cases(session: Session) -> None:
    order = make_order(session, make_seller(session), 10_000)
    public = _public(session, order)
    assert (public.available_amount_minor, public.fund_status, public.chargeback_ids) == (
        10_000,
        "available",
        [],
    )


def test_cases_listed_oldest_first(session: Session, time_machine: TimeMachineFixture) -> None:
    order = make_order(session, make_seller(session), 10_000, frozen=3_000)
    first = make_case(session, order, 1_000)
    time_machine.shift(timedelta(minutes=1))
    second = make_case(session, order, 2_000)
    assert _public(session, order).chargeback_ids == [first.id, second.id]
