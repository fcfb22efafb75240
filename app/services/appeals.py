"""The evidence report and the appeal: one package per case, built, stored and mailed once.

Submitting reads a snapshot of the case and its evidence, refuses early what it can, builds the PDF
package and stores it, all outside any transaction; then one transaction locks the case, checks
everything again on the server clock (deadline, one appeal, evidence unchanged since the snapshot),
and records the appeal, freezes the evidence, moves the case to ``under_review``, tells the seller
and queues the package's email to ``APPEAL_MAILBOX``. Any failure removes the stored package.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import rfc3339, utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import has_prefix, new_id
from app.domain import case_states as cs
from app.domain import evidence_rules as rules
from app.domain.errors import (
    AppealExists,
    CaseClosed,
    DeadlinePassed,
    EvidenceChanged,
    FieldProblem,
    MissingRequiredEvidence,
    NotFound,
    check_version,
)
from app.domain.money import minor_units
from app.models.chargeback import Chargeback
from app.models.evidence import Appeal, AppealCreate, Evidence
from app.models.order import Order
from app.models.seller import Seller
from app.notify import outbox, templates
from app.security.credentials import Caller
from app.services import audit, views
from app.services.idempotency import Reservation
from app.services.notices import case_facts, tell_seller
from app.storage import Storage
from app.storage.package import Cover, PackageItem, build_package, estimate_pages

_DATES = ("shipped_at", "delivered_at", "refunded_at", "expected_delivery_at")
_FACT_LABELS = {
    "carrier": "Carrier",
    "tracking_number": "Tracking number",
    "shipped_at": "Shipped",
    "delivered_at": "Delivered",
    "delivery_address": "Delivery address",
    "signed": "Signed for",
    "signed_by": "Signed by",
    "expected_delivery_at": "Promised delivery",
    "refund_id": "Refund id",
    "refund_amount_minor": "Refund amount (minor units)",
    "refund_currency": "Refund currency",
    "refunded_at": "Refunded",
}


def _facts(raw: dict[str, Any]) -> dict[str, Any]:
    """Stored facts (JSON) with their timestamps as datetimes again, for the rule module."""
    return {k: datetime.fromisoformat(v) if k in _DATES and isinstance(v, str) else v for k, v in raw.items()}


def provided(items: Sequence[Any]) -> list[rules.ProvidedEvidence]:
    return [
        rules.ProvidedEvidence(
            id=i.id,
            evidence_type=i.evidence_type,
            facts=_facts(i.facts),
            pages=i.pages,
            size_bytes=i.size_bytes,
        )
        for i in items
    ]


def package_items(items: Sequence[Any]) -> list[PackageItem]:
    """The package's index: every item in upload order."""
    return [
        PackageItem(
            number=n,
            evidence_id=i.id,
            evidence_type=i.evidence_type,
            type_label=rules.TYPE_LABELS[rules.EvidenceType(i.evidence_type)],
            filename=i.filename,
            content_type=i.content_type,
            sha256=i.sha256,
            size_bytes=i.size_bytes,
            pages=i.pages,
            description=i.description,
            text=i.text,
            facts={_FACT_LABELS.get(k, k): _fact_text(v) for k, v in i.facts.items()},
            storage_key=i.storage_key,
        )
        for n, i in enumerate(items, start=1)
    ]


def _fact_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def report(
    settings: Settings, case: Any, order_address: str | None, items: Sequence[Any], now: datetime
) -> rules.EvidenceReport:
    """The evidence report of a case (rows or objects) as it stands at ``now``."""
    status = cs.effective_status(cs.CaseStatus(case.status), case.respond_by, now)
    context = rules.CaseContext(
        reason_category=case.reason_category,
        amount_minor=case.amount_minor,
        currency=case.currency,
        received_at=case.received_at,
        respond_by=case.respond_by,
        now=now,
        accepting_appeal=status is cs.CaseStatus.NEEDS_RESPONSE and case.appeal_id is None,
        order_address=order_address,
        package_bytes=sum(i.size_bytes for i in items),
        package_pages=estimate_pages(0, package_items(items)),
        max_package_bytes=settings.max_evidence_case_bytes,
        max_package_pages=settings.max_package_pages,
    )
    return rules.evaluate(context, provided(items))


def _refuse_unless_appealable(case: Chargeback, now: datetime) -> None:
    if case.appeal_id is not None:
        raise AppealExists(f"Chargeback {case.id} was appealed already ({case.appeal_id}).")
    status = cs.effective_status(cs.CaseStatus(case.status), case.respond_by, now)
    if status is cs.CaseStatus.EXPIRED:
        raise DeadlinePassed(
            f"The appeal window of chargeback {case.id} closed at {rfc3339(case.respond_by)}."
        )
    if status is not cs.CaseStatus.NEEDS_RESPONSE:
        raise CaseClosed(f"Chargeback {case.id} is {status.value}; it can no longer be appealed.")


def _evidence_of(session: Session, case_id: str) -> list[Evidence]:
    q = (
        select(Evidence)
        .where(col(Evidence.chargeback_id) == case_id)
        .order_by(col(Evidence.created_at), col(Evidence.id))
    )
    return list(session.execute(q).scalars())


def _when(settings: Settings, at: datetime) -> str:
    local = settings.calendar.to_local(at)
    return f"{local:%Y-%m-%d %H:%M} {settings.business_timezone} ({at:%Y-%m-%d %H:%M} UTC)"


def _cover(
    settings: Settings, case: Chargeback, order: Order, seller: Seller, statement: str, now: datetime
) -> Cover:
    return Cover(
        case_id=case.id,
        order_id=order.id,
        order_label=order.external_ref or order.id,
        seller_name=seller.name,
        reason_code=case.reason_code,
        reason_title=case.reason_title,
        reason_category=case.reason_category,
        network=case.network,
        amount=templates.format_amount(case.amount_minor, case.currency, minor_units(case.currency)),
        bank_reference=case.bank_reference,
        received_at=_when(settings, case.received_at),
        respond_by=_when(settings, case.respond_by),
        submitted_at=_when(settings, now),
        statement=statement,
    )


def _missing(found: rules.EvidenceReport) -> MissingRequiredEvidence:
    path = found.nearest
    needed = [*path.missing_required, *(" or ".join(group) for group in path.missing_one_of)]
    return MissingRequiredEvidence(
        f"The case's nearest defence path ({path.rule.name}) still needs: {', '.join(needed)}. "
        "See the evidence report.",
        errors=[FieldProblem("evidence", f"missing {item}") for item in needed],
    )


def submit(
    session: Session,
    settings: Settings,
    storage: Storage,
    caller: Caller,
    case_id: str,
    data: AppealCreate,
    reservation: Reservation | None,
    if_match: int | None = None,
) -> dict[str, Any]:
    """File the case's one appeal: see the module docstring for the order of things."""
    case = session.get(Chargeback, case_id) if has_prefix(case_id, "cb") else None
    if case is None or not caller.may_see(case.seller_id):
        raise NotFound(f"Chargeback {case_id} does not exist.")
    check_version("case", case.version, if_match)
    _refuse_unless_appealable(case, utcnow())
    order = session.get_one(Order, case.order_id)
    seller = session.get_one(Seller, case.seller_id)
    items = _evidence_of(session, case.id)
    found = report(settings, case, order.shipping_address, items, utcnow())
    if not found.nearest.satisfied:
        raise _missing(found)
    # Detached, the snapshot keeps its values; ending the read transaction holds nothing while building.
    session.expunge_all()
    session.rollback()

    appeal_id = new_id("apl")
    key = f"{case.id}/{appeal_id}.pdf"
    built_at = utcnow()
    with tempfile.TemporaryFile() as spool:
        built = build_package(
            spool,
            _cover(settings, case, order, seller, data.statement, built_at),
            package_items(items),
            storage.open,
        )
        spool.seek(0)
        storage.put(key, spool)
    try:
        public = _record(
            session,
            settings,
            caller,
            case.id,
            data,
            reservation,
            appeal_id,
            key,
            built,
            items,
            found,
            if_match,
        )
    except BaseException:
        session.rollback()
        storage.delete(key)
        raise
    return public


def _record(
    session: Session,
    settings: Settings,
    caller: Caller,
    case_id: str,
    data: AppealCreate,
    reservation: Reservation | None,
    appeal_id: str,
    key: str,
    built: Any,
    items: Sequence[Evidence],
    found: rules.EvidenceReport,
    if_match: int | None,
) -> dict[str, Any]:
    begin_write(session)
    case = session.get_one(Chargeback, case_id, with_for_update=True)
    session.refresh(case)
    now = utcnow()  # the server clock at submit time decides the deadline
    check_version("case", case.version, if_match)
    _refuse_unless_appealable(case, now)
    evidence_ids = [i.id for i in items]
    current = [i.id for i in _evidence_of(session, case.id)]
    if current != evidence_ids:
        raise EvidenceChanged("Evidence was added or removed while the package was built; submit again.")
    order = session.get_one(Order, case.order_id)
    seller = session.get_one(Seller, case.seller_id)
    appeal = Appeal(
        id=appeal_id,
        chargeback_id=case.id,
        order_id=case.order_id,
        seller_id=case.seller_id,
        statement=data.statement,
        evidence_ids=evidence_ids,
        path=found.nearest.rule.name,
        package_key=key,
        package_sha256=built.sha256,
        package_size_bytes=built.size_bytes,
        package_pages=built.pages,
        submitted_by=caller.actor,
        submitted_at=now,
    )
    session.add(appeal)
    try:
        session.flush()
    except IntegrityError:
        raise AppealExists(f"Chargeback {case.id} was appealed already.") from None
    if evidence_ids:
        session.execute(
            update(Evidence)
            .where(col(Evidence.id).in_(evidence_ids))
            .values(appeal_id=appeal.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    previous = case.status
    new = cs.next_status(cs.CaseStatus(previous), cs.CaseAction.APPEAL)
    case.status, case.appeal_id = new.value, appeal.id
    case.version, case.updated_at = case.version + 1, now
    changes = {
        "status": [previous, new.value],
        "appeal_id": [None, appeal.id],
        "package_sha256": built.sha256,
        "evidence_ids": evidence_ids,
    }
    audit.record(session, case, "chargeback.appealed", caller.actor, now, changes)
    facts = case_facts(settings, seller, order, case, now)
    tell_seller(
        session, settings, seller, case, templates.appeal_submitted(facts, appeal.id, built.pages), now
    )
    label = order.external_ref or order.id
    outbox.enqueue(
        session,
        channel="email",
        recipient=settings.appeal_mailbox,
        subject=f"Chargeback appeal: order {label} ({order.id}), case {case.id}",
        body=templates.appeal_mail(facts, data.statement, built.sha256, built.pages),
        headers={
            "From": settings.mail_from,
            "X-Chargeback-Id": case.id,
            "X-Order-Id": order.id,
            "attachments": [
                {"key": key, "filename": f"appeal-{case.id}.pdf", "content_type": "application/pdf"}
            ],
        },
        now=now,
        dedupe_key=f"appeal:{case.id}",
    )
    public = views.appeal(appeal, settings)
    if reservation is not None:
        reservation.complete(session, 201, views.json_text(public))
    session.commit()
    return public
