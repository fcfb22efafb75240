"""Chargeback use cases: ruling, acceptance, expiry and reminders (notices: ``ingestion``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.core.clock import rfc3339, utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.domain import case_states as cs
from app.domain.errors import (
    NotFound,
    PreconditionFailed,
    check_version,
)
from app.models.chargeback import Chargeback, ChargebackPublic, RulingCreate
from app.models.order import Order
from app.models.seller import Seller
from app.notify import templates
from app.security.credentials import Caller
from app.services import audit, funds, views
from app.services.notices import case_facts, tell_seller


def to_public(case: Chargeback, settings: Settings, now: datetime) -> ChargebackPublic:
    return ChargebackPublic.model_validate(views.chargeback(case, settings, now))


def get_for(session: Session, caller: Caller, case_id: str) -> Chargeback:
    """Load a case the caller may see; someone else's case is "not found", like a missing one."""
    case = session.get(Chargeback, case_id)
    if case is None or not caller.may_see(case.seller_id):
        raise NotFound(f"Chargeback {case_id} does not exist.")
    return case


def _close(
    session: Session,
    settings: Settings,
    case: Chargeback,
    action: cs.CaseAction,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Move a case to a closed state, settle its funds, record it and tell the seller (no commit)."""
    previous = cs.CaseStatus(case.status)
    new = cs.next_status(previous, action)
    order = session.get_one(Order, case.order_id)
    funds_before = funds.apply(session, order, cs.transition_effect(previous, new), case.amount_minor, now)
    changed = session.execute(
        update(Chargeback)
        .where(col(Chargeback.id) == case.id, col(Chargeback.version) == case.version)
        .values(
            status=new.value,
            closed_at=now,
            ruling_note=note,
            version=case.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise PreconditionFailed("The case changed while this request was processed; reload it and retry.")
    session.refresh(case)
    changes: dict[str, Any] = {
        "status": [previous.value, new.value],
        "order.funds": [funds_before, funds.snapshot(order)],
    }
    if note:
        changes["note"] = note
    audit.record(session, case, f"chargeback.{new.value}", actor, now, changes)
    seller = session.get_one(Seller, case.seller_id)
    rendered = templates.case_closed(case_facts(settings, seller, order, case, now), new.value, note, now)
    tell_seller(session, settings, seller, case, rendered, now)


def _settle_expiry(session: Session, settings: Settings, case: Chargeback, now: datetime) -> None:
    """Expire a case whose window passed before any job did (so later transitions see true funds)."""
    stored = cs.CaseStatus(case.status)
    if (
        stored is cs.CaseStatus.NEEDS_RESPONSE
        and cs.effective_status(stored, case.respond_by, now) is cs.CaseStatus.EXPIRED
    ):
        _close(session, settings, case, cs.CaseAction.EXPIRE, "system", now)


def rule(
    session: Session,
    settings: Settings,
    caller: Caller,
    case_id: str,
    data: RulingCreate,
    if_match: int | None,
) -> ChargebackPublic:
    """Record the bank's ruling: ``won`` releases the frozen funds, ``lost`` debits them."""
    begin_write(session)
    case = get_for(session, caller, case_id)
    # Lock the case (PostgreSQL): a concurrent writer waits, then sees it closed (409) or changed (412).
    session.refresh(case, with_for_update=True)
    now = utcnow()  # after the lock: timestamps follow commit order (``updated_since``)
    check_version("case", case.version, if_match)
    _settle_expiry(session, settings, case, now)
    action = cs.CaseAction.RULE_WON if data.outcome == "won" else cs.CaseAction.RULE_LOST
    _close(session, settings, case, action, caller.actor, now, data.note)
    session.commit()
    return to_public(case, settings, now)


def accept(
    session: Session, settings: Settings, caller: Caller, case_id: str, if_match: int | None
) -> ChargebackPublic:
    """The seller accepts liability: the case closes as ``accepted`` and the funds are debited."""
    begin_write(session)
    case = get_for(session, caller, case_id)
    session.refresh(case, with_for_update=True)  # as in ``rule``: concurrent writers queue on the case
    now = utcnow()
    check_version("case", case.version, if_match)
    _settle_expiry(session, settings, case, now)
    _close(session, settings, case, cs.CaseAction.ACCEPT, caller.actor, now)
    session.commit()
    return to_public(case, settings, now)


def expire_due(session: Session, settings: Settings, batch: int = 100) -> int:
    """Sweep: close every case whose window passed without an appeal. Returns how many were closed."""
    now = utcnow()
    q = (
        select(col(Chargeback.id))
        .where(col(Chargeback.status) == cs.CaseStatus.NEEDS_RESPONSE.value, col(Chargeback.respond_by) < now)
        .limit(batch)
    )
    done = 0
    for (case_id,) in session.execute(q).all():
        session.rollback()
        begin_write(session)
        case = session.get(Chargeback, case_id, with_for_update=True)
        if case is None or case.status != cs.CaseStatus.NEEDS_RESPONSE.value:
            session.rollback()
            continue
        _settle_expiry(session, settings, case, now)
        session.commit()
        done += 1
    session.rollback()
    return done


def remind_due(session: Session, settings: Settings, batch: int = 100) -> int:
    """Sweep: remind an open, unappealed case once, a set number of hours before ``respond_by``."""
    now = utcnow()
    horizon = now + timedelta(hours=settings.reminder_hours_before_deadline)
    q = (
        select(col(Chargeback.id))
        .where(
            col(Chargeback.status) == cs.CaseStatus.NEEDS_RESPONSE.value,
            col(Chargeback.appeal_id).is_(None),
            col(Chargeback.reminded_at).is_(None),
            col(Chargeback.respond_by) >= now,
            col(Chargeback.respond_by) <= horizon,
        )
        .limit(batch)
    )
    done = 0
    for (case_id,) in session.execute(q).all():
        session.rollback()
        begin_write(session)
        claimed = session.execute(
            update(Chargeback)
            .where(col(Chargeback.id) == case_id, col(Chargeback.reminded_at).is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:  # another worker got there first
            session.rollback()
            continue
        case = session.get_one(Chargeback, case_id)
        session.refresh(case)
        order = session.get_one(Order, case.order_id)
        seller = session.get_one(Seller, case.seller_id)
        rendered = templates.reminder(case_facts(settings, seller, order, case, now))
        tell_seller(session, settings, seller, case, rendered, now, dedupe_key=f"reminder:{case.id}")
        audit.record(
            session, case, "chargeback.reminder_sent", "system", now, {"reminded_at": [None, rfc3339(now)]}
        )
        session.commit()
        done += 1
    session.rollback()
    return done
