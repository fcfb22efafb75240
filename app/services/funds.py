"""An order's funds: frozen by chargebacks, released when won, debited when lost.

Every change is one conditional ``UPDATE`` so concurrent notices can never freeze more than the
order's amount (the database also checks ``frozen + debited <= amount``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from app.domain.case_states import FundEffect
from app.domain.errors import AmountExceedsOrder, Conflict
from app.models.order import Order


def snapshot(order: Order) -> dict[str, int]:
    return {
        "frozen_amount_minor": order.frozen_amount_minor,
        "debited_amount_minor": order.debited_amount_minor,
    }


_RETURNED = ("frozen_amount_minor", "debited_amount_minor", "version", "updated_at")


def _apply_update(session: Session, order: Order, guard: Any, values: dict[str, Any], now: datetime) -> bool:
    row = session.execute(
        update(Order)
        .where(col(Order.id) == order.id, guard)
        .values(**values, version=col(Order.version) + 1, updated_at=now)
        .returning(*(getattr(Order, name) for name in _RETURNED))
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        session.refresh(order)  # the guard failed: show the caller the funds as they are now
        return False
    for name, value in zip(_RETURNED, row, strict=True):
        set_committed_value(order, name, value)  # the new values, without marking the order dirty
    return True


def can_freeze(amount: Any) -> ColumnElement[bool]:
    """The guard of a freeze: ``amount`` (a value or a bound parameter) is neither frozen nor debited."""
    available = col(Order.amount_minor) - col(Order.frozen_amount_minor) - col(Order.debited_amount_minor)
    guard: ColumnElement[bool] = available >= amount
    return guard


def exceeds(available: int, currency: str, amount: int) -> AmountExceedsOrder:
    """The refusal of a freeze over what is available."""
    return AmountExceedsOrder(
        f"The order has {available} {currency} minor units left that are not frozen or debited; "
        f"the chargeback asks for {amount}."
    )


def freeze(session: Session, order: Order, amount: int, now: datetime) -> int:
    """Freeze ``amount`` of the order; returns the frozen amount before. Raises if it is not available."""
    before = order.frozen_amount_minor
    frozen = col(Order.frozen_amount_minor) + amount
    ok = _apply_update(session, order, can_freeze(amount), {"frozen_amount_minor": frozen}, now)
    if not ok:
        available = order.amount_minor - order.frozen_amount_minor - order.debited_amount_minor
        raise exceeds(available, order.currency, amount)
    return before


def apply(session: Session, order: Order, effect: FundEffect, amount: int, now: datetime) -> dict[str, int]:
    """Release, debit or credit back ``amount``; returns the funds before the change."""
    before = snapshot(order)
    frozen, debited = col(Order.frozen_amount_minor), col(Order.debited_amount_minor)
    if effect is FundEffect.NONE:
        return before
    if effect is FundEffect.RELEASE:
        ok = _apply_update(session, order, frozen >= amount, {"frozen_amount_minor": frozen - amount}, now)
    elif effect is FundEffect.DEBIT:
        ok = _apply_update(
            session,
            order,
            frozen >= amount,
            {"frozen_amount_minor": frozen - amount, "debited_amount_minor": debited + amount},
            now,
        )
    else:  # REFUND_DEBIT: an expired (debited) case later won at the bank
        ok = _apply_update(session, order, debited >= amount, {"debited_amount_minor": debited - amount}, now)
    if not ok:
        raise Conflict("The order's funds do not match the case; nothing was changed.")
    return before
