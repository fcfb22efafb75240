"""The hop-free read path (app/core/reads.py) against real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import String, bindparam, select, text
from sqlmodel import Session

from app.core.reads import APPLICATION_NAME
from app.models import Chargeback
from app.security.api_keys import digest
from app.services.chargebacks import _CASE_BY_ID, _CASE_FOR_KEY
from tests.api.conftest import PLATFORM, World, make_case, make_key, make_seller
from tests.api.test_credentials import assert_problem


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


def test_the_key_and_its_sellers_case_come_in_one_row(client: TestClient, app: FastAPI, world: World) -> None:
    case = make_case(client, world.order["id"])
    key = world.seller_headers["Authorization"].removeprefix("Bearer ")
    row = _one(app, _CASE_FOR_KEY, {"case_id": case["id"], "key_hash": digest(key)})
    assert (row.key_seller_id, row.id) == (world.seller["id"], case["id"])
    # Another seller's valid key: the key row, without the case.
    other = make_key(client, make_seller(client, email="x@other.example")["id"])["Authorization"][7:]
    row = _one(app, _CASE_FOR_KEY, {"case_id": case["id"], "key_hash": digest(other)})
    assert row.key_id is not None
    assert row.id is None
    # An unknown key: no row at all.
    assert _one(app, _CASE_FOR_KEY, {"case_id": case["id"], "key_hash": digest("sk_unknown")}) is None


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
