"""What Schemathesis found (tests/contract), each pinned here as a plain regression test."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLATFORM, World, assert_problem, make_case, notice


def _spec(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-11-27T09:30Z", "2026-11-27 09:30:00Z"])
def test_timestamp_query_outside_rfc3339_is_invalid(client: TestClient, world: World, value: str) -> None:
    # pydantic alone read "0.5" as Unix time; the schema promises an RFC 3339 date-time.
    r = client.get("/v1/chargebacks", params={"updated_since": value}, headers=world.seller_headers)
    assert_problem(r, 422, "validation_error", "updated_since")


def test_timestamp_body_as_a_number_is_invalid(client: TestClient, world: World) -> None:
    r = client.post(
        "/v1/chargebacks", json=notice(world.order["id"], received_at=1_700_000_000), headers=PLATFORM
    )
    assert_problem(r, 422, "validation_error", "received_at")


def test_rfc3339_timestamps_with_offsets_still_work(client: TestClient, world: World) -> None:
    r = client.get(
        "/v1/chargebacks",
        params={"updated_since": "2026-01-01T08:00:00.5+08:00", "received_before": "2099-01-01t00:00:00z"},
        headers=world.seller_headers,
    )
    assert r.status_code == 200, r.text


def test_if_match_is_documented_as_the_string_the_server_accepts(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    accept = _spec(client)["paths"]["/v1/chargebacks/{chargeback_id}/accept"]["post"]
    (schema,) = [p["schema"] for p in accept["parameters"] if p["name"].lower() == "if-match"]
    # A header is never null: the schema said it could be, and "null" was refused with 422.
    assert schema["type"] == "string"
    assert "anyOf" not in schema
    pattern = re.compile(schema["pattern"])
    url = f"/v1/chargebacks/{case['id']}/accept"
    for value in ("null", '"x"', "W/3"):
        assert not pattern.search(value)
        assert_problem(
            client.post(url, headers=world.seller_headers | {"If-Match": value}), 422, "validation_error"
        )
    for value in ('"99"', 'W/"99"', "99"):
        assert pattern.search(value)
        assert_problem(
            client.post(url, headers=world.seller_headers | {"If-Match": value}), 412, "precondition_failed"
        )
    assert pattern.search("*")


def test_single_line_fields_document_their_pattern(client: TestClient, world: World) -> None:
    name = _spec(client)["components"]["schemas"]["ApiKeyCreate"]["properties"]["name"]
    pattern = re.compile(name["pattern"])
    assert pattern.search("ERP production")
    assert not pattern.search("ERP\nproduction")
    r = client.post(
        f"/v1/sellers/{world.seller['id']}/api-keys", json={"name": "ERP\u0007"}, headers=PLATFORM
    )
    assert_problem(r, 422, "validation_error", "name")


def test_accept_terms_is_documented_as_true(client: TestClient) -> None:
    schemas = _spec(client)["components"]["schemas"]
    (model,) = [s for s in schemas.values() if "accept_terms" in s.get("properties", {})]
    assert model["properties"]["accept_terms"]["const"] is True


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_may_load_nothing_from_elsewhere(client: TestClient, path: str) -> None:
    # ReDoc's bundle fetched its footer logo from a CDN (found in headless Chromium, tests/contract).
    r = client.get(path)
    assert r.status_code == 200
    policy = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["connect-src"] == "'self'"


def test_swagger_ui_asks_no_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_required_strings_are_documented_as_not_blank(client: TestClient, world: World) -> None:
    # Strings are stripped before their length is checked: " " was schema-valid yet refused.
    schemas = _spec(client)["components"]["schemas"]
    (refresh,) = [s for s in schemas.values() if list(s.get("properties", {})) == ["refresh_token"]]
    token = re.compile(refresh["properties"]["refresh_token"]["pattern"])
    name = re.compile(schemas["ApiKeyCreate"]["properties"]["name"]["pattern"])
    for blank in (" ", "\t\u3000", "\x85\xa0"):
        assert not token.search(blank)
        assert not name.search(blank)
    assert token.search("\x1c")  # pydantic strips Unicode White_Space only, not all of str.isspace
    assert token.search(" rt_x ")
    assert name.search(" ERP production ")
    r = client.post(f"/v1/sellers/{world.seller['id']}/api-keys", json={"name": "   "}, headers=PLATFORM)
    assert_problem(r, 422, "validation_error", "name")


def test_idempotency_key_is_documented_as_the_server_checks_it(client: TestClient) -> None:
    create = _spec(client)["paths"]["/v1/orders"]["post"]
    (schema,) = [p["schema"] for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert schema["type"] == "string"
    pattern = re.compile(schema["pattern"])
    # Over every character a header can carry (latin-1), the pattern is the server's isprintable.
    for code in range(0x100):
        assert bool(pattern.fullmatch(chr(code))) == chr(code).isprintable(), hex(code)
    assert pattern.fullmatch("k" * 255)
    assert not pattern.fullmatch("k" * 256)
    assert not pattern.fullmatch("")
