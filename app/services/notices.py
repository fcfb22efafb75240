"""Telling the seller about a case: a message-centre entry and an email, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from app.core.config import Settings
from app.core.ids import new_id
from app.domain.evidence_rules import advice_lines
from app.domain.money import minor_units
from app.domain.reasons import classify
from app.models.message import Message
from app.notify import outbox, templates

# What these functions read of a seller, an order and a case: the ORM objects, or the plain rows
# that ingestion writes with Core statements.


class SellerView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class OrderView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def external_ref(self) -> str | None: ...


class CaseView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def reason_code(self) -> str: ...
    @property
    def network(self) -> str | None: ...
    @property
    def reason_title(self) -> str: ...
    @property
    def reason_category(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def bank_reference(self) -> str: ...
    @property
    def respond_by(self) -> datetime: ...


def case_facts(
    settings: Settings, seller: SellerView, order: OrderView, case: CaseView, now: datetime
) -> templates.CaseFacts:
    calendar = settings.calendar
    base = settings.public_base_url.rstrip("/")
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
        case_url=f"{base}/v1/chargebacks/{case.id}",
        seller_timezone=seller.timezone,
        checklist=tuple(advice_lines(case.reason_category)),
        report_url=f"{base}/v1/chargebacks/{case.id}/evidence-report",
    )


def message_row(
    seller: SellerView, case_id: str | None, rendered: templates.Rendered, now: datetime
) -> dict[str, Any]:
    """The message-centre entry as a row (``tell_seller`` adds it as an object)."""
    return {
        "id": new_id("msg"),
        "seller_id": seller.id,
        "chargeback_id": case_id,
        "kind": rendered.kind,
        "title": rendered.title,
        "body": rendered.body,
        "created_at": now,
        "read_at": None,
        "updated_at": now,
    }


def _email(
    settings: Settings, seller: SellerView, case_id: str, rendered: templates.Rendered
) -> dict[str, Any]:
    return {
        "channel": "email",
        "recipient": seller.email,
        "subject": rendered.title,
        "body": rendered.body,
        "headers": {"From": settings.mail_from, "X-Chargeback-Id": case_id},
    }


def notice_rows(
    settings: Settings, seller: SellerView, case_id: str, rendered: templates.Rendered, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``tell_seller`` as two rows to insert, the message-centre entry and the outbox email."""
    return message_row(seller, case_id, rendered, now), outbox.row(
        **_email(settings, seller, case_id, rendered), now=now
    )


def tell_seller(
    session: Session,
    settings: Settings,
    seller: SellerView,
    case: CaseView,
    rendered: templates.Rendered,
    now: datetime,
    dedupe_key: str | None = None,
) -> None:
    """Message centre + email; with a ``dedupe_key`` the email is queued at most once."""
    session.add(Message(**message_row(seller, case.id, rendered, now)))
    outbox.enqueue(session, **_email(settings, seller, case.id, rendered), dedupe_key=dedupe_key, now=now)
