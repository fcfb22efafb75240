"""Orders and their fund details."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.clock import utcnow
from app.core.db import begin_write
from app.core.ids import new_id
from app.domain.errors import Conflict, FieldProblem, NotFound
from app.models.account import Account
from app.models.order import Order, OrderCreate
from app.models.seller import Seller
from app.services import views
from app.services.idempotency import Reservation
from app.services.reads import ORDER_CASES
from app.services.views import json_text


class ExternalRefTaken(Conflict):
    code = "external_ref_taken"
    title = "The seller already has an order with this external reference"


def to_public(session: Session, order: Order) -> dict[str, Any]:
    cases = session.connection().execute(ORDER_CASES, {"order_id": order.id}).all()
    return views.order(order, cases, utcnow())


def create(session: Session, data: OrderCreate, reservation: Reservation | None = None) -> dict[str, Any]:
    begin_write(session)
    if session.get(Seller, data.seller_id) is None:
        raise NotFound(f"Seller {data.seller_id} does not exist.")
    if data.buyer_account_id is not None and session.get(Account, data.buyer_account_id) is None:
        # An order of an unknown buyer would never reach anyone's personal centre.
        raise NotFound(
            f"Account {data.buyer_account_id} does not exist.",
            errors=[FieldProblem("buyer_account_id", "no such account")],
        )
    now = utcnow()
    # placed_at is passed as itself: model_dump() would turn it into its RFC 3339 text.
    fields = data.model_dump(exclude={"placed_at"})
    order = Order(id=new_id("ord"), **fields, placed_at=data.placed_at, created_at=now, updated_at=now)
    session.add(order)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ExternalRefTaken(
            f"Seller {data.seller_id} already has order {data.external_ref}.",
            errors=[FieldProblem("external_ref", "already used by another order of this seller")],
        ) from None
    public = to_public(session, order)
    if reservation is not None:
        reservation.complete(session, 201, json_text(public))
    session.commit()
    return public
