"""The hop-free read path (app/core/reads.py) against real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Float, String, bindparam, cast, func, select, text
from sqlmodel import Session

from app.core import reads
from app.core.db import make_engine
from app.core.reads import APPLICATION_NAME, make_loop_reader
from app.dependencies import current_caller, platform_caller
from app.models import Chargeback
from app.security.credentials import PLATFORM as PLATFORM_CALLER
from app.security.credentials import Caller
from tests.api.conftest import PLATFORM, World, assert_problem, make_case

_CASES = Chargeback.__table__  # type: ignore[attr-defined]
_CASE_BY_ID = select(_CASES).where(_CASES.c.id == bindparam("case_id"))


def _one(app: FastAPI, select_: Any, params: dict[str, Any]) -> Any:
    async def run() -> Any:
        return await app.state.db.loop_reader.one(select_, params)

    return asyncio.run(run())


def test_a_record_equals_the_row_the_orm_reads(client: TestClient, app: FastAPI, world: World) -> None:
    due = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    case = make_case(client, world.order["id"], provider_due_at=due)
    record = _one(app, _CASE_BY_ID, {"case_id": case["id"]})
    with Session(app.state.engine) as session:
        orm = session.get(Chargeback, case["id"])
        assert orm is not None
        expected = orm.model_dump()
    assert record._asdict() == expected
    # Timestamps come back aware and in UTC on both databases, as through the ORM.
    assert record.respond_by.tzinfo is UTC
    assert record.provider_due_at.tzinfo is UTC
    assert record.closed_at is None


def test_no_row_is_none(app: FastAPI, world: World) -> None:
    assert _one(app, _CASE_BY_ID, {"case_id": "cb_00000000000000000000000000"}) is None


def test_each_statement_sees_the_latest_commit(client: TestClient, app: FastAPI, world: World) -> None:
    case = make_case(client, world.order["id"])
    assert _one(app, _CASE_BY_ID, {"case_id": case["id"]}).version == 1
    r = client.post(f"/v1/chargebacks/{case['id']}/ruling", json={"outcome": "won"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    after = _one(app, _CASE_BY_ID, {"case_id": case["id"]})
    assert (after.version, after.status) == (2, "won")


def test_a_new_event_loop_gets_its_own_connection_and_close_closes_it(
    client: TestClient, app: FastAPI, world: World
) -> None:
    case = make_case(client, world.order["id"])
    reader = app.state.db.loop_reader
    # asyncio.run makes a new loop each time: the reader must not reuse the last loop's connection
    # (an async PostgreSQL connection cannot move between loops).
    for _ in range(3):
        assert _one(app, _CASE_BY_ID, {"case_id": case["id"]}).id == case["id"]
    reader.close()  # a connection left open would fail this test with a ResourceWarning
    assert _one(app, _CASE_BY_ID, {"case_id": case["id"]}).id == case["id"]


def test_postgresql_connection_killed_while_idle_is_replaced(
    client: TestClient, app: FastAPI, world: World, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        return  # SQLite has no server to lose
    case = make_case(client, world.order["id"])
    reader = app.state.db.loop_reader

    async def scenario() -> tuple[Any, Any]:
        first = await reader.one(_CASE_BY_ID, {"case_id": case["id"]})
        # Terminate every backend of the loop reader, as a server restart would.
        with app.state.engine.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
        assert killed >= 1
        second = await reader.one(_CASE_BY_ID, {"case_id": case["id"]})
        return first, second

    first, second = asyncio.run(scenario())
    assert first.id == second.id == case["id"]


def test_get_by_id_checks_the_credential_before_the_id(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    for headers in ({}, {"Authorization": "Bearer sk_unknown"}, {"Authorization": "Bearer nonsense"}):
        for case_id in (case["id"], "not-an-id", "cb_" + "x" * 300):
            assert_problem(
                client.get(f"/v1/chargebacks/{case_id}", headers=headers), 401, "invalid_credential"
            )
    for headers in (PLATFORM, world.seller_headers):
        for case_id in ("not-an-id", "cb_" + "x" * 300, "cb_00000000000000000000000000"):
            assert_problem(client.get(f"/v1/chargebacks/{case_id}", headers=headers), 404, "not_found")


def test_get_by_id_with_a_revoked_key_is_401_at_once(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    assert client.get(f"/v1/chargebacks/{case['id']}", headers=world.seller_headers).status_code == 200
    key_id = client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()[0]["id"]
    r = client.delete(f"/v1/sellers/{world.seller['id']}/api-keys/{key_id}", headers=PLATFORM)
    assert r.status_code == 204
    r = client.get(f"/v1/chargebacks/{case['id']}", headers=world.seller_headers)
    assert_problem(r, 401, "invalid_credential")


def test_statements_take_parameters_by_name_on_both_databases(app: FastAPI, world: World) -> None:
    # SQLite compiles to positional "?" markers, psycopg to named ones; the reader maps both.
    stmt = select(bindparam("b", type_=String()).label("b"), bindparam("a", type_=String()).label("a"))
    record = _one(app, stmt, {"a": "first", "b": "second"})
    assert (record.a, record.b) == ("first", "second")


def test_through_one_long_lived_loop_reads_follow_writes_and_revocations(app: FastAPI, world: World) -> None:
    # With the lifespan running, every request shares one loop and so one reader connection.
    with TestClient(app, raise_server_exceptions=False) as client:
        case = make_case(client, world.order["id"])
        url = f"/v1/chargebacks/{case['id']}"
        assert client.get(url, headers=world.seller_headers).json()["version"] == 1
        r = client.post(f"{url}/ruling", json={"outcome": "lost"}, headers=PLATFORM)
        assert r.status_code == 200, r.text
        seen = client.get(url, headers=world.seller_headers).json()
        assert (seen["version"], seen["status"]) == (2, "lost")
        key_id = client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()[0]["id"]
        r = client.delete(f"/v1/sellers/{world.seller['id']}/api-keys/{key_id}", headers=PLATFORM)
        assert r.status_code == 204
        assert_problem(client.get(url, headers=world.seller_headers), 401, "invalid_credential")


def test_several_event_loops_at_once_each_read_through_their_own_connection(
    client: TestClient, app: FastAPI, world: World
) -> None:
    cases = [make_case(client, world.order["id"], 100)["id"] for _ in range(3)]
    reader = app.state.db.loop_reader

    def loop_in_a_thread(_: int) -> list[str]:
        async def reads() -> list[str]:
            return [(await reader.one(_CASE_BY_ID, {"case_id": c})).id for c in cases * 10]

        return asyncio.run(reads())

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(loop_in_a_thread, range(12)))
    assert all(r == cases * 10 for r in results)
    reader.close()  # every loop has ended: all their connections close (else a ResourceWarning fails this)


def _slow() -> Any:
    return select(cast(func.pg_sleep(bindparam("seconds", type_=Float())), String()).label("slept"))


def test_postgresql_waiters_are_not_stranded_when_queries_are_cancelled(
    app: FastAPI, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        return  # the SQLite reader has no pool to wait for
    reader = app.state.db.loop_reader

    async def scenario() -> list[Any]:
        async with asyncio.timeout(30):  # a stranded waiter would hang: fail instead
            slow = [asyncio.create_task(reader.one(_slow(), {"seconds": 60})) for _ in range(4)]
            while not reader._pools.get().slots.locked():  # all four connections busy
                await asyncio.sleep(0)
            waiting = [asyncio.create_task(reader.one(_slow(), {"seconds": 0})) for _ in range(3)]
            await asyncio.sleep(0)
            for task in slow:
                task.cancel()
            await asyncio.gather(*slow, return_exceptions=True)
            return await asyncio.gather(*waiting)

    rows = asyncio.run(scenario())
    assert [r.slept for r in rows] == ["", "", ""]


def test_postgresql_connection_failures_free_their_slots(
    app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        return
    # A server that takes the TCP connection and never answers: each connect times out. Twice as
    # many requests as connections: the second half waits for slots that only failures free.
    blackhole = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setattr(reads, "CONNECT_TIMEOUT", 2.0)
    port = blackhole.getsockname()[1]
    settings = app.state.settings.model_copy(
        update={"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/none"}
    )
    reader = make_loop_reader(make_engine(settings))

    async def scenario() -> list[Any]:
        async with asyncio.timeout(20):  # a stranded waiter would hang: fail instead
            return await asyncio.gather(  # type: ignore[no-any-return]
                *(reader.one(_CASE_BY_ID, {"case_id": "cb_x"}) for _ in range(8)), return_exceptions=True
            )

    try:
        results = asyncio.run(scenario())
    finally:
        blackhole.close()
    assert all(isinstance(r, reads.ReadUnavailable) for r in results), results
    reader.close()


def test_dependency_overrides_of_the_caller_reach_every_route(client: TestClient, app: FastAPI) -> None:
    # The route class checks the caller before FastAPI does; an override must replace that check
    # too, and only in the app that set it.
    async def platform_for_everyone() -> Caller:
        return PLATFORM_CALLER

    app.dependency_overrides[current_caller] = platform_for_everyone
    try:
        # No Authorization header at all, yet the platform's view: the order is simply not there.
        assert_problem(client.get("/v1/orders/ord_missing"), 404, "not_found")
    finally:
        app.dependency_overrides.clear()
    assert_problem(client.get("/v1/orders/ord_missing"), 401, "invalid_credential")


def test_an_override_of_the_caller_may_take_the_request(client: TestClient, app: FastAPI) -> None:
    seen: list[str] = []

    def platform_for(request: Request) -> Caller:  # a plain function, given the request
        seen.append(request.url.path)
        return PLATFORM_CALLER

    app.dependency_overrides[current_caller] = platform_for
    try:
        assert_problem(client.get("/v1/sellers/sel_00000000000000000000000000"), 404, "not_found")
        assert_problem(client.get("/v1/me"), 403, "forbidden")  # the gate still judges what it returns
    finally:
        app.dependency_overrides.clear()
    assert seen[0] == "/v1/sellers/sel_00000000000000000000000000"


def test_an_overridden_gate_replaces_the_early_check_too(client: TestClient, app: FastAPI) -> None:
    async def platform_anyway() -> Caller:
        return PLATFORM_CALLER

    app.dependency_overrides[platform_caller] = platform_anyway
    try:
        r = client.get("/v1/sellers/sel_00000000000000000000000000")
        assert_problem(r, 404, "not_found")  # no credential sent, yet judged as the platform
    finally:
        app.dependency_overrides.clear()
    assert_problem(client.get("/v1/sellers/sel_00000000000000000000000000"), 401, "invalid_credential")
