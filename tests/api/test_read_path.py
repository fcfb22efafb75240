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
from app.security.api_keys import digest
from app.security.credentials import PLATFORM as PLATFORM_CALLER
from app.security.credentials import TENANT, TENANT_KEY, Caller, Scoped, identify, readable, seller_caller
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
    # A seller cannot widen its view with the platform's filter: another seller's id is an empty page.
    assert ids(world.seller_headers, f"?seller_id={other_seller['id']}") == []
    assert ids(world.seller_headers, f"?seller_id={world.seller['id']}") == [mine]
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


def test_readable_checks_a_pending_key_inside_the_statement() -> None:
    pending = identify("sk_not_looked_up", None)
    assert pending.pending
    assert pending.seller_id is None
    statement, params = readable(reads._CASE, pending)
    assert statement is reads._CASE.key_holder
    assert params == {TENANT_KEY: digest("sk_not_looked_up")}
    with pytest.raises(RuntimeError):
        pending.may_see("sel_1")  # nothing may use a key's identity before it is looked up


# Every GET a seller key may call, with what a valid key would get: rows, an empty page, a 404, a 422.
_SELLER_GETS = [
    "/v1/chargebacks/{case}",
    "/v1/chargebacks/cb_00000000000000000000000000",
    "/v1/chargebacks/not-an-id",
    "/v1/chargebacks/{case}/events",
    "/v1/chargebacks/cb_00000000000000000000000000/events",
    "/v1/chargebacks",
    "/v1/chargebacks?order_id=ord_00000000000000000000000000",
    "/v1/chargebacks?limit=abc",
    "/v1/chargebacks?stauts=won",
    "/v1/chargebacks?cursor=garbage",
    "/v1/orders/{order}",
    "/v1/orders/ord_00000000000000000000000000",
    "/v1/messages",
    "/v1/messages?unread=maybe",
    "/v1/sellers/{seller}",
    "/v1/sellers/{seller}/api-keys",
]


def test_an_unknown_or_revoked_key_is_401_on_every_get_whatever_it_asks(
    client: TestClient, world: World
) -> None:
    case = make_case(client, world.order["id"])
    urls = [
        u.format(case=case["id"], order=world.order["id"], seller=world.seller["id"]) for u in _SELLER_GETS
    ]
    revoked = make_key(client, world.seller["id"])
    key_id = client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()[0]["id"]
    assert (
        client.delete(f"/v1/sellers/{world.seller['id']}/api-keys/{key_id}", headers=PLATFORM).status_code
        == 204
    )
    for headers in ({"Authorization": "Bearer sk_unknown"}, revoked):
        for url in urls:
            assert_problem(client.get(url, headers=headers), 401, "invalid_credential")


def test_a_valid_key_gets_its_answer_on_every_get(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    expected = [200, 404, 404, 200, 404, 200, 200, 422, 422, 422, 200, 404, 200, 422, 403, 403]
    got = []
    for u in _SELLER_GETS:
        url = u.format(case=case["id"], order=world.order["id"], seller=world.seller["id"])
        got.append(client.get(url, headers=world.seller_headers).status_code)
    assert got == expected
    empty = client.get(
        "/v1/chargebacks?order_id=ord_00000000000000000000000000", headers=world.seller_headers
    )
    assert empty.json() == {"data": [], "next_cursor": None}


def test_a_sellers_read_that_finds_its_row_is_one_statement(
    client: TestClient, app: FastAPI, world: World
) -> None:
    case = make_case(client, world.order["id"])
    reader = app.state.db.loop_reader
    statements: list[str] = []
    real_one, real_all = reader.one, reader.all

    async def one(select: Any, params: dict[str, Any]) -> Any:
        statements.append("one")
        return await real_one(select, params)

    async def all_(select: Any, params: dict[str, Any]) -> list[Any]:
        statements.append("all")
        rows: list[Any] = await real_all(select, params)
        return rows

    reader.one, reader.all = one, all_
    try:
        r = client.get(f"/v1/chargebacks/{case['id']}", headers=world.seller_headers)
        assert r.status_code == 200
        assert statements == ["one"]  # the key is checked inside the case's own statement
        statements.clear()
        r = client.get("/v1/chargebacks/cb_00000000000000000000000000", headers=world.seller_headers)
        assert_problem(r, 404, "not_found")
        assert statements == ["one", "one"]  # nothing found: the key alone, to tell a 401 from a 404
    finally:
        reader.one, reader.all = real_one, real_all


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
