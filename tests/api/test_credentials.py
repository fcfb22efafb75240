"""Credentials: the platform key, seller API keys (shown once, stored hashed, revocable), tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from app.models import ApiKey, IdempotencyRecord
from tests.api.conftest import (
    PLATFORM,
    World,
    assert_problem,
    make_case,
    make_key,
    make_order,
    make_seller,
    notice,
)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create_key(client: TestClient, seller_id: str, name: str = "erp", **headers: str) -> Response:
    return client.post(
        f"/v1/sellers/{seller_id}/api-keys", json={"name": name}, headers={**PLATFORM, **headers}
    )


def _api_key_rows(app: FastAPI) -> list[dict[str, Any]]:
    with app.state.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(ApiKey.__table__))]  # type: ignore[attr-defined]


# Sellers -------------------------------------------------------------------------


def test_platform_creates_seller_with_contract_fields(client: TestClient) -> None:
    body = {"name": "Acme Shop", "email": "Orders@Acme-Shop.example", "country": "de"}
    r = client.post("/v1/sellers", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    seller = r.json()
    assert seller.keys() >= {"id", "name", "email", "country", "timezone", "account_id"}
    assert seller["id"].startswith("sel_")
    assert seller["name"] == "Acme Shop"
    assert seller["email"].lower() == "orders@acme-shop.example"
    assert seller["country"] == "DE"
    assert seller["timezone"] == "Asia/Shanghai"  # the business time zone by default
    assert seller["account_id"] is None
    r = client.get(f"/v1/sellers/{seller['id']}", headers=PLATFORM)
    assert r.status_code == 200
    assert r.json() == seller


def test_seller_with_own_timezone_keeps_it(client: TestClient) -> None:
    seller = make_seller(client, timezone="Europe/Berlin")
    assert seller["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("country", "Germany"), ("timezone", "Mars/Olympus"), ("name", "")],
)
def test_seller_with_invalid_field_is_422_validation_error(
    client: TestClient, field: str, value: str
) -> None:
    body = {"name": "Acme Shop", "email": "orders@acme-shop.example", "country": "DE", field: value}
    r = client.post("/v1/sellers", json=body, headers=PLATFORM)
    problem = assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]


def test_unknown_seller_is_404_not_found(client: TestClient) -> None:
    r = client.get("/v1/sellers/sel_00000000000000000000000000", headers=PLATFORM)
    assert_problem(r, 404, "not_found")
    r = _create_key(client, "sel_00000000000000000000000000")
    assert_problem(r, 404, "not_found")


# Seller API keys ---------------------------------------------------------------------


def test_new_api_key_is_shown_once_with_its_prefix(client: TestClient) -> None:
    seller = make_seller(client)
    r = _create_key(client, seller["id"], "ERP production")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created.keys() >= {"id", "name", "key", "prefix", "created_at"}
    assert created["id"].startswith("key_")
    assert created["name"] == "ERP production"
    assert created["key"].startswith("sk_")
    assert len(created["key"]) >= 40
    assert created["key"].startswith(created["prefix"])
    assert len(created["prefix"]) < len(created["key"]) // 2
    assert created["created_at"].endswith("Z")

    r = client.get(f"/v1/sellers/{seller['id']}/api-keys", headers=PLATFORM)
    assert r.status_code == 200
    listed = r.json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert created["key"] not in r.text
    assert listed[0]["prefix"] == created["prefix"]
    assert listed[0]["revoked_at"] is None


def test_new_api_key_location_reads_the_key_without_its_secret(client: TestClient, world: World) -> None:
    seller = make_seller(client)
    r = _create_key(client, seller["id"], "ERP staging")
    created = r.json()
    shown = client.get(r.headers["location"], headers=PLATFORM)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {k: v for k, v in created.items() if k != "key"} | {"revoked_at": None}
    assert created["key"] not in shown.text
    client.delete(r.headers["location"], headers=PLATFORM)
    assert client.get(r.headers["location"], headers=PLATFORM).json()["revoked_at"] is not None
    # Through another seller, an unknown id, or a seller's own key: as for any resource.
    r = client.get(f"/v1/sellers/{world.seller['id']}/api-keys/{created['id']}", headers=PLATFORM)
    assert_problem(r, 404, "not_found")
    r = client.get(f"/v1/sellers/{seller['id']}/api-keys/not-a-key", headers=PLATFORM)
    assert_problem(r, 404, "not_found")
    r = client.get(f"/v1/sellers/{seller['id']}/api-keys/{created['id']}", headers=world.seller_headers)
    assert_problem(r, 403, "forbidden")


def test_two_keys_of_one_seller_differ(client: TestClient) -> None:
    seller = make_seller(client)
    first, second = (_create_key(client, seller["id"]).json() for _ in range(2))
    assert first["key"] != second["key"]
    assert first["id"] != second["id"]
    r = client.get(f"/v1/sellers/{seller['id']}/api-keys", headers=PLATFORM)
    assert r.status_code == 200
    assert {k["id"] for k in r.json()} == {first["id"], second["id"]}


def test_api_key_is_stored_hashed(client: TestClient, app: FastAPI) -> None:
    seller = make_seller(client)
    key = _create_key(client, seller["id"]).json()["key"]
    rows = _api_key_rows(app)
    assert len(rows) == 1
    for column, value in rows[0].items():
        assert value != key, column
        assert key not in str(value), column
    # Not even the secret part after the shown prefix is kept in any form we could read back.
    assert key[len(rows[0]["prefix"]) :] not in str(rows[0])


def test_api_key_authenticates_its_seller(client: TestClient, world: World) -> None:
    r = client.get(f"/v1/orders/{world.order['id']}", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    assert r.json()["seller_id"] == world.seller["id"]
    r = client.get("/v1/chargebacks", headers=world.seller_headers)
    assert r.status_code == 200
    assert r.json() == {"data": [], "next_cursor": None}


def test_revoked_key_is_refused_on_the_very_next_request(client: TestClient, world: World) -> None:
    keys = client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()
    other = make_key(client, world.seller["id"])
    r = client.delete(f"/v1/sellers/{world.seller['id']}/api-keys/{keys[0]['id']}", headers=PLATFORM)
    assert r.status_code == 204
    assert r.content == b""
    r = client.get(f"/v1/orders/{world.order['id']}", headers=world.seller_headers)
    assert_problem(r, 401, "invalid_credential")
    r = client.get("/v1/chargebacks", headers=world.seller_headers)
    assert_problem(r, 401, "invalid_credential")
    # Only that key: the seller's other key still works.
    assert client.get(f"/v1/orders/{world.order['id']}", headers=other).status_code == 200
    listed = {
        k["id"]: k for k in client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()
    }
    assert listed[keys[0]["id"]]["revoked_at"] is not None


def test_revoking_twice_keeps_the_key_revoked(client: TestClient, world: World) -> None:
    key_id = client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()[0]["id"]
    for _ in range(2):
        r = client.delete(f"/v1/sellers/{world.seller['id']}/api-keys/{key_id}", headers=PLATFORM)
        assert r.status_code == 204
    r = client.get("/v1/chargebacks", headers=world.seller_headers)
    assert_problem(r, 401, "invalid_credential")


def test_revoking_unknown_key_is_404_not_found(client: TestClient, world: World) -> None:
    r = client.delete(
        f"/v1/sellers/{world.seller['id']}/api-keys/key_00000000000000000000000000", headers=PLATFORM
    )
    assert_problem(r, 404, "not_found")


def test_revoking_a_key_through_another_seller_is_404_and_keeps_it(client: TestClient, world: World) -> None:
    other_seller = make_seller(client, name="Other", email="other@other.example")
    key_id = client.get(f"/v1/sellers/{world.seller['id']}/api-keys", headers=PLATFORM).json()[0]["id"]
    r = client.delete(f"/v1/sellers/{other_seller['id']}/api-keys/{key_id}", headers=PLATFORM)
    assert_problem(r, 404, "not_found")
    assert client.get(f"/v1/orders/{world.order['id']}", headers=world.seller_headers).status_code == 200


def test_seller_key_on_platform_endpoints_is_403_forbidden(client: TestClient, world: World) -> None:
    seller_id, order_id = world.seller["id"], world.order["id"]
    case = make_case(client, order_id)
    key_id = client.get(f"/v1/sellers/{seller_id}/api-keys", headers=PLATFORM).json()[0]["id"]
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/v1/sellers", {"name": "Mine", "email": "me@mine.example", "country": "DE"}),
        ("GET", f"/v1/sellers/{seller_id}", None),
        ("POST", f"/v1/sellers/{seller_id}/api-keys", {"name": "self-issued"}),
        ("GET", f"/v1/sellers/{seller_id}/api-keys", None),
        ("DELETE", f"/v1/sellers/{seller_id}/api-keys/{key_id}", None),
        ("POST", "/v1/orders", {"seller_id": seller_id, "amount_minor": 100, "currency": "EUR"}),
        ("POST", "/v1/chargebacks", notice(order_id, 100)),
        ("POST", "/v1/chargebacks/bulk", {"notices": [notice(order_id, 100)]}),
        ("POST", f"/v1/chargebacks/{case['id']}/ruling", {"outcome": "won"}),
    ]
    for method, path, body in calls:
        r = client.request(method, path, json=body, headers=world.seller_headers)
        assert_problem(r, 403, "forbidden")
    # Nothing happened: the key still works, the case is still open, no second case exists.
    r = client.get(f"/v1/orders/{order_id}", headers=world.seller_headers)
    assert r.status_code == 200
    assert r.json()["chargeback_ids"] == [case["id"]]
    assert client.get(f"/v1/chargebacks/{case['id']}", headers=PLATFORM).json()["status"] == "needs_response"


def test_platform_key_on_seller_only_endpoint_is_403_forbidden(client: TestClient) -> None:
    r = client.get("/v1/messages", headers=PLATFORM)
    assert_problem(r, 403, "forbidden")


def test_other_sellers_order_and_chargeback_are_404_not_found(client: TestClient, world: World) -> None:
    other = make_seller(client, name="Other Shop", email="orders@other.example")
    other_order = make_order(client, other["id"])
    other_case = make_case(client, other_order["id"])
    own_case = make_case(client, world.order["id"])
    for method, path in [
        ("GET", f"/v1/orders/{other_order['id']}"),
        ("GET", f"/v1/chargebacks/{other_case['id']}"),
        ("GET", f"/v1/chargebacks/{other_case['id']}/events"),
        ("POST", f"/v1/chargebacks/{other_case['id']}/accept"),
    ]:
        r = client.request(method, path, headers=world.seller_headers)
        body = assert_problem(r, 404, "not_found")
        # The same answer as for an id that does not exist: nothing tells the ids apart.
        missing = client.request(
            method, path.replace(other_case["id"], "cb_missing"), headers=world.seller_headers
        )
        assert missing.status_code == 404
        assert body["title"] == missing.json()["title"]
    # The other seller's case was not accepted through the refused call.
    r = client.get(f"/v1/chargebacks/{other_case['id']}", headers=PLATFORM)
    assert r.json()["status"] == "needs_response"
    # A seller's list holds only its own cases: seller_id is a filter, and another seller's is empty.
    r = client.get(f"/v1/chargebacks?seller_id={other['id']}", headers=world.seller_headers)
    assert r.status_code == 200
    assert r.json() == {"data": [], "next_cursor": None}
    r = client.get(f"/v1/chargebacks?seller_id={world.seller['id']}", headers=world.seller_headers)
    assert [c["id"] for c in r.json()["data"]] == [own_case["id"]]
    r = client.get(f"/v1/orders?seller_id={other['id']}", headers=world.seller_headers)
    assert r.json() == {"data": [], "next_cursor": None}
    r = client.get(f"/v1/orders?seller_id={world.seller['id']}", headers=world.seller_headers)
    assert other_order["id"] not in [o["id"] for o in r.json()["data"]]
    assert r.json()["data"], "the seller's own orders under its own id"
    # An unknown key naming a seller is still a 401, never an empty page.
    r = client.get(f"/v1/orders?seller_id={other['id']}", headers={"Authorization": "Bearer sk_unknown"})
    assert_problem(r, 401, "invalid_credential")
    r = client.get(f"/v1/chargebacks?order_id={other_order['id']}", headers=world.seller_headers)
    assert r.status_code == 200
    assert r.json()["data"] == []


# Idempotent key creation -------------------------------------------------------------


def test_replayed_api_key_creation_does_not_return_the_secret_again(client: TestClient, app: FastAPI) -> None:
    """Documented behaviour: a replay returns the first response with `key: null` (never stored)."""
    seller = make_seller(client)
    first = _create_key(client, seller["id"], **{"Idempotency-Key": "key-create-1"})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    secret = first.json()["key"]

    replay = _create_key(client, seller["id"], **{"Idempotency-Key": "key-create-1"})
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    body = replay.json()
    assert body["key"] is None
    assert secret not in replay.text
    assert body == first.json() | {"key": None}

    keys = client.get(f"/v1/sellers/{seller['id']}/api-keys", headers=PLATFORM).json()
    assert [k["id"] for k in keys] == [body["id"]]
    with app.state.engine.connect() as conn:
        stored = conn.execute(select(IdempotencyRecord.__table__)).mappings().all()  # type: ignore[attr-defined]
    assert len(stored) == 1
    assert all(secret not in str(value) for value in stored[0].values())
    # The secret from the first response is the one that works.
    assert client.get("/v1/chargebacks", headers=_bearer(secret)).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "localtime"),  # the host's zone: means something else on every machine
        ("timezone", "Factory"),
        ("timezone", "Mars/Olympus"),
        ("country", "ZZ"),
        ("country", "XX"),
    ],
)
def test_seller_with_unreal_timezone_or_country_is_refused(
    client: TestClient, field: str, value: str
) -> None:
    body = {"name": "Acme", "email": "a@shop.example", "country": "DE", field: value}
    r = client.post("/v1/sellers", json=body, headers=PLATFORM)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert [e["field"] for e in r.json()["errors"]] == [field]
