"""Webhook delivery, driven by the dispatcher: fan the outbox out, claim due deliveries, send, record.

The outbox is the case's audit trail: a case change's event row is written in the change's own
transaction, flagged ``webhook_pending`` when the seller has an endpoint, so an event exists exactly
when its change committed. ``fan_out`` turns each flagged event into one delivery per subscribed
endpoint and clears the flag, in one transaction. Deliveries are claimed under a lease (as the
outbox's messages are), sent outside any transaction, and finished only by the lease's holder.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import delete, insert, or_, select, update
from sqlmodel import Session, col

from app.core.clock import rfc3339, utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.domain import webhooks as rules
from app.models.chargeback import CaseEvent, Chargeback
from app.models.message import Message
from app.models.seller import Seller
from app.models.webhook import WebhookDelivery, WebhookEndpoint
from app.notify import outbox, templates
from app.notify import webhooks as send
from app.services import webhooks
from app.services.notices import message_row

log = logging.getLogger("chargeback_desk.webhooks")

LEASE = timedelta(minutes=5)  # a batch of BATCH attempts of at most 10 s each fits in it
BATCH = 10


def fan_out(session: Session, batch: int = 200) -> int:
    """One delivery per pending event and subscribed endpoint; returns how many events were done."""
    begin_write(session)
    q = (
        select(CaseEvent, col(Chargeback.order_id))
        .join(Chargeback, col(Chargeback.id) == col(CaseEvent.chargeback_id))
        .where(col(CaseEvent.webhook_pending).is_not(None))
        .order_by(col(CaseEvent.occurred_at), col(CaseEvent.id))
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(of=CaseEvent, skip_locked=True)
    found = session.execute(q).all()
    if not found:
        session.rollback()
        return 0
    sellers = {event.seller_id for event, _ in found}
    endpoints: dict[str, list[WebhookEndpoint]] = {}
    for endpoint in session.execute(
        select(WebhookEndpoint).where(
            col(WebhookEndpoint.seller_id).in_(sellers), col(WebhookEndpoint.status) == "enabled"
        )
    ).scalars():
        endpoints.setdefault(endpoint.seller_id, []).append(endpoint)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event, order_id in found:
        type_ = rules.event_type(event.type)
        if type_ is None:
            continue
        body = orjson.dumps(
            {
                "type": type_,
                "timestamp": rfc3339(event.occurred_at),
                "data": rules.event_data(event.chargeback_id, order_id, event.seller_id, event.changes),
            }
        ).decode()
        for endpoint in endpoints.get(event.seller_id, []):
            # An endpoint hears of what happened after it was created, and only what it asked for.
            if type_ in endpoint.events and endpoint.created_at <= event.occurred_at:
                rows.append(webhooks.new_delivery(endpoint, event.id, type_, body, now))
    if rows:
        session.execute(insert(WebhookDelivery), rows)
    session.execute(
        update(CaseEvent)
        .where(col(CaseEvent.id).in_([event.id for event, _ in found]))
        .values(webhook_pending=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return len(found)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken under a lease, with what sending it needs of its endpoint."""

    id: str
    endpoint_id: str
    event_id: str
    payload: str
    attempts: int
    created_at: datetime
    locked_until: datetime
    url: str
    salts: tuple[str, ...]  # the current secret's, then the previous one's while it still signs
    last_success_at: datetime | None


def claim(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of enabled endpoints under a lease."""
    begin_write(session)
    q = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(
            col(WebhookDelivery.status) == "pending",
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(col(WebhookDelivery.locked_until).is_(None), col(WebhookDelivery.locked_until) < now),
            col(WebhookEndpoint.status) == "enabled",
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(of=WebhookDelivery, skip_locked=True)
    claimed = []
    for delivery, endpoint in session.execute(q).all():
        delivery.locked_until = now + LEASE
        delivery.attempts += 1
        salts = [endpoint.secret_salt]
        if (
            endpoint.previous_secret_salt is not None
            and endpoint.previous_secret_expires_at is not None
            and endpoint.previous_secret_expires_at > now
        ):
            salts.append(endpoint.previous_secret_salt)
        claimed.append(
            Claimed(
                id=delivery.id,
                endpoint_id=endpoint.id,
                event_id=delivery.event_id,
                payload=delivery.payload,
                attempts=delivery.attempts,
                created_at=delivery.created_at,
                locked_until=delivery.locked_until,
                url=endpoint.url,
                salts=tuple(salts),
                last_success_at=endpoint.last_success_at,
            )
        )
    session.commit()
    return claimed


def attempt(client: httpx.Client, settings: Settings, master: bytes, delivery: Claimed) -> send.Outcome:
    """One signed POST, to an address checked now (a name may resolve elsewhere than at creation)."""
    try:
        addresses = send.resolve(delivery.url, settings.webhook_allow_private_urls)
    except (send.DestinationRefused, send.DestinationUnresolvable) as exc:
        return send.Outcome(None, f"not sent: {exc}")
    at = utcnow()
    body = delivery.payload.encode()
    headers = {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": send.signature(master, delivery.salts, delivery.event_id, at, body),
        "User-Agent": "chargeback-desk-webhooks/1",
    }
    return send.post(client, delivery.url, addresses, headers, body)


def finish(session: Session, settings: Settings, delivery: Claimed, outcome: send.Outcome) -> None:
    """Record the attempt (only while our lease holds), schedule the retry, disable when due."""
    begin_write(session)
    now = utcnow()
    values: dict[str, Any] = {
        "locked_until": None,
        "last_attempt_at": now,
        "response_status": outcome.status,
        "last_error": outcome.error[:500] if outcome.error else None,
        "updated_at": now,
    }
    disable_reason = None
    if outcome.succeeded:
        values |= {"status": "succeeded", "next_attempt_at": None}
    elif outcome.status == 410:
        values |= {"status": "failed", "next_attempt_at": None}
        disable_reason = "the receiver answered 410 Gone"
    else:
        retry_after = rules.parse_retry_after(outcome.retry_after, now)
        delay = rules.retry_delay(delivery.attempts, random.random(), retry_after)
        if delay is None:
            values |= {"status": "failed", "next_attempt_at": None}
            if rules.should_disable(delivery.last_success_at, delivery.created_at):
                disable_reason = (
                    f"every attempt of delivery {delivery.id} failed since {rfc3339(delivery.created_at)}"
                )
        else:
            values |= {"next_attempt_at": now + delay}
    done = session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == delivery.id, col(WebhookDelivery.locked_until) == delivery.locked_until
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if done != 1:  # the lease ran out and another worker took it, or the endpoint was deleted
        session.rollback()
        return
    if outcome.succeeded:
        session.execute(
            update(WebhookEndpoint)
            .where(col(WebhookEndpoint.id) == delivery.endpoint_id)
            .values(last_success_at=now)
            .execution_options(synchronize_session=False)
        )
    elif disable_reason is not None and webhooks.disable(session, delivery.endpoint_id, disable_reason, now):
        _tell_seller(session, settings, delivery, disable_reason, now)
        log.warning("webhook endpoint %s disabled: %s", delivery.endpoint_id, disable_reason)
    session.commit()


def _tell_seller(session: Session, settings: Settings, delivery: Claimed, reason: str, now: datetime) -> None:
    endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
    seller = session.get_one(Seller, endpoint.seller_id)
    rendered = templates.webhook_disabled(
        seller.name, endpoint.id, endpoint.url, reason, settings.public_base_url.rstrip("/")
    )
    session.add(Message(**message_row(seller, None, rendered, now)))
    outbox.enqueue(
        session,
        channel="email",
        recipient=seller.email,
        subject=rendered.title,
        body=rendered.body,
        headers={"From": settings.mail_from},
        now=now,
    )


def deliver_due(session: Session, client: httpx.Client, settings: Settings, batch: int = BATCH) -> int:
    """Send one batch of due deliveries; returns how many were attempted."""
    master = webhooks.master_key(settings)
    claimed = claim(session, utcnow(), batch)
    for delivery in claimed:
        try:
            outcome = attempt(client, settings, master, delivery)
        except Exception as exc:  # recorded as a failed attempt, so the schedule still ends
            log.exception("webhook delivery %s crashed", delivery.id)
            outcome = send.Outcome(None, f"could not send ({type(exc).__name__})")
        if not outcome.succeeded:
            log.info(
                "webhook delivery %s attempt %d failed: %s", delivery.id, delivery.attempts, outcome.error
            )
        finish(session, settings, delivery, outcome)
    return len(claimed)


KEEP_DELIVERIES = timedelta(days=30)


def purge(session: Session, now: datetime) -> int:
    """Forget finished deliveries older than ``KEEP_DELIVERIES`` (the log's horizon for replays)."""
    begin_write(session)
    removed = session.execute(
        delete(WebhookDelivery)
        .where(
            col(WebhookDelivery.status) != "pending",
            col(WebhookDelivery.updated_at) < now - KEEP_DELIVERIES,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(removed)
