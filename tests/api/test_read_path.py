"""The one read path: every GET through ``readable`` on the loop reader, rows to JSON in ``views``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.domain.errors import Forbidden
from app.models.chargeback import ChargebackPublic
from app.models.order import OrderPublic
from app.models.seller import ApiKeyPublic, SellerPublic
from app.routers.chargebacks import ChargebackPage, EventList
from app.routers.messages import MessagePage
from app.security.credentials import PLATFORM as PLATFORM_CALLER
from app.security.credentials import TENANT, Caller, Scoped, readable, seller_caller
from app.services import reads
from tests.api.conftest import PLATFORM, World, assert_problem, make_case, make_key, make_order, make_seller


def _holds_to(schema: Any, body: Any) -> None:
    """The body is exactly what its documented schema would serialise (no field missing, none extra)."""
    adapter: TypeAdapter[Any] = TypeAdapter(schema)
    assert adapter.dump_python(adapter.validate_python(body), mode="json") == body


def test_every_get_answers_exactly_its_documented_schema(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], provider_due_at="2099-01-01T00:00:00Z")
    client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers)
    sid = world.seller["id"]
    checks: list[tuple[str, dict[str, str], Any]] = [
        (f"/v1/chargebacks/{case['id']}", world.seller_headers, ChargebackPublic),
        ("/v1/chargebacks?limit=5", world.seller_headers, ChargebackPage),
        (f"/v1/chargebacks/{case['id']}/events", world.seller_headers, EventList),
        (f"/v1/orders/{world.order['id']}", world.seller_headers, OrderPublic),
        ("/v1/messages", world.seller_headers, MessagePage),
        (f"/v1/sellers/{sid}", PLATFORM, SellerPublic),
        (f"/v1/sellers/{sid}/api-keys", PLATFORM, list[ApiKeyPublic]),
    ]
    for url, headers, schema in checks:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.text)
        _holds_to(schema, r.json())
    # Timestamps are RFC 3339 in UTC with a Z.
    body = client.get(f"/v1/chargebacks/{case['id']}", headers=world.seller_headers).json()
    assert body["received_at"].endswith("Z")
    assert body["closed_at"].endswith("Z")


def test_writes_answer_through_the_same_views_as_reads(client: TestClient, world: World) -> None:
    created = make_case(client, world.order["id"])
    read = client.get(f"/v1/chargebacks/{created['id']}", headers=world.seller_headers).json()
    assert read == created
    order = make_order(client, world.seller["id"], external_ref="SO-views")
    assert client.get(f"/v1/orders/{order['id']}", headers=PLATFORM).json() == order


@pytest.mark.parametrize("kind", ["chargeback", "events", "order"])
def test_another_sellers_data_is_not_found(client: TestClient, world: World, kind: str) -> None:
    case = make_case(client, world.order["id"])
    other = make_key(client, make_seller(client, email="other@shop.example")["id"])
    url = {
        "chargeback": f"/v1/chargebacks/{case['id']}",
        "events": f"/v1/chargebacks/{case['id']}/events",
        "order": f"/v1/orders/{world.order['id']}",
    }[kind]
    assert client.get(url, headers=world.seller_headers).status_code == 200
    assert_problem(client.get(url, headers=other), 404, "not_found")
    assert client.get(url, headers=PLATFORM).status_code == 200


def test_lists_hold_only_the_callers_rows(client: TestClient, world: World) -> None:
    other_seller = make_seller(client, email="other@shop.example")
    other = make_key(client, other_seller["id"])
    mine = make_case(client, world.order["id"])["id"]
    theirs = make_case(client, make_order(client, other_seller["id"])["id"])["id"]

    def ids(headers: dict[str, str], q: str = "") -> list[str]:
        return [c["id"] for c in client.get(f"/v1/chargebacks{q}", headers=headers).json()["data"]]

    assert ids(world.seller_headers) == [mine]
    assert ids(other) == [theirs]
    assert ids(PLATFORM) == [theirs, mine]
    assert ids(PLATFORM, f"?seller_id={world.seller['id']}") == [mine]
    # A seller cannot widen its view with the platform's filter.
    assert ids(world.seller_headers, f"?seller_id={other_seller['id']}") == [mine]
    msgs = client.get("/v1/messages", headers=other).json()["data"]
    assert [m["chargeback_id"] for m in msgs] == [theirs]


def test_readable_scopes_a_seller_and_leaves_the_platform_whole() -> None:
    query = reads._CASE
    statement, params = readable(query, PLATFORM_CALLER)
    assert (statement, params) == (query.everyone, {})
    statement, params = readable(query, seller_caller("key_1", "sel_1"))
    assert statement is query.one_seller
    assert params == {TENANT: "sel_1"}
    assert TENANT in str(statement)


def test_readable_refuses_a_caller_without_a_tenant() -> None:
    nobody = Caller(kind="seller", principal_id="x", actor="x", seller_id=None)
    with pytest.raises(Forbidden):
        readable(Scoped(reads._CASE.everyone, reads._CASES.c.seller_id), nobody)


def test_list_statements_are_built_once_per_shape(client: TestClient, world: World) -> None:
    make_case(client, world.order["id"])
    for _ in range(2):
        for q in ("", "?status=won", "?status=expired", "?reason_category=fraud&limit=1"):
            assert client.get(f"/v1/chargebacks{q}", headers=world.seller_headers).status_code == 200
    shapes = dict(reads._CASE_LISTS)
    assert client.get("/v1/chargebacks?status=lost", headers=world.seller_headers).status_code == 200
    assert shapes == reads._CASE_LISTS  # "lost" has the shape "won" already built


def test_app_routes_are_included_routers_with_operation_ids(app: FastAPI) -> None:
    ops = [op["operationId"] for item in app.openapi()["paths"].values() for op in item.values()]
    assert "get_chargeback" in ops
    assert "list_chargebacks" in ops
    assert len(ops) == len(set(ops))
