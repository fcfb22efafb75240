"""``Idempotency-Key`` on creating POSTs: replays, reuse with another body, failures, races, expiry."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlmodel import Session

from app.core.clock import utcnow
from app.core.config import Settings
from app.domain.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidInput
from app.models import Chargeback, IdempotencyRecord, Order, Seller
from app.services import idempotency
from tests.api.conftest import PLATFORM, World, assert_problem, make_seller, notice

SELLER_BODY = {"name": "Acme Shop", "email": "orders@acme-shop.example", "country": "DE"}


def _with_key(key: str) -> dict[str, str]:
    return {**PLATFORM, "Idempotency-Key": key}


def _count(app: FastAPI, model: type[Any]) -> int:
    with app.state.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _order(client: TestClient, world: World) -> dict[str, Any]:
    r = client.get(f"/v1/orders/{world.order['id']}", headers=PLATFORM)
    assert r.status_code == 200
    return dict(r.json())


# Replays -------------------------------------------------------------------------


def test_same_key_and_body_replays_the_chargeback_and_creates_nothing(
    client: TestClient, world: World, app: FastAPI
) -> None:
    body = notice(world.order["id"], 3_000)
    first = client.post("/v1/chargebacks", json=body, headers=_with_key("cb-1"))
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    events = client.get(f"/v1/chargebacks/{first.json()['id']}/events", headers=PLATFORM).json()["data"]

    for _ in range(2):
        again = client.post("/v1/chargebacks", json=body, headers=_with_key("cb-1"))
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert again.content == first.content

    order = _order(client, world)
    assert order["frozen_amount_minor"] == 3_000
    assert order["chargeback_ids"] == [first.json()["id"]]
    assert _count(app, Chargeback) == 1
    after = client.get(f"/v1/chargebacks/{first.json()['id']}/events", headers=PLATFORM).json()["data"]
    assert after == events


def test_replay_does_not_depend_on_json_key_order_or_spacing(client: TestClient, world: World) -> None:
    body = notice(world.order["id"], 1_000)
    first = client.post("/v1/chargebacks", json=body, headers=_with_key("cb-order"))
    assert first.status_code == 201, first.text
    reordered = b'{\n  "currency": "EUR", "bank_reference": "%s",\n  "amount_minor": 1000,' % (
        body["bank_reference"].encode()
    )
    reordered += b' "reason_code": "13.1", "order_id": "%s"}' % world.order["id"].encode()
    again = client.post(
        "/v1/chargebacks",
        content=reordered,
        headers={**_with_key("cb-order"), "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize("resource", ["sellers", "orders"])
def test_same_key_and_body_replays_the_first_response(
    client: TestClient, world: World, app: FastAPI, resource: str
) -> None:
    body: dict[str, Any] = (
        SELLER_BODY
        if resource == "sellers"
        else {
            "seller_id": world.seller["id"],
            "amount_minor": 500,
            "currency": "EUR",
            "placed_at": "2026-01-02T03:04:05Z",
        }
    )
    model = Seller if resource == "sellers" else Order
    before = _count(app, model)
    first = client.post(f"/v1/{resource}", json=body, headers=_with_key(f"{resource}-1"))
    assert first.status_code == 201, first.text
    again = client.post(f"/v1/{resource}", json=body, headers=_with_key(f"{resource}-1"))
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _count(app, model) == before + 1


def test_without_key_each_request_creates(client: TestClient, app: FastAPI) -> None:
    for _ in range(2):
        r = client.post("/v1/sellers", json=SELLER_BODY, headers=PLATFORM)
        assert r.status_code == 201
        assert "Idempotent-Replayed" not in r.headers
    assert _count(app, Seller) == 2


# Reuse with another request --------------------------------------------------------


def test_same_key_with_different_body_is_422_idempotency_key_reused(
    client: TestClient, world: World, app: FastAPI
) -> None:
    first = client.post("/v1/chargebacks", json=notice(world.order["id"], 1_000), headers=_with_key("cb-2"))
    assert first.status_code == 201, first.text
    r = client.post("/v1/chargebacks", json=notice(world.order["id"], 2_000), headers=_with_key("cb-2"))
    body = assert_problem(r, 422, "idempotency_key_reused")
    assert "Idempotent-Replayed" not in r.headers
    assert body["detail"]
    assert _order(client, world)["frozen_amount_minor"] == 1_000
    assert _count(app, Chargeback) == 1


def test_same_key_on_another_endpoint_is_422_idempotency_key_reused(client: TestClient, world: World) -> None:
    r = client.post(
        "/v1/orders",
        json={"seller_id": world.seller["id"], "amount_minor": 700, "currency": "EUR"},
        headers=_with_key("shared-key"),
    )
    assert r.status_code == 201, r.text
    r = client.post("/v1/sellers", json=SELLER_BODY, headers=_with_key("shared-key"))
    assert_problem(r, 422, "idempotency_key_reused")


def test_same_key_and_body_on_another_path_is_422_idempotency_key_reused(
    client: TestClient, world: World
) -> None:
    """The fingerprint includes the path: one body for two sellers' key endpoints is two requests."""
    other = make_seller(client, name="Other", email="other@other.example")
    r = client.post(
        f"/v1/sellers/{world.seller['id']}/api-keys", json={"name": "erp"}, headers=_with_key("k-1")
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/sellers/{other['id']}/api-keys", json={"name": "erp"}, headers=_with_key("k-1"))
    assert_problem(r, 422, "idempotency_key_reused")
    r = client.get(f"/v1/sellers/{other['id']}/api-keys", headers=PLATFORM)
    assert r.json() == []


def test_keys_are_scoped_per_caller(app: FastAPI) -> None:
    fp_a = idempotency.fingerprint("POST", "/v1/orders", {"amount_minor": 1})
    fp_b = idempotency.fingerprint("POST", "/v1/orders", {"amount_minor": 2})
    with Session(app.state.engine) as session:
        first = idempotency.reserve(session, "platform", "same-key", fp_a)
        second = idempotency.reserve(session, "sel_other_caller", "same-key", fp_b)
        assert isinstance(first, idempotency.Reservation)
        assert isinstance(second, idempotency.Reservation)
        with pytest.raises(IdempotencyKeyReused):
            idempotency.reserve(session, "platform", "same-key", fp_b)


# Failures free the key -------------------------------------------------------------


def test_failed_request_frees_the_key_for_a_fixed_retry(
    client: TestClient, world: World, app: FastAPI
) -> None:
    too_much = notice(world.order["id"], 10_001)
    r = client.post("/v1/chargebacks", json=too_much, headers=_with_key("cb-3"))
    assert_problem(r, 422, "amount_exceeds_order")
    # The failure is not stored as the key's answer: the same request fails afresh, not replayed.
    r = client.post("/v1/chargebacks", json=too_much, headers=_with_key("cb-3"))
    assert_problem(r, 422, "amount_exceeds_order")
    assert "Idempotent-Replayed" not in r.headers

    fixed = notice(world.order["id"], 4_000)
    r = client.post("/v1/chargebacks", json=fixed, headers=_with_key("cb-3"))
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers
    assert _order(client, world)["frozen_amount_minor"] == 4_000
    replay = client.post("/v1/chargebacks", json=fixed, headers=_with_key("cb-3"))
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Chargeback) == 1


def test_not_found_frees_the_key(client: TestClient, world: World) -> None:
    r = client.post("/v1/chargebacks", json=notice("ord_missing", 100), headers=_with_key("cb-4"))
    assert_problem(r, 404, "not_found")
    r = client.post("/v1/chargebacks", json=notice(world.order["id"], 100), headers=_with_key("cb-4"))
    assert r.status_code == 201, r.text


def test_invalid_body_reserves_nothing(client: TestClient, world: World, app: FastAPI) -> None:
    r = client.post("/v1/chargebacks", json={"order_id": world.order["id"]}, headers=_with_key("cb-5"))
    assert_problem(r, 422, "validation_error")
    assert _count(app, IdempotencyRecord) == 0


# Concurrent duplicates ---------------------------------------------------------------


def test_concurrent_reservations_of_one_key_let_exactly_one_through(app: FastAPI) -> None:
    # Each attempt reserves in its own transaction and commits its answer with it: the others wait
    # for the first to end, then replay what it stored.
    fp = idempotency.fingerprint("POST", "/v1/chargebacks", {"amount_minor": 1})
    barrier = threading.Barrier(4)

    def attempt(n: int) -> str:
        with Session(app.state.engine, expire_on_commit=False) as session:
            barrier.wait(timeout=10)
            outcome = idempotency.reserve(session, "platform", "race-key", fp)
            if isinstance(outcome, idempotency.Replay):
                return f"replayed {outcome.body}"
            outcome.complete(session, 201, f"attempt {n}")
            session.commit()
            return "reserved"

    with ThreadPoolExecutor(4) as pool:
        results = sorted(pool.map(attempt, range(4)))
    assert results[-1] == "reserved"
    assert len(set(results[:-1])) == 1, results
    assert results[0].startswith("replayed attempt ")


def test_a_failed_attempt_holds_no_key(app: FastAPI) -> None:
    # The key is taken in the use case's transaction: when that rolls back (an error, a crash, the
    # database going away), the retry finds the key free at once, not after a lease.
    fp = idempotency.fingerprint("POST", "/v1/chargebacks", {"amount_minor": 1})
    with Session(app.state.engine, expire_on_commit=False) as session:
        assert isinstance(idempotency.reserve(session, "platform", "k-fail", fp), idempotency.Reservation)
        session.rollback()
    with Session(app.state.engine, expire_on_commit=False) as session:
        assert isinstance(idempotency.reserve(session, "platform", "k-fail", fp), idempotency.Reservation)
    assert _count(app, IdempotencyRecord) == 0


def test_concurrent_duplicate_requests_create_one_chargeback(
    client: TestClient, world: World, app: FastAPI
) -> None:
    body = notice(world.order["id"], 2_500)
    barrier = threading.Barrier(4)

    def send(_: int) -> Response:
        barrier.wait(timeout=10)
        return client.post("/v1/chargebacks", json=body, headers=_with_key("cb-race"))

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(send, range(4)))

    created = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    busy = [r for r in responses if r.status_code == 409]
    assert len(created) == 1, [(r.status_code, r.text) for r in responses]
    assert len(created) + len(replayed) + len(busy) == 4
    for r in replayed:
        assert r.status_code == 201
        assert r.json() == created[0].json()
    for r in busy:
        assert_problem(r, 409, "idempotency_in_progress")
    assert _count(app, Chargeback) == 1
    order = _order(client, world)
    assert order["frozen_amount_minor"] == 2_500
    assert order["chargeback_ids"] == [created[0].json()["id"]]
    # Once the first is done, a late duplicate is a replay.
    late = client.post("/v1/chargebacks", json=body, headers=_with_key("cb-race"))
    assert late.status_code == 201
    assert late.headers["Idempotent-Replayed"] == "true"


# Expiry and limits -----------------------------------------------------------------


def test_key_is_kept_for_24_hours(client: TestClient, world: World) -> None:
    first = {"seller_id": world.seller["id"], "amount_minor": 100, "currency": "EUR"}
    r = client.post("/v1/orders", json=first, headers=_with_key("order-day"))
    assert r.status_code == 201, r.text
    with time_machine.travel(timedelta(hours=23, minutes=59)):
        r = client.post("/v1/orders", json=first | {"amount_minor": 200}, headers=_with_key("order-day"))
        assert_problem(r, 422, "idempotency_key_reused")
        r = client.post("/v1/orders", json=first, headers=_with_key("order-day"))
        assert r.status_code == 201
        assert r.headers["Idempotent-Replayed"] == "true"


def test_expired_key_can_be_reused_with_a_new_body(client: TestClient, world: World, app: FastAPI) -> None:
    first = {"seller_id": world.seller["id"], "amount_minor": 100, "currency": "EUR"}
    r = client.post("/v1/orders", json=first, headers=_with_key("order-old"))
    assert r.status_code == 201, r.text
    first_id = r.json()["id"]
    with time_machine.travel(timedelta(hours=25)):
        r = client.post("/v1/orders", json=first | {"amount_minor": 200}, headers=_with_key("order-old"))
        assert r.status_code == 201, r.text
        assert "Idempotent-Replayed" not in r.headers
        assert r.json()["id"] != first_id
        assert r.json()["amount_minor"] == 200
        r = client.post("/v1/orders", json=first | {"amount_minor": 200}, headers=_with_key("order-old"))
        assert r.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Order) == 3  # the world's order, the first and the one after expiry


def test_idempotency_key_longer_than_255_is_422_validation_error(client: TestClient, app: FastAPI) -> None:
    r = client.post("/v1/sellers", json=SELLER_BODY, headers=_with_key("k" * 256))
    body = assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["Idempotency-Key"]
    assert _count(app, Seller) == 0
    r = client.post("/v1/sellers", json=SELLER_BODY, headers=_with_key("k" * 255))
    assert r.status_code == 201, r.text


def test_empty_idempotency_key_is_422_validation_error(client: TestClient, app: FastAPI) -> None:
    r = client.post("/v1/sellers", json=SELLER_BODY, headers=_with_key(""))
    assert_problem(r, 422, "validation_error")
    assert _count(app, Seller) == 0


# Several keys at once (a chunk of a bulk request) -----------------------------------------


def _record(key: str, fp: str, state: str, created_at: datetime) -> IdempotencyRecord:
    done = state == "done"
    return IdempotencyRecord(
        caller_id="platform",
        key=key,
        fingerprint=fp,
        state=state,
        response_status=201 if done else None,
        response_body=f'{{"key": "{key}"}}' if done else None,
        created_at=created_at,
        expires_at=created_at + idempotency.KEEP_FOR,
    )


def test_reserving_several_keys_answers_each_as_a_single_request_would(app: FastAPI) -> None:
    fp, other = (idempotency.fingerprint("POST", "/v1/chargebacks", {"n": n}) for n in (1, 2))
    now = utcnow()
    with Session(app.state.engine, expire_on_commit=False) as session:
        session.add_all(
            [
                _record("done", fp, "done", now),
                _record("done-elsewhere", other, "done", now),
                _record("busy", fp, "in_progress", now),  # a bulk request's own key, held across commits
                _record("abandoned", fp, "in_progress", now - idempotency.LEASE - timedelta(seconds=1)),
                _record("expired", other, "done", now - idempotency.KEEP_FOR - timedelta(seconds=1)),
            ]
        )
        session.commit()
        keys = ["new", "done", "done-elsewhere", "busy", "abandoned", "expired", "bad\x01"]

        with time_machine.travel(now, tick=False):
            outcomes = idempotency.reserve_many(session, "platform", [(k, fp) for k in keys])
            session.commit()

        new, done, elsewhere, busy, abandoned, expired, bad = outcomes
        assert new == idempotency.Reservation("platform", "new")
        assert done == idempotency.Replay(201, '{"key": "done"}')
        assert isinstance(elsewhere, IdempotencyKeyReused)
        assert isinstance(busy, IdempotencyInProgress)
        assert abandoned == idempotency.Reservation("platform", "abandoned")  # its holder's lease ran out
        assert expired == idempotency.Reservation("platform", "expired")  # a new request now
        assert isinstance(bad, InvalidInput)
        records = session.scalars(select(IdempotencyRecord))
        stored = {r.key: (r.state, r.fingerprint, r.created_at) for r in records}
        assert stored == {
            "new": ("in_progress", fp, now),
            "done": ("done", fp, now),
            "done-elsewhere": ("done", other, now),
            "busy": ("in_progress", fp, now),
            "abandoned": ("in_progress", fp, now),
            "expired": ("in_progress", fp, now),
        }


def test_reserving_several_keys_one_of_which_another_request_just_stored_replays_it(
    app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite writers queue whole transactions: no other writer can come in between")
    fp = idempotency.fingerprint("POST", "/v1/chargebacks", {"n": 1})
    record = idempotency._new_record
    with Session(app.state.engine) as first, Session(app.state.engine) as second:

        def new_record(caller_id: str, key: str, fp_: str, now: datetime) -> dict[str, Any]:
            # Another request stores "b" after ``first`` looked the keys up, before it inserts them.
            if key == "b" and not second.in_transaction():
                second.add(_record("b", fp, "done", now))
                second.commit()
            return record(caller_id, key, fp_, now)

        monkeypatch.setattr(idempotency, "_new_record", new_record)
        a, b, c = idempotency.reserve_many(first, "platform", [("a", fp), ("b", fp), ("c", fp)])

    assert (a, c) == (idempotency.Reservation("platform", "a"), idempotency.Reservation("platform", "c"))
    assert b == idempotency.Replay(201, '{"key": "b"}')


def test_abandoned_key_is_taken_over_once(app: FastAPI) -> None:
    fp = idempotency.fingerprint("POST", "/v1/chargebacks", {"n": 1})
    now = utcnow()
    abandoned = _record("k", fp, "in_progress", now - idempotency.LEASE - timedelta(seconds=1))
    with Session(app.state.engine, expire_on_commit=False) as session:
        session.add(abandoned)
        session.commit()
        # Two requests saw the abandoned row; the first takes it over and commits.
        assert idempotency.reserve(session, "platform", "k", fp) == idempotency.Reservation("platform", "k")
        session.commit()
        # The second acts on what it saw: the row changed since, so the key is not its.
        outcome = idempotency._answer(session.connection(), abandoned, fp, now)
        assert isinstance(outcome, IdempotencyInProgress)
        session.rollback()
