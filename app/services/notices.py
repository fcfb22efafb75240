"""Telling the seller about a case: a message-centre entry and an email, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.core.config import Settings
from app.core.ids import new_id
from app.domain.money import minor_units
from app.domain.reasons import classify
from app.models.chargeback import Chargeback
from app.models.message import Message
from app.models.order import Order
from app.models.seller import Seller
from app.notify import templates
from app.notify.outbox import enqueue


def case_facts(
    settings: Settings, seller: Seller, order: Order, case: Chargeback, now: datetime
) -> templates.CaseFacts:
    calendar = settings.calendar
    return templates.CaseFacts(
        seller_name=seller.name,
        order_label=order.external_ref or order.id,
        amount=templates.format_amount(case.amount_minor, case.currency, minor_units(case.currency)),
        reason_title=case.reason_title,
        reason_explanation=classify(case.reason_code, case.network).explanation,
        reason_code=case.reason_code,
        bank_reference=case.bank_reference,
        case_id=case.id,
        respond_by_local=calendar.to_local(case.respond_by),
        timezone=settings.business_timezone,
        working_days=calendar.working_days_left(now, case.respond_by),
        case_url=f"{settings.public_base_url.rstrip('/')}/v1/chargebacks/{case.id}",
        seller_timezone=seller.timezone,
    )


def tell_seller(
    session: Session,
    settings: Settings,
    seller: Seller,
    case: Chargeback,
    rendered: templates.Rendered,
    now: datetime,
    dedupe_key: str | None = None,
) -> None:
    """Message centre + email; with a ``dedupe_key`` the email is queued at most once."""
    session.add(
        Message(
            id=new_id("msg"),
            seller_id=seller.id,
            chargeback_id=case.id,
            kind=rendered.kind,
            title=rendered.title,
            body=rendered.body,
            created_at=now,
        )
    )
    enqueue(
        session,
        channel="email",
        recipient=seller.email,
        subject=rendered.title,
        body=rendered.body,
        headers={"From": settings.mail_from, "X-Chargeback-Id": case.id},
        dedupe_key=dedupe_key,
        now=now,
    )
