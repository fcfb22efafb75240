"""The dispatcher: delivers the outbox (with retries and back-off) and runs the case sweeps.

It runs in the API process by default (``DISPATCH_IN_PROCESS``) or as ``chargeback-desk worker``
processes. Messages are claimed with a lease: on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so
workers never take the same message at the same time; on SQLite claims are serialised by the
database's single writer. A delivery is marked done only by the holder of the lease.

A process role beside ``main`` and ``cli``, not a notification channel: it drives the services
(sweeps, idempotency purge) and the channels, so it stands above both layers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.domain.webhooks import DELIVERY_TIMEOUT_SECONDS
from app.models.outbox import OutboxMessage
from app.notify.channels import ChannelDisabled, DeliveryError, send_email, send_sms
from app.services import chargebacks, evidence, idempotency, webhook_delivery
from app.storage import storage_from_url

log = logging.getLogger("chargeback_desk.dispatcher")

LEASE = timedelta(minutes=2)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=2)
MAINTAIN_EVERY_SECONDS = 3600


def backoff(attempts: int, jitter: float) -> timedelta:
    """30 s, 1 min, 2 min … capped at 2 h; ``jitter`` in [0, 1) spreads retries by up to 20 %."""
    # The exponent is bounded: 30 s * 2**42 overflows timedelta (DISPATCH_MAX_ATTEMPTS has no upper limit).
    delay: timedelta = min(BASE_DELAY * 2 ** min(max(attempts - 1, 0), 20), MAX_DELAY)
    return delay * (1 + 0.2 * jitter)


def claim(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages under a lease."""
    begin_write(session)
    q = (
        select(OutboxMessage)
        .where(
            col(OutboxMessage.status) == "pending",
            col(OutboxMessage.next_attempt_at) <= now,
            or_(col(OutboxMessage.locked_until).is_(None), col(OutboxMessage.locked_until) < now),
        )
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = list(session.execute(q).scalars())
    for row in rows:
        row.locked_until = now + LEASE
        row.attempts += 1
    session.commit()
    return rows


def _renew(session: Session, msg: OutboxMessage) -> bool:
    """Extend our lease just before sending; False if it ran out and another worker took the message."""
    begin_write(session)
    new_lease = utcnow() + LEASE
    renewed = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == msg.id, col(OutboxMessage.locked_until) == msg.locked_until)
        .values(locked_until=new_lease)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    if renewed == 1:
        set_committed_value(msg, "locked_until", new_lease)  # our fence token, not a change to flush
    return bool(renewed == 1)


def _finish(session: Session, msg: OutboxMessage, values: dict[str, object]) -> None:
    begin_write(session)
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == msg.id, col(OutboxMessage.locked_until) == msg.locked_until)
        .values(locked_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


REDACTED = "[removed after delivery: it held a one-time code or link]"


def _spent(msg: OutboxMessage) -> dict[str, object]:
    """A delivered (or abandoned) message that carried a code or a link keeps no copy of it."""
    return {"body": REDACTED} if msg.headers.get("sensitive") else {}


class Dispatcher:
    def __init__(self, engine: Engine, settings: Settings, batch: int = 20) -> None:
        self.engine = engine
        self.settings = settings
        self.batch = batch
        self.http = httpx.Client(timeout=10.0)
        # Webhooks: short timeouts, no redirects (they could point anywhere), no proxy from the environment.
        self.webhook_http = httpx.Client(
            timeout=DELIVERY_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
        )
        self.storage = storage_from_url(settings.evidence_storage_url, settings.s3_endpoint_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._maintained_at = float("-inf")

    def deliver(self, msg: OutboxMessage) -> None:
        if msg.channel == "email":
            send_email(msg, self.settings, self.storage.open)
        elif msg.channel == "sms":
            send_sms(msg, self.settings, self.http)
        else:
            raise DeliveryError(f"unknown channel {msg.channel}", permanent=True)

    def maintain(self) -> None:
        """Hourly housekeeping: forget expired idempotency keys and month-old webhook deliveries;
        remove stored evidence that no row names (a crash between storing and committing); keep
        SQLite's planner statistics fresh.

        PostgreSQL's autovacuum keeps its statistics by itself. Without statistics SQLite may pick
        the sweep's (status, respond_by) index for a seller's filtered list and sort thousands of
        rows; with them it seeks the matching list index.
        """
        with Session(self.engine) as session:
            idempotency.purge_expired(session)
            webhook_delivery.purge(session, utcnow())
            try:
                removed = evidence.sweep_orphans(session, self.storage)
            except OSError:
                log.exception("evidence orphan sweep failed; next round retries")
            else:
                if removed:
                    log.info("removed %d orphaned evidence objects", removed)
        if self.engine.dialect.name == "sqlite":
            with self.engine.begin() as conn:  # committed: ANALYZE results roll back with a transaction
                conn.exec_driver_sql("PRAGMA optimize")
        self._maintained_at = time.monotonic()

    def run_once(self) -> int:
        """Run the sweeps, then deliver one batch of due messages; returns how many were handled."""
        with Session(self.engine, expire_on_commit=False) as session:
            for sweep in (chargebacks.expire_due, chargebacks.remind_due):
                try:
                    sweep(session, self.settings)
                except Exception:  # one bad case must not stop deliveries
                    session.rollback()
                    log.exception("sweep %s failed", sweep.__name__)
            hooks = self._webhooks(session)
            messages = claim(session, utcnow(), self.batch)
            for msg in messages:
                if not _renew(session, msg):
                    continue  # our lease ran out while earlier messages were slow: another worker has it
                self._deliver_one(session, msg)
            return len(messages) + hooks

    def _webhooks(self, session: Session) -> int:
        """Fan new case events out to endpoints, then send one batch of due webhooks."""
        try:
            fanned = webhook_delivery.fan_out(session)
            return fanned + webhook_delivery.deliver_due(session, self.webhook_http, self.settings)
        except Exception:  # webhooks failing must not stop emails and SMS
            session.rollback()
            log.exception("webhook round failed")
            return 0

    def _deliver_one(self, session: Session, msg: OutboxMessage) -> None:
        try:
            self.deliver(msg)
        except ChannelDisabled as exc:
            log.info("%s kept in the outbox, not sent (%s): id=%s", msg.channel, exc, msg.id)
            _finish(session, msg, {"status": "held", "last_error": str(exc)})
        except DeliveryError as exc:
            final = exc.permanent or msg.attempts >= self.settings.dispatch_max_attempts
            log.warning(
                "delivery failed id=%s channel=%s attempt=%s: %s", msg.id, msg.channel, msg.attempts, exc
            )
            _finish(
                session,
                msg,
                {
                    "status": "failed" if final else "pending",
                    "last_error": str(exc)[:1000],
                    "next_attempt_at": utcnow() + backoff(msg.attempts, random.random()),
                    **(_spent(msg) if final else {}),
                },
            )
        except Exception as exc:  # a message we cannot even build: retrying will not help
            session.rollback()
            log.exception("delivery crashed id=%s channel=%s; marked failed", msg.id, msg.channel)
            _finish(session, msg, {"status": "failed", "last_error": f"{type(exc).__name__}: {exc}"[:1000]})
        else:
            _finish(session, msg, {"status": "sent", "sent_at": utcnow(), "last_error": None, **_spent(msg)})

    def run_until_idle(self, max_rounds: int = 50) -> int:
        """Deliver until nothing is due (tests and the demo use this)."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    def loop(self) -> None:
        log.info("dispatcher started (poll every %.1fs)", self.settings.dispatch_poll_seconds)
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._maintained_at > MAINTAIN_EVERY_SECONDS:
                    self.maintain()
                busy = self.run_once() >= self.batch
            except Exception:
                log.exception("dispatcher round failed")
                busy = False
            if not busy:
                self._stop.wait(self.settings.dispatch_poll_seconds)

    def start_background(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.http.close()
        self.webhook_http.close()
