"""Webhooks through the HTTP API and the dispatcher, with a real receiver on loopback that verifies
every signature with the ``standardwebhooks`` library, as an integrator's receiver would.

Time is frozen at ``T0`` and moved by hand (never slept); the dispatcher is driven by hand.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from time_machine import TimeMachineFixture

from app.core.clock import utcnow
from app.core.config import Settings
from app.main import create_app
from app.models.chargeback import CaseEvent
from app.notify.webhooks import post
from app.worker import Dispatcher
from tests.api.conftest import (
    PLATFORM,
    Mailbox,
    QuietHandler,
    World,
    assert_problem,
    loopback_server,
    make_case,
    make_key,
    make_seller,
)
from tests.api.test_evidence import T0

ALL_EVENTS = [
    "chargeback.created",
    "chargeback.reminder",
    "chargeback.won",
    "chargeback.lost",
    "chargeback.accepted",
    "chargeback.expired",
    "chargeback.evidence_added",
    "chargeback.evidence_removed",
    "chargeback.appealed",
]


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The receiver listens on loopback; changes are listed at once by ``updated_since``.
    return settings.model_copy(update={"webhook_allow_private_urls": True, "reconcile_lag_seconds": 0})


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: dict[str, Any]  # secret → the payload it verified, or None (checked on arrival)


@dataclass
class Receiver:
    """A real HTTP receiver on loopback: records each request, answers the next scripted reply."""

    url: str
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def verify(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """What each known secret makes of a request, as a receiver checks it when it arrives."""
        verified: dict[str, Any] = {}
        for secret in self.secrets:
            try:
                verified[secret] = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                verified[secret] = None
        return verified

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Every body received, each of which verified with ``secret``."""
        assert all(r.verified[secret] is not None for r in self.requests)
        return [r.verified[secret] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with loopback_server("receiver") as server:
        rx = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                rx.requests.append(Received(headers, raw, rx.verify(headers, raw)))
                status, reply = rx.replies.pop(0) if rx.replies else (200, {})
                self.send_response(status)
                for name, value in reply.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server.RequestHandlerClass = Handler
        yield rx


def make_endpoint(
    client: TestClient, headers: dict[str, str], rx: Receiver, events: list[str] | None = None
) -> dict[str, Any]:
    r = client.post(
        "/v1/webhook-endpoints", json={"url": rx.url, "events": events or ALL_EVENTS}, headers=headers
    )
    assert r.status_code == 201, r.text
    rx.secrets.append(r.json()["secret"])
    return dict(r.json())


def deliveries(client: TestClient, endpoint_id: str, headers: dict[str, str], **query: str) -> list[Any]:
    r = client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=query, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def pending_events(app: FastAPI) -> int:
    with Session(app.state.engine) as s:
        count = s.execute(select(func.count()).where(col(CaseEvent.webhook_pending).is_not(None))).scalar()
        return int(count or 0)


# Delivery, signatures, retries ------------------------------------------------------------------


def test_case_change_is_delivered_signed_and_verifies_with_standardwebhooks(
    client: TestClient, app: FastAPI, world: World, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    r = client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "events": ["chargeback.created"]},
        headers=world.seller_headers,
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()
    receiver.secrets.append(endpoint["secret"])
    assert endpoint["id"].startswith("whe_")
    assert endpoint["secret"].startswith("whsec_")
    assert r.headers["Location"] == f"/v1/webhook-endpoints/{endpoint['id']}"
    assert r.headers["Cache-Control"] == "no-store"
    # A refused notice (more than the order holds) rolls back: no event, nothing sent.
    assert client.post("/v1/chargebacks", json={**_notice(world, 10**6)}, headers=PLATFORM).status_code == 422
    case = make_case(client, world.order["id"])

    dispatcher.run_until_idle()

    [event] = receiver.events(endpoint["secret"])
    assert event["type"] == "chargeback.created"
    assert event["data"] == {
        "id": case["id"],
        "order_id": world.order["id"],
        "seller_id": world.seller["id"],
        "status": "needs_response",
        "respond_by": case["respond_by"],
    }
    trail = client.get(f"/v1/chargebacks/{case['id']}/events", headers=world.seller_headers).json()["data"]
    headers = receiver.requests[0].headers
    assert headers["webhook-id"] == trail[0]["id"]
    assert headers["webhook-id"].startswith("evt_")
    assert headers["webhook-timestamp"] == str(int(T0.timestamp()))
    [log] = deliveries(client, endpoint["id"], world.seller_headers)
    assert (log["status"], log["attempts"], log["response_status"]) == ("succeeded", 1, 200)
    assert log["payload"] == event
    assert pending_events(app) == 0


def _notice(world: World, amount: int) -> dict[str, Any]:
    return {
        "order_id": world.order["id"],
        "reason_code": "13.1",
        "amount_minor": amount,
        "currency": "EUR",
        "bank_reference": "ARN-REFUSED",
    }


def test_a_named_host_gets_its_name_in_host_while_the_checked_address_is_connected(
    client: TestClient, world: World, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.url = receiver.url.replace("127.0.0.1", "localhost")  # may resolve to ::1 first too
    make_endpoint(client, world.seller_headers, receiver, ["chargeback.created"])
    make_case(client, world.order["id"])
    dispatcher.run_until_idle()
    [request] = receiver.requests
    assert request.headers["host"] == receiver.url.split("/")[2]


def test_an_address_that_refuses_the_connection_passes_to_the_next(receiver: Receiver) -> None:
    with httpx.Client(timeout=5, trust_env=False) as http:
        # 127.0.0.2 is loopback too, but nothing listens there: the receiver is bound to 127.0.0.1.
        addresses = [ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("127.0.0.1")]
        outcome = post(http, receiver.url, addresses, {"webhook-id": "evt_x"}, b"{}")
    assert (outcome.status, outcome.error) == (200, None)
    assert [r.headers["webhook-id"] for r in receiver.requests] == ["evt_x"]


def test_seller_without_endpoints_writes_no_webhook_outbox_rows(
    client: TestClient, app: FastAPI, world: World
) -> None:
    make_case(client, world.order["id"])
    assert pending_events(app) == 0


def test_failed_attempt_is_retried_on_schedule_with_the_same_webhook_id(
    client: TestClient,
    world: World,
    receiver: Receiver,
    dispatcher: Dispatcher,
    time_machine: TimeMachineFixture,
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    make_case(client, world.order["id"])
    receiver.replies = [(500, {})]

    dispatcher.run_until_idle()

    [log] = deliveries(client, endpoint["id"], world.seller_headers, status="pending")
    assert (log["attempts"], log["response_status"], log["last_error"]) == (
        1,
        500,
        "the receiver answered 500",
    )
    due = log["next_attempt_at"]
    assert "2026-11-30T02:00:04.5" <= due <= "2026-11-30T02:00:05.5"  # 5 s ± 10 %
    time_machine.shift(timedelta(seconds=4))
    dispatcher.run_until_idle()
    assert len(receiver.requests) == 1  # not due yet

    time_machine.shift(timedelta(seconds=2))
    dispatcher.run_until_idle()

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 6
    assert len(receiver.events(endpoint["secret"])) == 2  # both signatures verify
    [log] = deliveries(client, endpoint["id"], world.seller_headers)
    assert (log["status"], log["attempts"], log["last_error"]) == ("succeeded", 2, None)


def test_retry_after_of_the_receiver_is_honoured(
    client: TestClient, world: World, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    make_case(client, world.order["id"])
    receiver.replies = [(429, {"Retry-After": "120"})]

    dispatcher.run_until_idle()

    [log] = deliveries(client, endpoint["id"], world.seller_headers)
    assert (log["status"], log["response_status"]) == ("pending", 429)
    assert log["next_attempt_at"] == "2026-11-30T02:02:00Z"


def test_gone_disables_the_endpoint_and_tells_the_seller(
    client: TestClient, world: World, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    make_case(client, world.order["id"])
    receiver.replies = [(410, {})]

    dispatcher.run_until_idle()

    got = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=world.seller_headers).json()
    assert (got["status"], got["disabled_reason"]) == ("disabled", "the receiver answered 410 Gone")
    [log] = deliveries(client, endpoint["id"], world.seller_headers)
    assert (log["status"], log["response_status"]) == ("failed", 410)
    kinds = [m["kind"] for m in client.get("/v1/messages", headers=world.seller_headers).json()["data"]]
    assert "webhook_endpoint_disabled" in kinds
    # Nothing more is sent to it, and a replay waits until it is enabled again.
    make_case(client, world.order["id"])
    dispatcher.run_until_idle()
    assert len(receiver.requests) == 1
    replay = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{log['id']}/replay"
    assert_problem(client.post(replay, headers=world.seller_headers), 409, "webhook_endpoint_disabled")

    r = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/enable", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["disabled_reason"]) == ("enabled", None)
    assert client.post(replay, headers=world.seller_headers).status_code == 202
    dispatcher.run_until_idle()
    assert len(receiver.requests) == 2
    assert receiver.requests[1].body == receiver.requests[0].body


def test_every_attempt_failing_disables_the_endpoint_and_emails_the_seller(
    client: TestClient,
    world: World,
    receiver: Receiver,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    time_machine: TimeMachineFixture,
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver, ["chargeback.created"])
    make_case(client, world.order["id"])
    receiver.replies = [(503, {})] * 8

    dispatcher.run_until_idle()
    for _ in range(7):
        [log] = deliveries(client, endpoint["id"], world.seller_headers)
        assert log["status"] == "pending"
        time_machine.move_to(log["next_attempt_at"], tick=False)
        time_machine.shift(timedelta(milliseconds=1))
        dispatcher.run_until_idle()

    [log] = deliveries(client, endpoint["id"], world.seller_headers)
    assert (log["status"], log["attempts"], log["next_attempt_at"]) == ("failed", 8, None)
    assert len(receiver.requests) == 8
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    got = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=world.seller_headers).json()
    assert got["status"] == "disabled"
    assert got["disabled_reason"].startswith(f"every attempt of delivery {log['id']} failed")
    subjects = [m["Subject"] for m in mailbox.messages]
    assert "Webhook endpoint disabled: events are no longer sent to it" in subjects


def test_replay_sends_the_same_event_again_once_per_idempotency_key(
    client: TestClient, world: World, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    make_case(client, world.order["id"])
    dispatcher.run_until_idle()
    [original] = deliveries(client, endpoint["id"], world.seller_headers)
    path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{original['id']}/replay"
    keyed = world.seller_headers | {"Idempotency-Key": "replay-1"}

    r = client.post(path, headers=keyed)
    again = client.post(path, headers=keyed)

    assert r.status_code == 202, r.text
    replayed = r.json()
    assert (replayed["replay_of"], replayed["event_id"], replayed["status"]) == (
        original["id"],
        original["event_id"],
        "pending",
    )
    assert r.headers["Location"] == f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{replayed['id']}"
    assert again.status_code == 202
    assert again.json()["id"] == replayed["id"]
    assert client.get(r.headers["Location"], headers=world.seller_headers).json() == replayed
    assert again.headers["Idempotent-Replayed"] == "true"
    dispatcher.run_until_idle()
    first, second = receiver.requests
    assert (second.headers["webhook-id"], second.body) == (first.headers["webhook-id"], first.body)
    assert len(receiver.events(endpoint["secret"])) == 2
    assert len(deliveries(client, endpoint["id"], world.seller_headers, status="succeeded")) == 2


def test_rotation_signs_with_both_secrets_for_the_overlap_then_the_new_one_only(
    client: TestClient,
    world: World,
    receiver: Receiver,
    dispatcher: Dispatcher,
    time_machine: TimeMachineFixture,
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    r = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    new = r.json()["secret"]
    receiver.secrets.append(new)
    assert new.startswith("whsec_")
    assert new != endpoint["secret"]
    assert r.json()["previous_secret_expires_at"] == "2026-12-01T02:00:00Z"

    make_case(client, world.order["id"])
    dispatcher.run_until_idle()
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2
    assert receiver.events(endpoint["secret"]) == receiver.events(new)  # both verify

    time_machine.shift(timedelta(hours=24, seconds=1))
    make_case(client, world.order["id"])
    dispatcher.run_until_idle()
    late = receiver.requests[-1]
    assert late.headers["webhook-signature"].count("v1,") == 1
    assert late.verified[new] is not None
    assert late.verified[endpoint["secret"]] is None


def test_every_case_change_emits_its_event(
    client: TestClient,
    world: World,
    receiver: Receiver,
    dispatcher: Dispatcher,
    time_machine: TimeMachineFixture,
) -> None:
    from tests.api.test_appeals import appeal, delivered
    from tests.api.test_evidence import upload

    endpoint = make_endpoint(client, world.seller_headers, receiver)
    seller = world.seller_headers
    appealed = make_case(client, world.order["id"], 1000)
    item = upload(
        client, appealed["id"], seller, "buyer_communication", text="Buyer confirmed receipt."
    ).json()
    assert (
        client.delete(f"/v1/chargebacks/{appealed['id']}/evidence/{item['id']}", headers=seller).status_code
        == 204
    )
    delivered(client, appealed["id"], seller)
    assert appeal(client, appealed["id"], seller).status_code == 201
    for outcome in ("won", "lost"):
        ruled = make_case(client, world.order["id"], 1000)
        r = client.post(f"/v1/chargebacks/{ruled['id']}/ruling", json={"outcome": outcome}, headers=PLATFORM)
        assert r.status_code == 200, r.text
    accepted = make_case(client, world.order["id"], 1000)
    assert client.post(f"/v1/chargebacks/{accepted['id']}/accept", headers=seller).status_code == 200
    lapsing = make_case(client, world.order["id"], 1000)
    dispatcher.run_until_idle()
    time_machine.move_to(lapsing["respond_by"], tick=False)
    time_machine.shift(timedelta(hours=-1))
    dispatcher.run_until_idle()  # the reminder sweep
    time_machine.shift(timedelta(hours=2))
    dispatcher.run_until_idle()  # the expiry sweep

    events = receiver.events(endpoint["secret"])
    assert sorted({e["type"] for e in events}) == sorted(ALL_EVENTS)
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["chargeback.appealed"]["status"] == "under_review"
    assert by_type["chargeback.appealed"]["appeal_id"].startswith("apl_")
    assert by_type["chargeback.evidence_removed"]["evidence_id"] == item["id"]
    assert (by_type["chargeback.expired"]["id"], by_type["chargeback.expired"]["status"]) == (
        lapsing["id"],
        "expired",
    )
    assert by_type["chargeback.reminder"] == {
        "id": lapsing["id"],
        "order_id": world.order["id"],
        "seller_id": world.seller["id"],
        "status": "needs_response",
    }


def test_endpoint_subscribed_to_some_events_gets_only_those(
    client: TestClient, world: World, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver, ["chargeback.won"])
    case = make_case(client, world.order["id"])
    client.post(f"/v1/chargebacks/{case['id']}/ruling", json={"outcome": "won"}, headers=PLATFORM)
    dispatcher.run_until_idle()
    assert [e["type"] for e in receiver.events(endpoint["secret"])] == ["chargeback.won"]


def test_delivery_log_lists_changes_since_oldest_first(
    client: TestClient,
    world: World,
    receiver: Receiver,
    dispatcher: Dispatcher,
    time_machine: TimeMachineFixture,
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    first, second = make_case(client, world.order["id"], 1000), make_case(client, world.order["id"], 1000)
    receiver.replies = [(500, {}), (200, {})]
    dispatcher.run_until_idle()
    time_machine.shift(timedelta(minutes=1))
    dispatcher.run_until_idle()  # the first one's retry

    changed = deliveries(client, endpoint["id"], world.seller_headers, updated_since="2026-11-30T02:00:30Z")
    assert [d["payload"]["data"]["id"] for d in changed] == [first["id"]]
    everything = deliveries(
        client, endpoint["id"], world.seller_headers, updated_since="2026-11-30T00:00:00Z"
    )
    assert [d["payload"]["data"]["id"] for d in everything] == [second["id"], first["id"]]
    page = client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
        params={"updated_since": "2026-11-30T00:00:00Z", "limit": 1},
        headers=world.seller_headers,
    ).json()
    assert [d["payload"]["data"]["id"] for d in page["data"]] == [second["id"]]
    rest = deliveries(
        client,
        endpoint["id"],
        world.seller_headers,
        updated_since="2026-11-30T00:00:00Z",
        cursor=page["next_cursor"],
    )
    assert [d["payload"]["data"]["id"] for d in rest] == [first["id"]]
    for bad in ("yesterday", "2026-11-30T03:00:00Z"):  # malformed, and an hour ahead
        assert_problem(
            client.get(
                f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                params={"updated_since": bad},
                headers=world.seller_headers,
            ),
            422,
            "validation_error",
            "updated_since",
        )
    # Finished deliveries are kept 30 days, then the hourly housekeeping forgets them.
    time_machine.shift(timedelta(days=30, minutes=-2))
    dispatcher.maintain()
    assert len(deliveries(client, endpoint["id"], world.seller_headers)) == 2
    time_machine.shift(timedelta(minutes=2))  # 30 days after the first, not yet after the retried one
    dispatcher.maintain()
    assert [d["payload"]["data"]["id"] for d in deliveries(client, endpoint["id"], world.seller_headers)] == [
        first["id"]
    ]
    time_machine.shift(timedelta(minutes=1))
    dispatcher.maintain()
    assert deliveries(client, endpoint["id"], world.seller_headers) == []


# Tenancy and who manages endpoints --------------------------------------------------------------


def test_another_sellers_endpoint_is_not_found(client: TestClient, world: World, receiver: Receiver) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    other = make_key(client, make_seller(client, name="Other", email="o@other.example")["id"])
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    fake = "whd_01jd2x3y4z5a6b7c8d9e0f1g2h"

    for method, path in [
        ("GET", base),
        ("DELETE", base),
        ("POST", f"{base}/rotate-secret"),
        ("POST", f"{base}/enable"),
        ("GET", f"{base}/deliveries"),
        ("GET", f"{base}/deliveries/{fake}"),
        ("POST", f"{base}/deliveries/{fake}/replay"),
    ]:
        assert_problem(client.request(method, path, headers=other), 404, "not_found")
    assert client.get("/v1/webhook-endpoints", headers=other).json()["data"] == []
    assert [
        e["id"] for e in client.get("/v1/webhook-endpoints", headers=world.seller_headers).json()["data"]
    ] == [endpoint["id"]]
    assert client.delete(base, headers=world.seller_headers).status_code == 204
    assert_problem(client.get(base, headers=world.seller_headers), 404, "not_found")


def test_platform_manages_a_named_sellers_endpoints(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    body = {"url": receiver.url, "events": ["chargeback.created"]}
    assert_problem(
        client.post("/v1/webhook-endpoints", json=body, headers=PLATFORM),
        422,
        "validation_error",
        "seller_id",
    )
    missing = body | {"seller_id": "sel_01jd2x3y4z5a6b7c8d9e0f1g2h"}
    assert_problem(client.post("/v1/webhook-endpoints", json=missing, headers=PLATFORM), 404, "not_found")
    r = client.post("/v1/webhook-endpoints", json=body | {"seller_id": world.seller["id"]}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    assert r.json()["seller_id"] == world.seller["id"]
    other = make_seller(client, name="Other", email="o@other.example")
    listed = client.get("/v1/webhook-endpoints", params={"seller_id": other["id"]}, headers=PLATFORM).json()
    assert listed["data"] == []
    mine = client.get("/v1/webhook-endpoints", headers=world.seller_headers).json()["data"]
    assert [e["id"] for e in mine] == [r.json()["id"]]
    # A seller may not create one for another seller.
    theirs = body | {"seller_id": other["id"]}
    assert_problem(
        client.post("/v1/webhook-endpoints", json=theirs, headers=world.seller_headers), 404, "not_found"
    )


def test_a_seller_has_at_most_twenty_endpoints(client: TestClient, world: World, receiver: Receiver) -> None:
    body = {"url": receiver.url, "events": ["chargeback.won"]}
    for _ in range(20):
        r = client.post("/v1/webhook-endpoints", json=body, headers=world.seller_headers)
        assert r.status_code == 201, r.text
    r = client.post("/v1/webhook-endpoints", json=body, headers=world.seller_headers)
    assert_problem(r, 409, "webhook_endpoint_limit")
    page = client.get("/v1/webhook-endpoints", params={"limit": 15}, headers=world.seller_headers).json()
    rest = client.get(
        "/v1/webhook-endpoints", params={"cursor": page["next_cursor"]}, headers=world.seller_headers
    ).json()
    assert (len(page["data"]), len(rest["data"]), rest["next_cursor"]) == (15, 5, None)
    assert len({e["id"] for e in page["data"] + rest["data"]}) == 20


def test_create_with_idempotency_key_replays_without_the_secret(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    keyed = world.seller_headers | {"Idempotency-Key": "endpoint-1"}
    body = {"url": receiver.url, "events": ["chargeback.created"]}
    first = client.post("/v1/webhook-endpoints", json=body, headers=keyed)
    again = client.post("/v1/webhook-endpoints", json=body, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["secret"] is None
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Cache-Control"] == "no-store"
    assert len(client.get("/v1/webhook-endpoints", headers=world.seller_headers).json()["data"]) == 1


# Bad input ----------------------------------------------------------------------------------------


BAD_ENDPOINTS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"events": ["chargeback.created", "chargeback.exploded", "case.won"]},
        "unknown_event_type",
        "events",
    ),
    ({"events": []}, "validation_error", "events"),
    ({"events": ["chargeback." + "x" * 100]}, "validation_error", "events.0"),
    ({"url": "https://bücher.example/hooks"}, "webhook_url_not_allowed", "url"),
    ({"url": "https://erp.example/" + "a" * 2000}, "webhook_url_not_allowed", "url"),
    ({"url": "https://user:pw@erp.example/hooks"}, "webhook_url_not_allowed", "url"),
    ({"url": "ftp://erp.example/hooks"}, "webhook_url_not_allowed", "url"),
    ({"url": "https://erp.example/hooks#frag"}, "webhook_url_not_allowed", "url"),
    ({"url": "https://erp.example:99999/"}, "webhook_url_not_allowed", "url"),
    ({"url": "https://no-such-host.invalid/hooks"}, "webhook_url_unresolvable", "url"),
    ({"url": "https://erp.example/hooks", "secret": "mine"}, "validation_error", "secret"),
]


def test_bad_endpoint_is_refused_precisely_and_nothing_is_created(client: TestClient, world: World) -> None:
    for body, code, where in BAD_ENDPOINTS:
        full = {"url": "https://127.0.0.1/hooks", "events": ["chargeback.created"]} | body
        r = client.post("/v1/webhook-endpoints", json=full, headers=world.seller_headers)
        problem = assert_problem(r, 422, code, where)
        if code == "unknown_event_type":
            assert "chargeback.exploded" in problem["detail"]
            assert "case.won" in problem["detail"]
            assert len(problem["errors"]) == 2
    assert client.get("/v1/webhook-endpoints", headers=world.seller_headers).json()["data"] == []


# SSRF: only public addresses unless WEBHOOK_ALLOW_PRIVATE_URLS ------------------------------------------


@pytest.fixture
def strict_client(settings: Settings) -> Iterator[TestClient]:
    strict = create_app(settings.model_copy(update={"webhook_allow_private_urls": False}))
    yield TestClient(strict, raise_server_exceptions=False)
    strict.state.db.close()


REFUSED = [
    ("http://203.0.113.10/hooks", "must use https"),
    ("https://127.0.0.1/hooks", "loopback"),
    ("https://localhost/hooks", "loopback"),  # a name that resolves to loopback
    ("https://[::1]/hooks", "loopback"),
    ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("https://10.1.2.3/hooks", "private"),
    ("https://[fd00::1]/hooks", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://100.64.0.1/hooks", "CGNAT"),
    ("https://0.0.0.0/hooks", "unspecified"),
    ("https://2130706433/hooks", "loopback"),  # 127.0.0.1 written as one number
]


def test_private_destination_is_refused_at_creation(strict_client: TestClient) -> None:
    seller = make_key(strict_client, make_seller(strict_client)["id"])
    for url, reason in REFUSED:
        body = {"url": url, "events": ["chargeback.won"]}
        r = strict_client.post("/v1/webhook-endpoints", json=body, headers=seller)
        problem = assert_problem(r, 422, "webhook_url_not_allowed", "url")
        assert reason in problem["detail"], url
    assert strict_client.get("/v1/webhook-endpoints", headers=seller).json()["data"] == []


def test_public_destination_is_accepted_when_private_ones_are_not(strict_client: TestClient) -> None:
    seller = make_key(strict_client, make_seller(strict_client)["id"])
    body = {"url": "https://93.184.215.14/hooks", "events": ["chargeback.won"]}
    assert strict_client.post("/v1/webhook-endpoints", json=body, headers=seller).status_code == 201


def test_destination_that_turned_private_is_not_sent_to(
    client: TestClient, app: FastAPI, world: World, receiver: Receiver, settings: Settings
) -> None:
    endpoint = make_endpoint(client, world.seller_headers, receiver)
    make_case(client, world.order["id"])
    strict = Dispatcher(app.state.engine, settings.model_copy(update={"webhook_allow_private_urls": False}))
    try:
        strict.run_until_idle()
    finally:
        strict.http.close()
        strict.webhook_http.close()
    assert receiver.requests == []
    [log] = deliveries(client, endpoint["id"], world.seller_headers)
    assert (log["status"], log["response_status"]) == ("pending", None)
    assert "not sent" in log["last_error"]
    assert "loopback" in log["last_error"]
    assert utcnow() == T0


def test_openapi_documents_what_a_receiver_gets(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    event = spec["webhooks"]["chargeback-event"]["post"]
    assert event["operationId"] == "chargeback_event"
    headers = {p["name"] for p in event["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert event["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookEvent"
    }
    assert set(event["responses"]) == {"200", "410", "429"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
