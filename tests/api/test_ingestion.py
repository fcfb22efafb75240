"""Notice ingestion as stored: the rows one notice writes, and bulk requests committed a chunk at a time.

The API tests elsewhere read notices back through the API; these read the tables themselves, so a
change in how ingestion writes (Core statements, one transaction per chunk of a bulk) shows here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from time_machine import TimeMachineFixture

from app.core.config import Settings
from app.models import CaseEvent, Chargeback, IdempotencyRecord, Message, Order, OutboxMessage
from app.notify import templates
from app.services import ingestion
from tests.api.conftest import PLATFORM, World, assert_problem_body, make_order, notice

T0 = datetime(2026, 9, 29, 10, 0, tzinfo=UTC)  # Tue 18:00 Asia/Shanghai
T0_RESPOND_BY = datetime(2026, 10, 9, 15, 59, 59, 999_999, tzinfo=UTC)  # after the National Day week


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


def rows(app: FastAPI, model: Any, **where: Any) -> list[dict[str, Any]]:
    """The table's rows (all columns), oldest id first, where each named column has the given value."""
    table = model.__table__
    q = select(table).where(*(table.c[k] == v for k, v in where.items())).order_by(table.c[_key(table)])
    with app.state.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _key(table: Any) -> str:
    return "id" if "id" in table.c else "key"


def bulk(client: TestClient, notices: list[Any], **headers: str) -> httpx2.Response:
    return client.post("/v1/chargebacks/bulk", json={"notices": notices}, headers=PLATFORM | headers)


def results(r: httpx2.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["results"]
    assert [item["index"] for item in found] == list(range(len(found)))
    return found


def statuses(r: httpx2.Response) -> list[int]:
    return [item["status"] for item in results(r)]


def test_notice_writes_the_case_its_trail_message_email_and_frozen_funds(
    client: TestClient, app: FastAPI, world: World, settings: Settings
) -> None:
    order = make_order(client, world.seller["id"], 10_000, external_ref="SO-1")
    body = notice(order["id"], 5_000, bank_reference="ARN-ROWS-1")
    r = client.post("/v1/chargebacks", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    case_id, seller_id = r.json()["id"], world.seller["id"]

    assert rows(app, Chargeback, order_id=order["id"]) == [
        {
            "id": case_id,
            "order_id": order["id"],
            "seller_id": seller_id,
            "reason_code": "13.1",
            "network": "visa",
            "reason_category": "not_received",
            "reason_title": "Merchandise/Services Not Received",
            "amount_minor": 5_000,
            "currency": "EUR",
            "bank_reference": "ARN-ROWS-1",
            "status": "needs_response",
            "received_at": T0,
            "respond_by": T0_RESPOND_BY,
            "provider_due_at": None,
            "appeal_id": None,
            "reminded_at": None,
            "closed_at": None,
            "ruling_note": None,
            "version": 1,
            "created_at": T0,
            "updated_at": T0,
        }
    ]
    [event] = rows(app, CaseEvent, chargeback_id=case_id)
    assert event["id"].startswith("evt_")
    assert event | {"id": None} == {
        "id": None,
        "chargeback_id": case_id,
        "seller_id": seller_id,
        "type": "chargeback.created",
        "actor": "platform",
        "occurred_at": T0,
        "changes": {
            "status": [None, "needs_response"],
            "respond_by": [None, "2026-10-09T15:59:59.999999Z"],
            "order.frozen_amount_minor": [0, 5_000],
            "reason": {"code": "13.1", "category": "not_received", "known": True},
        },
        "webhook_pending": None,  # the seller has no webhook endpoint
    }
    [message] = rows(app, Message, chargeback_id=case_id)
    assert message["id"].startswith("msg_")
    assert message["body"].startswith("Hello Acme Shop,\n\na buyer's bank has disputed a payment")
    assert f"Case {case_id} · bank reference ARN-ROWS-1" in message["body"]
    title = "Chargeback on order SO-1: respond by 09 Oct 2026"
    assert message | {"id": None, "body": None} == {
        "id": None,
        "seller_id": seller_id,
        "chargeback_id": case_id,
        "kind": "chargeback_received",
        "title": title,
        "body": None,
        "created_at": T0,
        "read_at": None,
        "updated_at": T0,
    }
    [email] = [m for m in rows(app, OutboxMessage) if m["headers"].get("X-Chargeback-Id") == case_id]
    assert email["id"].startswith("obx_")
    assert email | {"id": None} == {
        "id": None,
        "channel": "email",
        "recipient": "orders@acme-shop.example",
        "subject": title,
        "body": message["body"],
        "headers": {"From": settings.mail_from, "X-Chargeback-Id": case_id},
        "dedupe_key": None,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": T0,
        "locked_until": None,
        "last_error": None,
        "created_at": T0,
        "sent_at": None,
    }
    [stored] = rows(app, Order, id=order["id"])
    assert (stored["frozen_amount_minor"], stored["debited_amount_minor"]) == (5_000, 0)
    assert (stored["version"], stored["updated_at"]) == (2, T0)


def test_notice_with_key_stores_its_response_in_the_same_commit(
    client: TestClient, app: FastAPI, world: World
) -> None:
    r = client.post(
        "/v1/chargebacks", json=notice(world.order["id"]), headers=PLATFORM | {"Idempotency-Key": "k-1"}
    )
    assert r.status_code == 201, r.text
    [record] = rows(app, IdempotencyRecord, key="k-1")
    assert (record["state"], record["response_status"]) == ("done", 201)
    assert record["response_body"] == r.text


def test_refused_bulk_items_write_nothing_and_the_items_after_them_commit(
    client: TestClient, app: FastAPI, world: World
) -> None:
    order_id = world.order["id"]  # 10 000 EUR
    first = notice(order_id, 6_000)
    found = bulk(
        client,
        [
            first,
            notice(order_id, 5_000) | {"idempotency_key": "k-over"},  # 4 000 left
            notice(order_id, 1, bank_reference=first["bank_reference"]),  # a duplicate in the request
            notice(order_id, 1, currency="USD"),
            notice("ord_00000000000000000000000000", 1),
            notice(order_id, 4_000) | {"idempotency_key": "k-fits"},
        ],
    )

    assert statuses(found) == [201, 422, 409, 422, 404, 201]
    created = [results(found)[i]["chargeback"]["id"] for i in (0, 5)]
    assert [c["id"] for c in rows(app, Chargeback)] == created
    for model in (CaseEvent, Message):
        assert sorted(r["chargeback_id"] for r in rows(app, model)) == sorted(created)
    assert sorted(m["headers"]["X-Chargeback-Id"] for m in rows(app, OutboxMessage)) == sorted(created)
    [order] = rows(app, Order, id=order_id)
    assert (order["frozen_amount_minor"], order["version"]) == (10_000, 3)
    # The refused item's key is free again; the other's holds its response.
    assert [(r["key"], r["state"]) for r in rows(app, IdempotencyRecord)] == [("k-fits", "done")]


def test_duplicate_within_one_bulk_names_the_first_case(client: TestClient, world: World) -> None:
    body = notice(world.order["id"], 1_000)

    first, second = results(bulk(client, [body, body]))

    assert first["status"] == 201
    assert_problem_body(second["problem"], 409, "duplicate_chargeback")
    assert first["chargeback"]["id"] in second["problem"]["detail"]


def test_bulk_larger_than_a_chunk_keeps_each_orders_notices_in_request_order(
    client: TestClient, app: FastAPI, world: World
) -> None:
    # Two orders with room for 60 one-unit notices each; their notices interleaved, then one more
    # each that no longer fits: across chunks, each order's notices are taken in request order.
    orders = [make_order(client, world.seller["id"], 60)["id"] for _ in range(2)]
    notices = [notice(orders[i % 2], 1) for i in range(120)] + [notice(o, 1) for o in orders]
    assert len(notices) > 2 * ingestion.CHUNK

    found = results(bulk(client, notices))

    assert [item["status"] for item in found] == [201] * 120 + [422, 422]
    cases = rows(app, Chargeback)
    assert len(cases) == 120
    for order_id in orders:
        mine = [item["chargeback"] for item in found[:120] if item["chargeback"]["order_id"] == order_id]
        # Creation order (ids sort by creation) is request order within the order.
        assert [c["id"] for c in mine] == sorted(c["id"] for c in mine)
        [order] = rows(app, Order, id=order_id)
        assert (order["frozen_amount_minor"], order["version"]) == (60, 61)


def test_item_key_used_twice_in_one_bulk_replays_the_first(
    client: TestClient, app: FastAPI, world: World
) -> None:
    body = notice(world.order["id"], 1_000) | {"idempotency_key": "k-twice"}

    first, second = results(bulk(client, [body, body]))

    assert (first["status"], second["status"]) == (201, 200)
    assert second["chargeback"] == first["chargeback"]
    assert len(rows(app, Chargeback)) == 1


def test_item_key_reused_in_one_bulk_for_another_notice_fails_alone(client: TestClient, world: World) -> None:
    order_id = world.order["id"]
    found = bulk(
        client,
        [
            notice(order_id, 1_000) | {"idempotency_key": "k-1"},
            notice(order_id, 2_000) | {"idempotency_key": "k-1"},
            notice(order_id, 3_000),
        ],
    )
    assert statuses(found) == [201, 422, 201]
    assert_problem_body(results(found)[1]["problem"], 422, "idempotency_key_reused")


def test_item_key_freed_by_a_refused_item_serves_a_later_item_of_the_bulk(
    client: TestClient, app: FastAPI, world: World
) -> None:
    order_id = world.order["id"]  # 10 000

    found = bulk(
        client,
        [
            notice(order_id, 20_000) | {"idempotency_key": "k-1"},
            notice(order_id, 2_000) | {"idempotency_key": "k-1"},
        ],
    )

    assert statuses(found) == [422, 201]
    [record] = rows(app, IdempotencyRecord)
    assert (record["key"], record["state"]) == ("k-1", "done")


def test_unexpected_failure_undoes_its_chunk_and_frees_its_keys(
    client: TestClient, app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = templates.case_opened

    def case_opened(facts: templates.CaseFacts) -> templates.Rendered:
        if facts.bank_reference == "ARN-BOOM":
            raise RuntimeError("the template broke")
        return opened(facts)

    monkeypatch.setattr(templates, "case_opened", case_opened)
    order_id = world.order["id"]
    committed = [notice(order_id, 1) for _ in range(ingestion.CHUNK)]
    undone = [
        notice(order_id, 1) | {"idempotency_key": "k-undone"},
        notice(order_id, 1, bank_reference="ARN-BOOM"),
        notice(order_id, 1),
    ]

    r = bulk(client, committed + undone, **{"Idempotency-Key": "batch-1"})

    assert r.status_code == 500, r.text
    assert len(rows(app, Chargeback)) == ingestion.CHUNK  # the first chunk committed, the second undone
    for model in (CaseEvent, Message, OutboxMessage):
        assert len(rows(app, model)) == ingestion.CHUNK
    [order] = rows(app, Order, id=order_id)
    assert (order["frozen_amount_minor"], order["version"]) == (ingestion.CHUNK, ingestion.CHUNK + 1)
    assert rows(app, IdempotencyRecord) == []  # the item's key and the request's key are free again
    monkeypatch.undo()
    retried = bulk(client, committed + undone, **{"Idempotency-Key": "batch-1"})
    assert statuses(retried) == [409] * ingestion.CHUNK + [201] * 3
