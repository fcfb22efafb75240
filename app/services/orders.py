"""Orders and their fund details."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.core.ids import new_id
from app.domain.case_states import CaseStatus, effective_status
from app.domain.errors import Conflict, FieldProblem, NotFound
from app.models.chargeback import Chargeback
from app.models.order import FundStatus, Order, OrderCreate, OrderPublic
from app.models.seller import Seller
from app.security.credentials import Caller
from app.services.idempotency import Reservation


class ExternalRefTaken(Conflict):
    code = "external_ref_taken"
    title = "The seller already has an order with this external reference"


def fund_status(frozen: int, debited: int) -> FundStatus:
    if frozen > 0:
        return "frozen"
    if debited > 0:
        return "debited"
    return "available"


def to_public(session: Session, order: Order) -> OrderPublic:
    """The order's fund details, as its cases read now.

    A case reads ``expired`` the moment its window passes, but its funds move when the sweep runs;
    until then the order shows that case's amount as debited too, so the two never disagree.
    """
    now = utcnow()
    cases = session.execute(
        select(
            col(Chargeback.id),
            col(Chargeback.status),
            col(Chargeback.respond_by),
            col(Chargeback.amount_minor),
        )
        .where(col(Chargeback.order_id) == order.id)
        .order_by(col(Chargeback.created_at), col(Chargeback.id))
    ).all()
    lapsed = sum(
        c.amount_minor
        for c in cases
        if effective_status(CaseStatus(c.status), c.respond_by, now) is CaseStatus.EXPIRED
        and c.status != CaseStatus.EXPIRED.value
    )
    frozen, debited = order.frozen_amount_minor - lapsed, order.debited_amount_minor + lapsed
    return OrderPublic(
        **order.model_dump(exclude={"frozen_amount_minor", "debited_amount_minor"}),
        frozen_amount_minor=frozen,
        debited_amount_minor=debited,
        available_amount_minor=order.amount_minor - frozen - debited,
        fund_status=fund_status(frozen, debited),
        chargeback_ids=[c.id for c in cases],
    )


def create(session: Session, data: OrderCreate, reservation: Reservation | None = None) -> OrderPublic:
    begin_write(session)
    if session.get(Seller, data.seller_id) is None:
        raise NotFound(f"Seller {data.seller_id} does not exist.")
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
        reservation.complete(session, 201, public.model_dump_json())
    session.commit()
    return public


def get_for(session: Session, caller: Caller, order_id: str) -> Order:
    order = session.get(Order, order_id)
    if order is None or not caller.may_see(order.seller_id):
        raise NotFound(f"Order {order_id} does not exist.")
    return order
