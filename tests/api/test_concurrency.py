"""Races the database must win: concurrent notices, idempotent retries, rulings and outbox claims.

Threads are lined up on a ``threading.Barrier`` so their requests overlap; each test asserts the
invariant that must hold whatever the interleaving (no sleeps, no timing assumptions).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.models.chargeback import CaseEvent, Chargeback
from app.models.message import Message
from app.models.order import Order
from app.models.outbox import OutboxMessage
from app.notify.outbox import enqueue
from app.worker import claim
from tests.api.conftest import PLATFORM, World, make_case, make_order, notice

T = TypeVar("T")


def run_together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0) … work(n-1)`` in ``n`` threads released at the same instant; re-raises failures."""
    barrier = threading.Barrier(n)

    def task(i: int) -> T:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def engine_of(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


def claim_ids(engine: Engine, limit: int) -> list[str]:
    """One worker's claim, on its own connection."""
    with Session(engine, expire_on_commit=False) as s:
        return [m.id for m in claim(s, utcnow(), limit)]


def code_of(r: httpx2.Response) -> Any:
    return r.json().get("code")


def test_concurrent_notices_on_one_order_never_freeze_more_than_its_amount(
    client: TestClient, app: FastAPI, world: World
) -> None:
    order_id = world.order["id"]
    assert world.order["amount_minor"] == 10_000
    bodies = [notice(order_id, 3_000) for _ in range(12)]

    responses = run_together(12, lambda i: client.post("/v1/chargebacks", json=bodies[i], headers=PLATFORM))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [422] * 9, [r.text for r in responses if r.status_code not in (201, 422)]
    assert {code_of(r) for r in responses if r.status_code == 422} == {"amount_exceeds_order"}
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 3
    with Session(engine_of(app)) as s:
        order = s.get_one(Order, order_id)
        assert (order.frozen_amount_minor, order.debited_amount_minor) == (9_000, 0)
        cases = s.execute(select(col(Chargeback.id)).where(col(Chargeback.order_id) == order_id)).scalars()
        assert set(cases) == created
        messages = list(s.execute(select(Message).where(col(Message.chargeback_id).in_(created))).scalars())
        emails = [
            m.headers.get("X-Chargeback-Id")
            for m in s.execute(select(OutboxMessage).where(col(OutboxMessage.channel) == "email")).scalars()
        ]
    assert sorted(m.chargeback_id or "" for m in messages) == sorted(created)
    assert sorted(emails) == sorted(created)
    r = client.get(f"/v1/orders/{order_id}", headers=world.seller_headers)
    assert r.status_code == 200
    assert r.json()["frozen_amount_minor"] == 9_000
    assert sorted(r.json()["chargeback_ids"]) == sorted(created)


def test_concurrent_retries_with_one_idempotency_key_create_one_chargeback(
    client: TestClient, app: FastAPI, world: World
) -> None:
    order_id = world.order["id"]
    body = notice(order_id, 2_500)
    headers = PLATFORM | {"Idempotency-Key": "erp-retry-race-0001"}

    responses = run_together(8, lambda _: client.post("/v1/chargebacks", json=body, headers=headers))

    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert {code_of(r) for r in responses if r.status_code == 409} <= {"idempotency_in_progress"}
    ok = [r for r in responses if r.status_code == 201]
    assert ok, "the request holding the key must have created the chargeback"
    assert len([r for r in ok if r.headers.get("Idempotent-Replayed") != "true"]) == 1
    ids = {r.json()["id"] for r in ok}
    assert len(ids) == 1
    with Session(engine_of(app)) as s:
        stored = list(
            s.execute(select(col(Chargeback.id)).where(col(Chargeback.order_id) == order_id)).scalars()
        )
        assert stored == list(ids)
        assert s.get_one(Order, order_id).frozen_amount_minor == 2_500
    # A client that got 409 retries later and gets the original answer.
    again = client.post("/v1/chargebacks", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] in ids


def test_concurrent_rulings_on_one_case_settle_the_funds_once(
    client: TestClient, app: FastAPI, world: World
) -> None:
    order_id = world.order["id"]
    case = make_case(client, order_id, 4_000)
    outcomes = ["won", "lost", "won", "lost"]
    # Half the callers also send the ETag they read, as a careful client would.
    extra = [{}, {}, {"If-Match": f'"{case["version"]}"'}, {"If-Match": f'"{case["version"]}"'}]

    responses = run_together(
        4,
        lambda i: client.post(
            f"/v1/chargebacks/{case['id']}/ruling",
            json={"outcome": outcomes[i], "note": f"ruling {i}"},
            headers=PLATFORM | extra[i],
        ),
    )

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, [r.text for r in responses]
    losers = [(r.status_code, code_of(r)) for r in responses if r.status_code != 200]
    assert set(losers) <= {(409, "case_closed"), (412, "precondition_failed")}, losers
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert winner["status"] in ("won", "lost")
    order = client.get(f"/v1/orders/{order_id}", headers=world.seller_headers).json()
    if winner["status"] == "won":
        assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 0)
        assert order["fund_status"] == "available"
    else:
        assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 4_000)
        assert order["fund_status"] == "debited"
    stored = client.get(f"/v1/chargebacks/{case['id']}", headers=PLATFORM).json()
    assert (stored["status"], stored["version"]) == (winner["status"], winner["version"])
    with Session(engine_of(app)) as s:
        kinds = list(
            s.execute(select(col(CaseEvent.type)).where(col(CaseEvent.chargeback_id) == case["id"])).scalars()
        )
        emails = s.execute(
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.channel) == "email")
        ).scalar_one()
    assert sorted(kinds) == sorted(["chargeback.created", f"chargeback.{winner['status']}"])
    assert emails == 2  # the notice's email and the one ruling's


@pytest.mark.postgres_only
def test_two_workers_claiming_the_outbox_at_once_never_share_a_message(
    settings: Settings, app: FastAPI
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite serialises writers; FOR UPDATE SKIP LOCKED claiming is PostgreSQL behaviour")
    engine = engine_of(app)
    for round_ in range(5):
        queued: set[str] = set()
        with Session(engine) as s:
            for i in range(20):
                msg = enqueue(
                    s, channel="email", recipient=f"r{round_}-{i}@shop.example", body="hi", now=utcnow()
                )
                assert msg is not None
                queued.add(msg.id)
            s.commit()
        # Each worker may take 15 of the 20: together they must take all, never the same one.
        claimed = run_together(2, lambda _: claim_ids(engine, 15))
        first, second = (set(c) for c in claimed)
        assert len(first) == len(claimed[0])
        assert len(second) == len(claimed[1])
        assert not first & second, f"round {round_}: both workers claimed {first & second}"
        assert first | second == queued, f"round {round_}: nobody claimed {queued - first - second}"


def test_concurrent_duplicate_notices_create_one_case_and_the_rest_conflict(
    client: TestClient, world: World, app: FastAPI
) -> None:
    body = notice(world.order["id"], 1_000, bank_reference="ARN-DUPLICATE-RACE")

    responses = run_together(8, lambda _: client.post("/v1/chargebacks", json=body, headers=PLATFORM))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses if r.status_code >= 500]
    assert {code_of(r) for r in responses if r.status_code == 409} == {"duplicate_chargeback"}
    with Session(engine_of(app)) as s:
        assert s.execute(select(func.count()).select_from(Chargeback)).scalar_one() == 1
        assert s.get_one(Order, world.order["id"]).frozen_amount_minor == 1_000


def test_concurrent_bulks_sharing_orders_in_opposite_order_all_commit(
    client: TestClient, app: FastAPI, world: World
) -> None:
    # Each bulk locks every order it touches until its chunk commits: without one lock order for all
    # bulks, two that meet the same orders in opposite orders would deadlock on PostgreSQL.
    orders = [make_order(client, world.seller["id"], 1_000)["id"] for _ in range(8)]
    bodies = [[notice(o, 10) for o in orders * 5] for _ in range(4)]
    for body in bodies[1::2]:
        body.reverse()

    responses = run_together(
        4, lambda i: client.post("/v1/chargebacks/bulk", json={"notices": bodies[i]}, headers=PLATFORM)
    )

    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    assert {item["status"] for r in responses for item in r.json()["results"]} == {201}
    with Session(engine_of(app)) as s:
        frozen = s.execute(select(col(Order.frozen_amount_minor)).where(col(Order.id).in_(orders))).scalars()
        assert list(frozen) == [4 * 5 * 10] * len(orders)


def test_concurrent_bulks_with_one_bank_reference_create_one_case(
    client: TestClient, app: FastAPI, world: World
) -> None:
    body = notice(world.order["id"], 1_000, bank_reference="ARN-BULK-RACE")
    others = [[notice(world.order["id"], 1) for _ in range(3)] for _ in range(6)]

    responses = run_together(
        6,
        lambda i: client.post(
            "/v1/chargebacks/bulk", json={"notices": [*others[i][:2], body, others[i][2]]}, headers=PLATFORM
        ),
    )

    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    mine = [r.json()["results"][2] for r in responses]
    assert sorted(item["status"] for item in mine) == [201] + [409] * 5
    assert {item["problem"]["code"] for item in mine if item["status"] == 409} == {"duplicate_chargeback"}
    rest = [item for r in responses for i, item in enumerate(r.json()["results"]) if i != 2]
    assert {item["status"] for item in rest} == {201}
    with Session(engine_of(app)) as s:
        assert s.execute(select(func.count()).select_from(Chargeback)).scalar_one() == 1 + 6 * 3
        assert s.get_one(Order, world.order["id"]).frozen_amount_minor == 1_000 + 6 * 3


def test_concurrent_bulks_with_the_same_item_keys_create_each_notice_once(
    client: TestClient, app: FastAPI, world: World
) -> None:
    # An ERP resending a batch (in any order) while the first send is still being processed.
    orders = [make_order(client, world.seller["id"], 1_000)["id"] for _ in range(4)]
    batch = [notice(orders[i % 4], 10) | {"idempotency_key": f"erp-{i:02d}"} for i in range(24)]
    bodies = [batch if i % 2 == 0 else batch[::-1] for i in range(4)]

    responses = run_together(
        4, lambda i: client.post("/v1/chargebacks/bulk", json={"notices": bodies[i]}, headers=PLATFORM)
    )

    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for body, r in zip(bodies, responses, strict=True):
        for sent, item in zip(body, r.json()["results"], strict=True):
            by_key.setdefault(sent["idempotency_key"], []).append(item)
    for key, items in by_key.items():
        statuses = sorted(item["status"] for item in items)
        assert statuses.count(201) == 1, (key, items)
        assert set(statuses) <= {200, 201, 409}, (key, items)
        busy = {item["problem"]["code"] for item in items if item["status"] == 409}
        assert busy <= {"idempotency_in_progress"}
        assert len({item["chargeback"]["id"] for item in items if item["status"] in (200, 201)}) == 1
    with Session(engine_of(app)) as s:
        assert s.execute(select(func.count()).select_from(Chargeback)).scalar_one() == len(batch)
