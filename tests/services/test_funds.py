"""app.services.funds: every movement is one guarded UPDATE; a failed guard changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col
from time_machine import TimeMachineFixture

from app.core.clock import utcnow
from app.domain.case_states import FundEffect
from app.domain.errors import AmountExceedsOrder, Conflict
from app.models.order import Order
from app.services import funds
from tests.services.conftest import T0, make_order, make_seller


def _order(session: Session, amount: int = 10_000, frozen: int = 0, debited: int = 0) -> Order:
    return make_order(session, make_seller(session), amount, frozen, debited)


def _stored(session: Session, order: Order) -> tuple[int, int, int]:
    """The order's funds and version as the database has them."""
    session.expire(order)
    return order.frozen_amount_minor, order.debited_amount_minor, order.version


# Snapshot ----------------------------------------------------------------------------


def test_snapshot_of_order_holds_frozen_and_debited_only(session: Session) -> None:
    order = _order(session, frozen=3_000, debited=2_000)
    assert funds.snapshot(order) == {"frozen_amount_minor": 3_000, "debited_amount_minor": 2_000}


# Freeze ------------------------------------------------------------------------------


def test_freeze_within_available_amount_adds_and_returns_frozen_before(
    session: Session, time_machine: TimeMachineFixture
) -> None:
    order = _order(session, frozen=2_000, debited=1_000)
    time_machine.shift(timedelta(minutes=5))
    assert funds.freeze(session, order, 3_000, utcnow()) == 2_000
    assert (order.frozen_amount_minor, order.version, order.updated_at) == (
        5_000,
        2,
        T0 + timedelta(minutes=5),
    )
    assert order not in session.dirty  # the UPDATE's values, not pending changes to flush again
    assert _stored(session, order) == (5_000, 1_000, 2)


def test_freeze_of_exactly_the_available_amount_accepted(session: Session) -> None:
    order = _order(session, frozen=4_000, debited=3_000)
    funds.freeze(session, order, 3_000, utcnow())
    assert _stored(session, order) == (7_000, 3_000, 2)


def test_freeze_over_available_amount_refused_and_nothing_changed(session: Session) -> None:
    order = _order(session, frozen=4_000, debited=3_000)
    with pytest.raises(AmountExceedsOrder) as exc_info:
        funds.freeze(session, order, 3_001, utcnow())
    assert exc_info.value.code == "amount_exceeds_order"
    assert "3000 EUR minor units left" in exc_info.value.detail
    assert "asks for 3001" in exc_info.value.detail
    assert _stored(session, order) == (4_000, 3_000, 1)


def test_freeze_over_amount_frozen_meanwhile_refused_on_database_values(session: Session) -> None:
    order = _order(session)
    session.execute(
        update(Order)
        .where(col(Order.id) == order.id)
        .values(frozen_amount_minor=8_000)
        .execution_options(synchronize_session=False)
    )
    assert order.frozen_amount_minor == 0  # this copy has not seen the other writer
    with pytest.raises(AmountExceedsOrder) as exc_info:
        funds.freeze(session, order, 5_000, utcnow())
    assert "2000 EUR minor units left" in exc_info.value.detail  # the refreshed order, not the stale one
    assert order.frozen_amount_minor == 8_000


# Release, debit, refund of a debit -----------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "before", "after"),
    [
        pytest.param(FundEffect.RELEASE, (5_000, 1_000), (2_000, 1_000), id="release"),
        pytest.param(FundEffect.DEBIT, (5_000, 1_000), (2_000, 4_000), id="debit"),
        pytest.param(FundEffect.REFUND_DEBIT, (1_000, 5_000), (1_000, 2_000), id="refund-debit"),
    ],
)
def test_apply_effect_moves_amount_and_returns_funds_before(
    session: Session, effect: FundEffect, before: tuple[int, int], after: tuple[int, int]
) -> None:
    order = _order(session, frozen=before[0], debited=before[1])
    returned = funds.apply(session, order, effect, 3_000, utcnow())
    assert returned == {"frozen_amount_minor": before[0], "debited_amount_minor": before[1]}
    assert funds.snapshot(order) == {"frozen_amount_minor": after[0], "debited_amount_minor": after[1]}
    assert order not in session.dirty
    assert _stored(session, order) == (*after, 2)


@pytest.mark.parametrize(
    ("effect", "frozen", "debited"),
    [
        pytest.param(FundEffect.RELEASE, 2_999, 5_000, id="release-more-than-frozen"),
        pytest.param(FundEffect.DEBIT, 2_999, 5_000, id="debit-more-than-frozen"),
        pytest.param(FundEffect.REFUND_DEBIT, 5_000, 2_999, id="refund-more-than-debited"),
    ],
)
def test_apply_effect_beyond_funds_refused_as_conflict_and_nothing_changed(
    session: Session, effect: FundEffect, frozen: int, debited: int
) -> None:
    order = _order(session, frozen=frozen, debited=debited)
    with pytest.raises(Conflict) as exc_info:
        funds.apply(session, order, effect, 3_000, utcnow())
    assert exc_info.type is Conflict
    assert exc_info.value.code == "conflict"
    assert _stored(session, order) == (frozen, debited, 1)


def test_apply_no_effect_writes_nothing(session: Session) -> None:
    order = _order(session, frozen=3_000)
    assert funds.apply(session, order, FundEffect.NONE, 3_000, utcnow()) == funds.snapshot(order)
    assert _stored(session, order) == (3_000, 0, 1)
