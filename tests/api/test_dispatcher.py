"""The outbox dispatcher against real receivers on loopback: SMTP (aiosmtpd) and an HTTP SMS gateway.

Time is moved with ``time_machine`` (never slept); ``Dispatcher.run_once`` is driven by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.models.outbox import OutboxMessage
from app.notify.channels import build_email
from app.notify.outbox import enqueue
from app.worker import BASE_DELAY, LEASE, MAX_DELAY, Dispatcher, _finish, backoff, claim
from tests.api.conftest import Mailbox, SmsGateway, World, free_port, kept_logs, make_case

PHONE = "+8613800138000"
MakeDispatcher = Callable[..., Dispatcher]


def engine_of(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


def outbox(app: FastAPI) -> list[OutboxMessage]:
    with Session(engine_of(app)) as s:
        return list(s.execute(select(OutboxMessage).order_by(col(OutboxMessage.created_at))).scalars())


def only_row(app: FastAPI) -> OutboxMessage:
    rows = outbox(app)
    assert len(rows) == 1, [(r.channel, r.recipient) for r in rows]
    return rows[0]


def queue(app: FastAPI, channel: str, recipient: str, body: str) -> str:
    with Session(engine_of(app)) as s:
        msg = enqueue(s, channel=channel, recipient=recipient, body=body, subject="Hello", now=utcnow())
        assert msg is not None
        msg_id = msg.id
        s.commit()
    return msg_id


def expected_message_id(outbox_id: str, settings: Settings) -> str:
    return f"<{outbox_id}@{settings.mail_from.rpartition('@')[2]}>"


def at(instant: datetime) -> time_machine.travel:
    return time_machine.travel(instant, tick=False)


@pytest.fixture
def make_dispatcher(app: FastAPI, settings: Settings) -> Iterator[MakeDispatcher]:
    """A dispatcher on the test database whose settings differ from the app's by ``updates``."""
    made: list[Dispatcher] = []

    def make(**updates: Any) -> Dispatcher:
        d = Dispatcher(engine_of(app), settings.model_copy(update=updates))
        made.append(d)
        return d

    yield make
    for d in made:
        d.http.close()


@pytest.fixture
def smtp_server() -> Iterator[Callable[[object], int]]:
    """Start an aiosmtpd server on loopback with a given handler; returns its port."""
    controllers: list[Controller] = []

    def start(handler: object) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def dispatcher_log() -> Iterator[list[logging.LogRecord]]:
    with kept_logs("chargeback_desk.dispatcher") as records:
        yield records


class FlakyInbox:
    """Receives the whole message, then answers 451 (try later) the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.message_ids: list[str] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.message_ids.append(str(message_from_bytes(envelope.content)["Message-ID"]))
        if len(self.message_ids) <= self.failures:
            return "451 4.3.0 Mailbox busy, try again later"
        return "250 OK"


class RefusingInbox:
    """Knows no recipient: every RCPT TO is refused for good."""

    def __init__(self) -> None:
        self.delivered = 0

    async def handle_RCPT(self, *_: Any) -> str:
        return "550 5.1.1 No such user here"

    async def handle_DATA(self, *_: Any) -> str:
        self.delivered += 1
        return "250 OK"


# Email ------------------------------------------------------------------------


def test_queued_email_is_delivered_once_with_a_stable_message_id(
    client: TestClient,
    app: FastAPI,
    world: World,
    mailbox: Mailbox,
    dispatcher: Dispatcher,
    settings: Settings,
) -> None:
    case = make_case(client, world.order["id"])

    assert dispatcher.run_until_idle() == 1
    assert dispatcher.run_until_idle() == 0

    row = only_row(app)
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["Message-ID"] == expected_message_id(row.id, settings)
    assert mail["Message-ID"] == f"<{row.id}@notice.chargeback-desk.local>"
    assert mail["X-Envelope-To"] == world.seller["email"]
    assert mail["From"] == settings.mail_from
    assert mail["X-Chargeback-Id"] == case["id"]
    assert " ".join(str(mail["Subject"]).split()) == row.subject  # unfolded
    assert (row.status, row.attempts, row.locked_until, row.last_error) == ("sent", 1, None, None)
    assert row.sent_at is not None
    assert row.sent_at >= row.created_at


def test_smtp_down_keeps_the_email_pending_and_retries_after_backoff(
    client: TestClient,
    app: FastAPI,
    world: World,
    mailbox: Mailbox,
    dispatcher: Dispatcher,
    make_dispatcher: MakeDispatcher,
    settings: Settings,
) -> None:
    make_case(client, world.order["id"])
    down = make_dispatcher(smtp_port=free_port())  # nothing listens there
    before = utcnow()

    assert down.run_once() == 1

    row = only_row(app)
    assert (row.status, row.attempts, row.locked_until, row.sent_at) == ("pending", 1, None, None)
    assert row.last_error is not None
    assert "SMTP" in row.last_error
    assert row.next_attempt_at - before >= BASE_DELAY
    assert row.next_attempt_at - utcnow() <= BASE_DELAY * 1.2
    # Not due yet: neither the broken nor a working dispatcher touches it.
    assert down.run_once() == 0
    assert dispatcher.run_once() == 0
    assert only_row(app).attempts == 1
    assert mailbox.messages == []

    with at(row.next_attempt_at + timedelta(seconds=1)):
        assert dispatcher.run_until_idle() == 1

    sent = only_row(app)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert [m["Message-ID"] for m in mailbox.messages] == [expected_message_id(row.id, settings)]


def test_temporary_smtp_refusal_is_retried_with_the_same_message_id(
    client: TestClient,
    app: FastAPI,
    world: World,
    smtp_server: Callable[[object], int],
    make_dispatcher: MakeDispatcher,
    settings: Settings,
) -> None:
    make_case(client, world.order["id"])
    inbox = FlakyInbox(failures=1)
    d = make_dispatcher(smtp_port=smtp_server(inbox))

    assert d.run_once() == 1
    row = only_row(app)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "451" in (row.last_error or "")
    with at(row.next_attempt_at + timedelta(seconds=1)):
        assert d.run_once() == 1

    assert only_row(app).status == "sent"
    assert inbox.message_ids == [expected_message_id(row.id, settings)] * 2


def test_smtp_down_on_every_attempt_fails_the_email_after_max_attempts(
    client: TestClient, app: FastAPI, world: World, make_dispatcher: MakeDispatcher
) -> None:
    make_case(client, world.order["id"])
    down = make_dispatcher(smtp_port=free_port(), dispatch_max_attempts=4)
    delays = []

    for attempt in range(1, 5):
        due = only_row(app).next_attempt_at
        with at(due):
            assert down.run_once() == 1, f"attempt {attempt}"
        row = only_row(app)
        assert row.attempts == attempt
        assert row.status == ("failed" if attempt == 4 else "pending")
        delays.append(row.next_attempt_at - due)

    assert delays[:3] == sorted(delays[:3])
    assert delays[0] >= BASE_DELAY
    with at(utcnow() + timedelta(hours=3)):
        assert down.run_once() == 0  # failed is final: never claimed again
    assert (only_row(app).status, only_row(app).attempts) == ("failed", 4)


def test_permanently_refused_recipient_fails_after_one_attempt(
    client: TestClient,
    app: FastAPI,
    world: World,
    smtp_server: Callable[[object], int],
    make_dispatcher: MakeDispatcher,
) -> None:
    make_case(client, world.order["id"])
    inbox = RefusingInbox()
    d = make_dispatcher(smtp_port=smtp_server(inbox))

    assert d.run_once() == 1

    row = only_row(app)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert "refused" in (row.last_error or "")
    with at(utcnow() + timedelta(hours=3)):
        assert d.run_once() == 0
    assert only_row(app).attempts == 1
    assert inbox.delivered == 0


@pytest.mark.parametrize(
    ("channel", "recipient", "unset"),
    [("email", "orders@acme-shop.example", "smtp_host"), ("sms", PHONE, "sms_gateway_url")],
)
def test_channel_not_configured_holds_the_message_and_logs_it(
    app: FastAPI,
    mailbox: Mailbox,
    make_dispatcher: MakeDispatcher,
    dispatcher_log: list[logging.LogRecord],
    channel: str,
    recipient: str,
    unset: str,
) -> None:
    msg_id = queue(app, channel, recipient, "Your case needs an answer.")
    d = make_dispatcher(**{unset: None})

    assert d.run_once() == 1
    assert d.run_once() == 0

    row = only_row(app)
    assert (row.status, row.sent_at, row.locked_until) == ("held", None, None)
    assert unset.upper() in (row.last_error or "")
    assert mailbox.messages == []
    held = [r for r in dispatcher_log if msg_id in r.getMessage()]
    assert len(held) == 1
    assert held[0].levelno == logging.INFO
    assert "not sent" in held[0].getMessage()


# SMS --------------------------------------------------------------------------


def test_sms_is_posted_to_the_gateway_as_json(
    app: FastAPI, sms_gateway: SmsGateway, make_dispatcher: MakeDispatcher
) -> None:
    msg_id = queue(app, "sms", PHONE, "Chargeback cb_123 needs your answer by Friday.")
    d = make_dispatcher(sms_gateway_url=sms_gateway.url)

    assert d.run_once() == 1

    assert sms_gateway.bodies == [{"to": PHONE, "text": "Chargeback cb_123 needs your answer by Friday."}]
    assert sms_gateway.idempotency_keys == [msg_id]
    row = only_row(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None


@pytest.mark.parametrize("status", [500, 503, 429])
def test_sms_gateway_temporary_error_is_retried_later(
    app: FastAPI, sms_gateway: SmsGateway, make_dispatcher: MakeDispatcher, status: int
) -> None:
    msg_id = queue(app, "sms", PHONE, "Your code is 123456")
    d = make_dispatcher(sms_gateway_url=sms_gateway.url)
    sms_gateway.status = status
    before = utcnow()

    assert d.run_once() == 1

    row = only_row(app)
    assert (row.status, row.attempts) == ("pending", 1)
    assert str(status) in (row.last_error or "")
    assert row.next_attempt_at - before >= BASE_DELAY
    assert d.run_once() == 0
    sms_gateway.status = 200
    with at(row.next_attempt_at + timedelta(seconds=1)):
        assert d.run_once() == 1
    assert (only_row(app).status, only_row(app).attempts) == ("sent", 2)
    assert sms_gateway.bodies == [{"to": PHONE, "text": "Your code is 123456"}] * 2
    assert sms_gateway.idempotency_keys == [msg_id] * 2  # the gateway can drop the duplicate


@pytest.mark.parametrize("status", [400, 404, 422])
def test_sms_gateway_rejection_fails_without_retry(
    app: FastAPI, sms_gateway: SmsGateway, make_dispatcher: MakeDispatcher, status: int
) -> None:
    queue(app, "sms", PHONE, "Your code is 123456")
    d = make_dispatcher(sms_gateway_url=sms_gateway.url)
    sms_gateway.status = status

    assert d.run_once() == 1

    row = only_row(app)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert str(status) in (row.last_error or "")
    with at(utcnow() + timedelta(hours=3)):
        assert d.run_once() == 0
    assert len(sms_gateway.bodies) == 1


# Back-off and lease -------------------------------------------------------------


def test_backoff_grows_monotonically_and_is_capped() -> None:
    assert backoff(0, 0.0) == BASE_DELAY
    assert backoff(1, 0.0) == BASE_DELAY
    assert backoff(2, 0.0) == 2 * BASE_DELAY
    assert backoff(3, 0.0) == 4 * BASE_DELAY
    for jitter in (0.0, 0.5, 0.999):
        delays = [backoff(attempts, jitter) for attempts in range(1000)]
        assert delays == sorted(delays), f"jitter {jitter}"
        assert max(delays) <= MAX_DELAY * 1.2
        assert delays[-1] == MAX_DELAY * (1 + 0.2 * jitter)
    for attempts in (1, 5, 50):
        assert backoff(attempts, 0.0) <= backoff(attempts, 0.999) <= backoff(attempts, 0.0) * 1.2


def test_leased_message_is_not_claimed_twice_and_a_late_finish_is_fenced_off(
    app: FastAPI, mailbox: Mailbox, dispatcher: Dispatcher
) -> None:
    msg_id = queue(app, "email", "orders@acme-shop.example", "Your case needs an answer.")
    start = utcnow()
    later = start + LEASE + timedelta(seconds=1)
    with (
        Session(engine_of(app), expire_on_commit=False) as first,
        Session(engine_of(app), expire_on_commit=False) as second,
    ):
        (held,) = claim(first, start, 10)
        assert (held.id, held.attempts, held.locked_until) == (msg_id, 1, start + LEASE)

        # Within the lease nobody else takes it: not another claim, not a dispatcher round.
        assert claim(second, start, 10) == []
        assert claim(second, start + LEASE - timedelta(seconds=1), 10) == []
        with at(start + LEASE - timedelta(seconds=1)):
            assert dispatcher.run_once() == 0
        assert mailbox.messages == []

        # The first holder went quiet; after its lease a second worker takes the message over.
        (retaken,) = claim(second, later, 10)
        assert (retaken.id, retaken.attempts, retaken.locked_until) == (msg_id, 2, later + LEASE)

        # The first holder wakes up and reports: its lease is gone, so the second's stays intact.
        _finish(first, held, {"status": "sent", "sent_at": start})
        row = only_row(app)
        assert (row.status, row.sent_at, row.locked_until) == ("pending", None, later + LEASE)
        with at(later + timedelta(seconds=1)):
            assert dispatcher.run_once() == 0  # still leased to the second worker

        # The second worker dies too; after its lease the dispatcher delivers, and neither late
        # report overwrites the outcome.
        with at(later + LEASE + timedelta(seconds=1)):
            assert dispatcher.run_once() == 1
        _finish(second, retaken, {"status": "failed", "last_error": "late"})
        _finish(first, held, {"status": "failed", "last_error": "late"})

    row = only_row(app)
    assert (row.status, row.attempts, row.last_error, row.locked_until) == ("sent", 3, None, None)
    assert [m["Message-ID"] for m in mailbox.messages] == [f"<{msg_id}@notice.chargeback-desk.local>"]


def test_line_break_in_an_order_reference_cannot_add_mail_headers(
    client: TestClient, app: FastAPI, mailbox: Mailbox, dispatcher: Dispatcher, world: World
) -> None:
    r = client.post(
        "/v1/orders",
        json={
            "seller_id": world.seller["id"],
            "amount_minor": 5_000,
            "currency": "EUR",
            "external_ref": "SO-1\r\nBcc: victim@example.com",
        },
        headers={"Authorization": "Bearer pk_test_platform_key_0123456789abcdef"},
    )
    if r.status_code == 422:  # refused at the door is as good as neutralised at the mailer
        assert r.json()["code"] == "validation_error"
        return
    make_case(client, r.json()["id"], 1_000)

    dispatcher.run_until_idle()

    assert [m["Bcc"] for m in mailbox.messages] == [None]
    subject = " ".join(str(mailbox.messages[0]["Subject"]).split())  # unfold RFC 5322 folding
    assert subject.startswith("Chargeback on order SO-1 Bcc: victim@example.com: respond by")
    assert only_row(app).status == "sent"


def test_a_message_that_cannot_be_built_fails_alone_and_the_batch_goes_on(
    app: FastAPI, mailbox: Mailbox, dispatcher: Dispatcher
) -> None:
    bad = queue(app, "email", "not an address\r\nBcc: x@example.com", "body")
    good = queue(app, "email", "seller@shop.example", "body")

    dispatcher.run_until_idle()

    rows = {m.id: m for m in outbox(app)}
    assert rows[bad].status == "failed"
    assert rows[bad].last_error
    assert rows[good].status == "sent"
    assert len(mailbox.messages) == 1


def test_subject_with_line_breaks_is_sent_as_one_header_line(settings: Settings) -> None:
    msg = OutboxMessage(
        id="obx_1",
        channel="email",
        recipient="seller@shop.example",
        subject="Order SO-1\r\nBcc: victim@example.com",
        body="hello",
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    email = build_email(msg, settings)
    assert email["Bcc"] is None
    assert email["Subject"] == "Order SO-1 Bcc: victim@example.com"
