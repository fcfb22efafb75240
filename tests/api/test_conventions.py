"""Cross-cutting HTTP conventions: problem documents, request ids, probes, offline docs, hostile input."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import SecretStr
from sqlalchemy import func, select

from app.core.config import Settings
from app.main import create_app
from app.models import Chargeback, Order, Seller
from tests.api.conftest import PLATFORM, PLATFORM_KEY, World, free_port, kept_logs, make_case, notice
from tests.api.conftest import assert_problem as shared_assert_problem

PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "instance"}
SELLER_BODY = {"name": "Acme Shop", "email": "orders@acme-shop.example", "country": "DE"}


def assert_problem(r: Response, status: int, code: str) -> dict[str, Any]:
    body = shared_assert_problem(r, status, code)
    assert body.keys() >= PROBLEM_FIELDS
    return body


def _count(app: FastAPI, model: type[Any]) -> int:
    with app.state.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _bare_settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url or f"sqlite:///{tmp_path}/never-migrated.db",
        platform_api_key=SecretStr(PLATFORM_KEY),
        secret_key=SecretStr("test-secret-key-0123456789"),
        dispatch_in_process=False,
    )


@pytest.fixture
def bare_client(tmp_path: Path) -> Iterator[TestClient]:
    """An app whose database is never touched: for conventions that must not depend on it."""
    application = create_app(_bare_settings(tmp_path))
    yield TestClient(application, raise_server_exceptions=False)
    application.state.db.close()


# Problem documents -------------------------------------------------------------


def test_unknown_route_is_404_not_found(bare_client: TestClient) -> None:
    r = bare_client.get("/v1/no-such-thing", headers=PLATFORM)
    body = assert_problem(r, 404, "not_found")
    assert body["instance"] == "/v1/no-such-thing"


@pytest.mark.parametrize(
    ("method", "path", "accepted"),
    [
        ("PUT", "/v1/sellers", {"POST"}),
        ("DELETE", "/healthz", {"GET"}),
        ("PATCH", "/v1/chargebacks", {"GET", "POST"}),
    ],
)
def test_wrong_method_is_405_method_not_allowed(
    bare_client: TestClient, method: str, path: str, accepted: set[str]
) -> None:
    r = bare_client.request(method, path, headers=PLATFORM)
    body = assert_problem(r, 405, "method_not_allowed")
    assert body["instance"] == path
    allow = {m.strip() for m in r.headers["allow"].split(",")}
    assert allow
    assert allow <= accepted | {"HEAD"}


@pytest.mark.parametrize(
    "raw", [b'{"name": ', b"{'name': 'single quotes'}", b'{"name": "x"} trailing', b"\xff\xfe"]
)
def test_malformed_json_is_400_malformed_json(bare_client: TestClient, raw: bytes) -> None:
    r = bare_client.post("/v1/sellers", content=raw, headers={**PLATFORM, "Content-Type": "application/json"})
    assert_problem(r, 400, "malformed_json")


@pytest.mark.parametrize("payload", [["not", "an", "object"], "a string", 42, True])
@pytest.mark.parametrize("path", ["/v1/sellers", "/v1/orders", "/v1/chargebacks", "/v1/chargebacks/bulk"])
def test_json_body_that_is_not_an_object_is_422_validation_error(
    client: TestClient, path: str, payload: Any
) -> None:
    r = client.post(path, json=payload, headers=PLATFORM)
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"] == [{"field": "body", "message": body["errors"][0]["message"]}]


def test_oversized_body_is_413_payload_too_large_and_nothing_is_written(
    client: TestClient, app: FastAPI
) -> None:
    limit = app.state.settings.max_json_body_bytes
    assert limit == 1_048_576
    oversized = {**SELLER_BODY, "name": "A" * limit}
    r = client.post("/v1/sellers", json=oversized, headers=PLATFORM)
    body = assert_problem(r, 413, "payload_too_large")
    assert str(limit) in body["detail"]
    assert r.headers["x-request-id"] == body["request_id"]
    assert _count(app, Seller) == 0


def test_oversized_streamed_body_without_length_is_413_payload_too_large(
    client: TestClient, app: FastAPI
) -> None:
    chunks = (b" " * 65_536 for _ in range(20))  # no Content-Length: the limit is counted while reading
    r = client.post("/v1/sellers", content=chunks, headers={**PLATFORM, "Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    assert _count(app, Seller) == 0


def test_body_just_under_the_limit_is_read(client: TestClient, app: FastAPI) -> None:
    limit = app.state.settings.max_json_body_bytes
    padded = json.dumps(SELLER_BODY).encode()
    padded = padded[:-1] + b" " * (limit - len(padded)) + b"}"
    assert len(padded) == limit
    r = client.post("/v1/sellers", content=padded, headers={**PLATFORM, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert _count(app, Seller) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-key",
        "Bearer sk_not_a_real_key_0123456789abcdefghij",
        f"Bearer {PLATFORM_KEY}x",
        f"Bearer {PLATFORM_KEY[:-1]}",
        "Bearer " + "k" * 600,
        "Bearer\tsk_tab_separated",
        b"Bearer \xff\xfe\xfd garbled",
        f"Basic {PLATFORM_KEY}",
        "Basic dXNlcjpwYXNzd29yZA==",
        f"Token {PLATFORM_KEY}",
        PLATFORM_KEY,
    ],
)
def test_missing_invalid_or_wrong_scheme_credential_is_401_invalid_credential(
    client: TestClient, authorization: str | bytes | None
) -> None:
    if isinstance(authorization, str):
        authorization = authorization.encode("latin-1")
    headers = {} if authorization is None else {b"Authorization": authorization}
    r = client.post("/v1/sellers", json=SELLER_BODY, headers=headers)
    assert_problem(r, 401, "invalid_credential")
    r = client.get("/v1/chargebacks", headers=headers)
    assert_problem(r, 401, "invalid_credential")


def test_bearer_scheme_is_case_insensitive(client: TestClient) -> None:
    r = client.post("/v1/sellers", json=SELLER_BODY, headers={"Authorization": f"bearer {PLATFORM_KEY}"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=1e3",
        "limit=99999999999999999999999",
        "status=bogus",
        "reason_category=bogus",
        "updated_since=yesterday",
        "updated_since=2026-01-01T00:00:00",  # no offset: ambiguous, refused
        "respond_by_before=not-a-time",
        "cursor=" + "c" * 201,
        "cursor=garbage",
        "order_id=%00",
    ],
)
def test_absurd_query_params_are_422_validation_error(client: TestClient, query: str) -> None:
    r = client.get(f"/v1/chargebacks?{query}", headers=PLATFORM)
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"]
    assert all(e["field"] and e["message"] for e in body["errors"])


ODD_IDS = [
    "%E2%9C%93",  # check mark
    "%F0%9F%92%A9",  # astral-plane emoji
    "%ED%A0%80",  # an encoded lone surrogate (not valid UTF-8)
    "%FF%FE",
    "%00",
    "cb_%00",
    "%20",
    "%0D%0ASet-Cookie:%20x=1",
    "..%2F..%2Fetc%2Fpasswd",
    "%27%20OR%201%3D1%20--",
    "cb_" + "9" * 4_000,
]


def test_odd_path_ids_are_404_not_found(client: TestClient, world: World) -> None:
    seller = world.seller["id"]
    for odd in ODD_IDS:
        for method, path in [
            ("GET", f"/v1/chargebacks/{odd}"),
            ("GET", f"/v1/chargebacks/{odd}/events"),
            ("POST", f"/v1/chargebacks/{odd}/accept"),
            ("GET", f"/v1/orders/{odd}"),
            ("GET", f"/v1/sellers/{odd}"),
            ("GET", f"/v1/sellers/{odd}/api-keys"),
            ("DELETE", f"/v1/sellers/{seller}/api-keys/{odd}"),
        ]:
            r = client.request(method, path, headers=PLATFORM)
            assert_problem(r, 404, "not_found")
    r = client.post(f"/v1/messages/{ODD_IDS[0]}/read", headers=world.seller_headers)
    assert_problem(r, 404, "not_found")


# Hostile bodies ------------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    10**30,
    -(10**30),
    1.5,
    1e308,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f",
    "\ud800",  # lone surrogate, escaped as \ud800 in the JSON text
    "\u202eevil",  # right-to-left override
    "\U0001f4a9" * 50,
    "\u00e9" * 5_000,
    "x" * 100_000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "2026-13-45T99:99:99Z",
    "NaN",
    "\r\nX-Injected: 1",
    [],
    [None, {"$gt": ""}],
    {},
    {"$ne": None},
    {"a": {"b": {"c": {"d": {"e": [1, [2, [3, [4]]]]}}}}},
]

RAW_BODIES: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b"1e400",
    b"NaN",
    b"-Infinity",
    b"\xef\xbb\xbf{}",
    b"\xff\xfe\x00",
    b"[" * 5_000 + b"]" * 5_000,
    b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
    b'{"name": "\\ud800"}',
    b'{"name": "a", "name": {"nested": true}}',
]


def _field_mutations(base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in base:
        for value in HOSTILE_VALUES:
            yield {**base, field: value}
        yield {k: v for k, v in base.items() if k != field}
    yield {**base, "unexpected": "field"}
    yield {**base, "id": "sel_chosen_by_client", "version": 99}


def _mutations(base: dict[str, Any]) -> Iterator[bytes]:
    yield from RAW_BODIES
    for body in _field_mutations(base):
        yield json.dumps(body).encode()


def _assert_handled(r: Response, where: str) -> None:
    assert r.status_code < 500, f"{where}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        assert r.headers["content-type"] == PROBLEM, where
        body = r.json()
        assert body.keys() >= PROBLEM_FIELDS, where
        assert body["status"] == r.status_code, where


def test_hostile_bodies_on_creating_endpoints_never_cause_5xx(client: TestClient, world: World) -> None:
    seller_id, order_id = world.seller["id"], world.order["id"]
    case = make_case(client, order_id, 100)
    targets: list[tuple[str, dict[str, Any]]] = [
        ("/v1/sellers", {**SELLER_BODY, "timezone": "Europe/Berlin"}),
        (f"/v1/sellers/{seller_id}/api-keys", {"name": "erp"}),
        (
            "/v1/orders",
            {
                "seller_id": seller_id,
                "amount_minor": 1_000,
                "currency": "EUR",
                "external_ref": "SO-1",
                "description": "teapot",
                "placed_at": "2026-01-01T00:00:00Z",
            },
        ),
        ("/v1/chargebacks", notice(order_id, 10, network="visa", received_at="2026-01-01T00:00:00Z")),
        (f"/v1/chargebacks/{case['id']}/ruling", {"outcome": "won", "note": "n"}),
    ]
    sent = 0
    for path, base in targets:
        for raw in _mutations(base):
            r = client.post(path, content=raw, headers={**PLATFORM, "Content-Type": "application/json"})
            _assert_handled(r, f"POST {path} {raw[:80]!r}")
            sent += 1
    # Bulk: each hostile notice is judged on its own inside a 200, and never as a 5xx.
    notices: list[Any] = [*_field_mutations(notice(order_id, 10)), *HOSTILE_VALUES]
    for start in range(0, len(notices), 100):
        raw = json.dumps({"notices": notices[start : start + 100]}).encode()
        r = client.post(
            "/v1/chargebacks/bulk", content=raw, headers={**PLATFORM, "Content-Type": "application/json"}
        )
        _assert_handled(r, "bulk")
        if r.status_code == 200:
            results = r.json()["results"]
            assert [item["index"] for item in results] == list(range(len(results)))
            assert all(item["status"] < 500 for item in results), results
    for raw in RAW_BODIES:
        r = client.post(
            "/v1/chargebacks/bulk", content=raw, headers={**PLATFORM, "Content-Type": "application/json"}
        )
        _assert_handled(r, f"bulk raw {raw[:40]!r}")
    assert sent > 300


def test_hostile_body_leaves_the_order_funds_consistent(
    client: TestClient, world: World, app: FastAPI
) -> None:
    for amount in [0, -5, 10**30, 1.5, "100", None, 10_001]:
        r = client.post(
            "/v1/chargebacks", json=notice(world.order["id"], 0) | {"amount_minor": amount}, headers=PLATFORM
        )
        assert r.status_code == 422, (amount, r.text)
        assert r.json()["code"] in ("validation_error", "amount_exceeds_order")
    assert _count(app, Chargeback) == 0
    r = client.get(f"/v1/orders/{world.order['id']}", headers=PLATFORM)
    assert r.status_code == 200
    assert r.json()["frozen_amount_minor"] == 0
    assert _count(app, Order) == 1


# Request ids ---------------------------------------------------------------------


@pytest.mark.parametrize("given", ["req-123", "a1b2c3d4e5f6", "ERP.batch:42_7", "x" * 128])
def test_valid_request_id_is_echoed_in_header_and_problem(bare_client: TestClient, given: str) -> None:
    r = bare_client.get("/healthz", headers={"X-Request-ID": given})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == given
    r = bare_client.get("/v1/nowhere", headers={"X-Request-ID": given})
    body = assert_problem(r, 404, "not_found")
    assert body["request_id"] == given
    assert r.headers["x-request-id"] == given


@pytest.mark.parametrize("given", ["x" * 129, "has spaces in it", "semi;colon", "new\tline", 'quote"d', ""])
def test_invalid_request_id_is_replaced_by_a_generated_one(bare_client: TestClient, given: str) -> None:
    r = bare_client.get("/v1/nowhere", headers={"X-Request-ID": given})
    body = assert_problem(r, 404, "not_found")
    generated = r.headers["x-request-id"]
    assert generated != given
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", generated)
    assert body["request_id"] == generated


def test_missing_request_id_is_generated_per_request(bare_client: TestClient) -> None:
    first = bare_client.get("/healthz")
    second = bare_client.get("/healthz")
    assert first.status_code == 200
    assert second.status_code == 200
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    r = bare_client.get("/v1/nowhere")
    body = assert_problem(r, 404, "not_found")
    assert body["request_id"] == r.headers["x-request-id"]


def test_request_id_is_on_401_and_422_problems(client: TestClient) -> None:
    r = client.get("/v1/chargebacks", headers={"X-Request-ID": "rid-401"})
    assert assert_problem(r, 401, "invalid_credential")["request_id"] == "rid-401"
    r = client.get("/v1/chargebacks?limit=abc", headers={**PLATFORM, "X-Request-ID": "rid-422"})
    assert assert_problem(r, 422, "validation_error")["request_id"] == "rid-422"


# Probes --------------------------------------------------------------------------


def test_healthz_is_ok_without_auth(bare_client: TestClient) -> None:
    r = bare_client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_with_reachable_database_is_ok(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_with_unreachable_database_is_503(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    application = create_app(_bare_settings(tmp_path, url))
    try:
        client = TestClient(application, raise_server_exceptions=False)
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] != "ok"
        assert client.get("/healthz").status_code == 200
    finally:
        application.state.db.close()


# Offline docs --------------------------------------------------------------------

_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_uses_only_local_assets(bare_client: TestClient, page: str) -> None:
    r = bare_client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "fonts.googleapis.com", "fonts.gstatic.com", "cdnjs"):
        assert cdn not in html
    assert not re.search(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", html), html
    assets = _ASSET.findall(html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, html
    for asset in assets:
        assert asset.startswith("/"), asset
        served = bare_client.get(asset)
        assert served.status_code == 200, asset
        assert served.content, asset
    assert "/openapi.json" in html
    spec = bare_client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Chargeback Desk"


def test_swagger_ui_serves_its_stylesheet_locally(bare_client: TestClient) -> None:
    assets = _ASSET.findall(bare_client.get("/docs").text)
    css = [a for a in assets if a.endswith(".css")]
    assert css
    r = bare_client.get(css[0])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")


@pytest.fixture
def app_log() -> Iterator[list[logging.LogRecord]]:
    with kept_logs("chargeback_desk") as records:
        yield records


@pytest.fixture
def boom_client(tmp_path: Path) -> Iterator[TestClient]:
    """An app with one route that fails unexpectedly."""
    application = create_app(_bare_settings(tmp_path))

    @application.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret detail that must not reach the client")

    yield TestClient(application, raise_server_exceptions=False)
    application.state.db.close()


def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    boom_client: TestClient, app_log: list[logging.LogRecord]
) -> None:
    r = boom_client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    body = assert_problem(r, 500, "internal_error")
    assert r.headers["x-request-id"] == body["request_id"] == "req-boom-1"
    assert "secret detail" not in r.text
    errors = [rec for rec in app_log if rec.levelno == logging.ERROR]
    assert [rec.request_id for rec in errors] == ["req-boom-1"]  # type: ignore[attr-defined]
    assert errors[0].exc_info is not None
    access = [rec.getMessage() for rec in app_log if rec.name == "chargeback_desk.access"]
    assert len(access) == 1
    assert access[0].startswith("GET /boom 500 ")


def test_the_access_log_keeps_the_path_encoded_so_it_cannot_forge_lines(
    bare_client: TestClient, app_log: list[logging.LogRecord]
) -> None:
    bare_client.get("/v1/orders/x%0A2026-01-01%20INFO%20forged", headers=PLATFORM)
    lines = [rec.getMessage() for rec in app_log if rec.name == "chargeback_desk.access"]
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert lines[0].startswith("GET /v1/orders/x%0A2026-01-01%20INFO%20forged ")
