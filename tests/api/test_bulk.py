"""``POST /v1/chargebacks/bulk``: up to 500 notices, each succeeding or failing on its own, in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from time_machine import TimeMachineFixture

from app.worker import Dispatcher
from tests.api.conftest import PLATFORM, Mailbox, World, assert_problem_body, make_case, make_order, notice

T0 = datetime(2026, 9, 29, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


def bulk(client: TestClient, notices: list[Any], **headers: str) -> httpx2.Response:
    return client.post("/v1/chargebacks/bulk", json={"notices": notices}, headers=PLATFORM | headers)


def results(r: httpx2.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    found: list[dict[str, Any]] = r.json()["results"]
    assert [item["index"] for item in found] == list(range(len(found)))
    return found


def order_of(client: TestClient, order_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/orders/{order_id}", headers=PLATFORM)
    assert r.status_code == 200, r.text
    return dict(r.json())


def case_ids(client: TestClient) -> list[str]:
    r = client.get("/v1/chargebacks?limit=200", headers=PLATFORM)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["data"]]


def message_count(client: TestClient, world: World) -> int:
    r = client.get("/v1/messages?limit=200", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


def assert_item_problem(item: dict[str, Any], status: int, code: str, field: str | None = None) -> None:
    assert item["status"] == status, item
    assert item["chargeback"] is None
    assert_problem_body(item["problem"], status, code, field)


def test_bulk_processes_each_notice_on_its_own_in_request_order(
    client: TestClient, world: World, mailbox: Mailbox, dispatcher: Dispatcher
) -> None:
    order_id = world.order["id"]  # 10 000
    first = notice(order_id, 6_000)
    notices = [
        first,
        notice(order_id, 0),
        notice("ord_00000000000000000000000000", 1_000),
        notice(order_id, 5_000),  # only 4 000 left after the first
        notice(order_id, 4_000),
        notice(order_id, 1, bank_reference=first["bank_reference"]),
        notice(order_id, 1) | {"colour": "red"},
    ]

    found = results(bulk(client, notices))

    assert [item["status"] for item in found] == [201, 422, 404, 422, 201, 409, 422]
    assert_item_problem(found[1], 422, "validation_error", "amount_minor")
    assert_item_problem(found[2], 404, "not_found")
    assert_item_problem(found[3], 422, "amount_exceeds_order")
    assert_item_problem(found[5], 409, "duplicate_chargeback")
    assert_item_problem(found[6], 422, "validation_error", "colour")
    created = [found[0]["chargeback"], found[4]["chargeback"]]
    assert [c["amount_minor"] for c in created] == [6_000, 4_000]
    assert all(c["id"].startswith("cb_") and c["status"] == "needs_response" for c in created)
    assert found[0]["problem"] is None
    assert [c["bank_reference"] for c in created] == [first["bank_reference"], notices[4]["bank_reference"]]
    order = order_of(client, order_id)
    assert (order["fund_status"], order["frozen_amount_minor"]) == ("frozen", 10_000)
    assert order["chargeback_ids"] == [c["id"] for c in created]
    assert message_count(client, world) == 2
    dispatcher.run_until_idle()
    assert len(mailbox.messages) == 2


def test_bulk_items_with_idempotency_key_are_replayed(client: TestClient, world: World) -> None:
    order_id = world.order["id"]
    notices = [
        notice(order_id, 3_000) | {"idempotency_key": "erp-1"},
        notice(order_id, 2_000) | {"idempotency_key": "erp-2"},
    ]
    first = results(bulk(client, notices))
    assert [item["status"] for item in first] == [201, 201]
    order = order_of(client, order_id)

    again = results(bulk(client, notices))

    assert [item["status"] for item in again] == [200, 200]
    assert [item["chargeback"] for item in again] == [item["chargeback"] for item in first]
    assert order_of(client, order_id) == order
    assert sorted(case_ids(client)) == sorted(item["chargeback"]["id"] for item in first)
    assert message_count(client, world) == 2


def test_bulk_item_key_replays_like_a_single_request(client: TestClient, world: World) -> None:
    body = notice(world.order["id"], 3_000)
    created = results(bulk(client, [body | {"idempotency_key": "erp-1"}]))[0]["chargeback"]

    r = client.post("/v1/chargebacks", json=body, headers=PLATFORM | {"Idempotency-Key": "erp-1"})

    assert r.status_code == 201, r.text
    assert r.headers["idempotent-replayed"] == "true"
    assert r.json() == created
    assert case_ids(client) == [created["id"]]


def test_single_request_key_replays_in_a_bulk(client: TestClient, world: World) -> None:
    body = notice(world.order["id"], 3_000)
    r = client.post("/v1/chargebacks", json=body, headers=PLATFORM | {"Idempotency-Key": "erp-1"})
    assert r.status_code == 201, r.text

    item = results(bulk(client, [body | {"idempotency_key": "erp-1"}]))[0]

    assert item["status"] == 200
    assert item["chargeback"] == r.json()
    assert case_ids(client) == [r.json()["id"]]


def test_bulk_item_key_reused_for_another_notice_fails_alone(client: TestClient, world: World) -> None:
    order_id = world.order["id"]
    assert results(bulk(client, [notice(order_id, 3_000) | {"idempotency_key": "erp-1"}]))[0]["status"] == 201

    found = results(
        bulk(client, [notice(order_id, 2_000) | {"idempotency_key": "erp-1"}, notice(order_id, 1_000)])
    )

    assert_item_problem(found[0], 422, "idempotency_key_reused")
    assert found[1]["status"] == 201
    assert order_of(client, order_id)["frozen_amount_minor"] == 4_000


def test_failed_bulk_item_leaves_its_key_free_for_a_retry(client: TestClient, world: World) -> None:
    order_id = world.order["id"]
    holder = make_case(client, order_id, 8_000)
    retry = [notice(order_id, 5_000) | {"idempotency_key": "erp-1"}]
    assert_item_problem(results(bulk(client, retry))[0], 422, "amount_exceeds_order")
    ruled = client.post(f"/v1/chargebacks/{holder['id']}/ruling", json={"outcome": "won"}, headers=PLATFORM)
    assert ruled.status_code == 200, ruled.text

    item = results(bulk(client, retry))[0]

    assert item["status"] == 201
    assert order_of(client, order_id)["frozen_amount_minor"] == 5_000


def test_bulk_with_idempotency_key_header_replays_the_whole_response(
    client: TestClient, world: World
) -> None:
    notices = [notice(world.order["id"], 3_000), notice(world.order["id"], 0)]
    first = bulk(client, notices, **{"Idempotency-Key": "batch-1"})
    assert [item["status"] for item in results(first)] == [201, 422]

    again = bulk(client, notices, **{"Idempotency-Key": "batch-1"})

    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(case_ids(client)) == 1

    other = bulk(client, notices[:1], **{"Idempotency-Key": "batch-1"})
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert len(case_ids(client)) == 1


def test_bulk_item_with_unstorable_values_fails_alone(client: TestClient, world: World) -> None:
    order_id = world.order["id"]
    found = results(
        bulk(
            client,
            [
                notice("ord_\x00"),
                notice(order_id, provider_due_at="9999-12-31T23:59:59-14:00"),
                notice(order_id, received_at="2026-09-29T10:00:00"),
                notice(order_id, bank_reference="ARN\x00"),
                notice(order_id, 1_000),
            ],
        )
    )
    assert_item_problem(found[0], 422, "validation_error", "order_id")
    assert_item_problem(found[1], 422, "validation_error", "provider_due_at")
    assert_item_problem(found[2], 422, "validation_error", "received_at")
    assert_item_problem(found[3], 422, "validation_error", "bank_reference")
    assert found[4]["status"] == 201


def test_bulk_of_500_notices_is_accepted(client: TestClient, world: World) -> None:
    found = results(bulk(client, [notice(world.order["id"], 0)] * 499 + [notice(world.order["id"], 1_000)]))
    assert len(found) == 500
    assert {item["status"] for item in found[:499]} == {422}
    assert found[499]["status"] == 201


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"notices": [notice("ord_00000000000000000000000000", 1)] * 501}, id="501-notices"),
        pytest.param({"notices": []}, id="empty"),
        pytest.param({}, id="missing"),
        pytest.param({"notices": {"0": {}}}, id="not-a-list"),
    ],
)
def test_bulk_with_bad_notice_list_is_refused(
    client: TestClient, world: World, payload: dict[str, Any]
) -> None:
    r = client.post("/v1/chargebacks/bulk", json=payload, headers=PLATFORM)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "notices" in [e["field"] for e in r.json()["errors"]]
    assert case_ids(client) == []


def test_bulk_with_an_item_that_is_not_an_object_is_refused_whole(client: TestClient, world: World) -> None:
    # Malformed structure, not a bad notice: the request as a whole is refused and nothing is created.
    r = bulk(client, [notice(world.order["id"], 1_000), 5])
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert "notices.1" in [e["field"] for e in r.json()["errors"]]
    assert case_ids(client) == []


def test_bulk_with_seller_key_is_forbidden(client: TestClient, world: World) -> None:
    r = client.post(
        "/v1/chargebacks/bulk", json={"notices": [notice(world.order["id"])]}, headers=world.seller_headers
    )
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden"
    assert case_ids(client) == []


def test_bulk_items_for_orders_of_several_sellers(client: TestClient, world: World) -> None:
    other = client.post(
        "/v1/sellers", json={"name": "Other", "email": "ops@other.example", "country": "FR"}, headers=PLATFORM
    ).json()
    other_order = make_order(client, other["id"], currency="USD")
    found = results(
        bulk(client, [notice(world.order["id"], 1_000), notice(other_order["id"], 2_000, currency="USD")])
    )
    assert [item["chargeback"]["seller_id"] for item in found] == [world.seller["id"], other["id"]]
    mine = client.get("/v1/chargebacks", headers=world.seller_headers).json()["data"]
    assert [c["id"] for c in mine] == [found[0]["chargeback"]["id"]]
