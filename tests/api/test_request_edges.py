"""What a hostile probe found at the edges of a request, each held by a test that failed before."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.core.config import Settings
from app.main import create_app
from app.models import IdempotencyRecord
from tests.api.conftest import PLATFORM, World, assert_problem, make_case, notice

NOBODY: dict[str, str] = {}
STRANGER = {"Authorization": "Bearer sk_not_a_key_of_anyone"}


# The credential first ------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [NOBODY, STRANGER], ids=["none", "unknown"])
def test_without_a_valid_credential_everything_else_is_unjudged_401(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    case = make_case(client, world.order["id"])
    url = f"/v1/chargebacks/{case['id']}"
    attempts = [
        client.post(f"{url}/ruling", json={"outcome": "won"}, headers=headers | {"If-Match": '"x"'}),
        client.post(f"{url}/ruling", content=b"{not", headers=headers | {"Content-Type": "application/json"}),
        client.post("/v1/chargebacks", json={"amount_minor": "lots"}, headers=headers),
        client.post("/v1/chargebacks/bulk", content=b"\xff\xfe", headers=headers),
        client.get("/v1/chargebacks?stauts=won&limit=0", headers=headers),
        client.get("/v1/orders/not-an-id?x=1", headers=headers),
    ]
    for r in attempts:
        assert_problem(r, 401, "invalid_credential")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_seller_key_on_a_platform_write_is_403_before_the_body_is_read(
    client: TestClient, world: World
) -> None:
    r = client.post(
        "/v1/orders", content=b"{broken", headers=world.seller_headers | {"Content-Type": "application/json"}
    )
    assert_problem(r, 403, "forbidden")


# If-Match --------------------------------------------------------------------------------------


NOT_OURS = ['"²"', "²", '"1²"', "\u0661", '"-1"', '"1.0"', '"' + "9" * 13 + '"', 'W/"x"']


@pytest.mark.parametrize("value", NOT_OURS)
def test_if_match_that_is_not_one_of_our_etags_is_422(client: TestClient, world: World, value: str) -> None:
    case = make_case(client, world.order["id"])
    r = client.post(
        f"/v1/chargebacks/{case['id']}/ruling",
        json={"outcome": "won"},
        headers=[(b"authorization", PLATFORM["Authorization"].encode()), (b"if-match", value.encode())],
    )
    assert_problem(r, 422, "validation_error", field="If-Match")


@pytest.mark.parametrize("value", ['"1"', 'W/"1"', "1", "*"])
def test_if_match_in_each_accepted_form_matches(client: TestClient, world: World, value: str) -> None:
    case = make_case(client, world.order["id"])
    url = f"/v1/chargebacks/{case['id']}/ruling"
    r = client.post(url, json={"outcome": "won"}, headers=PLATFORM | {"If-Match": value})
    assert r.status_code == 200, r.text


# Bodies that cannot be parsed: one answer ------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"notices": [' + b"[" * depth + b"]" * depth + b"]}"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"notices": [}', b'{"a": "\xff\xfe"}', b"\xef\xbb", _nested(256), _nested(5000)],
    ids=["syntax", "syntax-list", "invalid-utf8", "truncated-utf8", "nested-256", "nested-5000"],
)
def test_every_unparseable_body_is_400_malformed_json(client: TestClient, body: bytes) -> None:
    for url in ("/v1/chargebacks/bulk", "/v1/chargebacks", "/v1/orders"):
        r = client.post(url, content=body, headers=PLATFORM | {"Content-Type": "application/json"})
        assert_problem(r, 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "Shop", "email": "ops@shop.example", "country": "DE"}'.encode("utf-16"),
        '{"name": "Shop", "email": "ops@shop.example", "country": "DE"}'.encode("utf-32-le"),
        b'{"name": "Shop", "email": "ops@shop.example", "country": "DE", "x": NaN}',
        b'{"name": "Shop", "email": "ops@shop.example", "country": "DE", "x": -Infinity}',
    ],
    ids=["utf-16", "utf-32", "nan", "infinity"],
)
def test_a_body_pythons_json_takes_but_rfc_8259_does_not_is_400(client: TestClient, body: bytes) -> None:
    r = client.post("/v1/sellers", content=body, headers=PLATFORM | {"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed_json")


def test_a_route_without_a_body_refuses_one_it_cannot_parse_and_acts_not(
    client: TestClient, world: World
) -> None:
    case = make_case(client, world.order["id"])
    url = f"/v1/chargebacks/{case['id']}/accept"
    r = client.post(
        url, content=b'{"reason": ', headers=world.seller_headers | {"Content-Type": "application/json"}
    )
    assert_problem(r, 400, "malformed_json")
    after = client.get(f"/v1/chargebacks/{case['id']}", headers=world.seller_headers).json()
    assert (after["status"], after["version"]) == ("needs_response", case["version"])
    # Sent with no body, or with one that parses, it still acts.
    assert client.post(url, headers=world.seller_headers).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml; charset=utf-8"]
)
def test_a_json_body_sent_as_another_type_is_415(client: TestClient, content_type: str) -> None:
    body = b'{"name": "Shop", "email": "ops@shop.example", "country": "DE"}'
    r = client.post("/v1/sellers", content=body, headers=PLATFORM | {"Content-Type": content_type})
    assert_problem(r, 415, "unsupported_media_type", "Content-Type")
    for declared in ("application/json", "application/json; charset=utf-8", "application/merge-patch+json"):
        r = client.post("/v1/sellers", content=body, headers=PLATFORM | {"Content-Type": declared})
        assert r.status_code == 201, (declared, r.text)
        body = body.replace(b"ops@", b"ops1@", 1)


def test_an_ordinary_nested_body_is_judged_by_its_fields(client: TestClient) -> None:
    r = client.post("/v1/chargebacks/bulk", json={"notices": [{"order_id": [[["x"]]]}]}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == 422


# Unknown query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/v1/chargebacks?stauts=won", "/v1/chargebacks?limit=5&Status=won", "/v1/messages?unred=true"]
)
def test_an_unknown_query_parameter_is_refused_by_name(client: TestClient, world: World, url: str) -> None:
    r = client.get(url, headers=world.seller_headers)
    body = assert_problem(r, 422, "validation_error")
    named = url.split("?")[1].split("&")[-1].split("=")[0]
    assert named in [e["field"] for e in body["errors"]]
    assert named in body["detail"]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/v1/chargebacks?limit=1&limit=3", "limit"),
        ("/v1/chargebacks?status=needs_response&status=expired", "status"),
        ("/v1/orders?cursor=a&limit=2&cursor=b", "cursor"),
    ],
)
def test_a_query_parameter_given_twice_is_refused_by_name(
    client: TestClient, world: World, url: str, named: str
) -> None:
    r = client.get(url, headers=world.seller_headers)
    body = assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == [named]
    assert "more than once" in body["detail"]


def test_a_query_parameter_given_twice_without_a_credential_is_401(client: TestClient) -> None:
    assert_problem(client.get("/v1/chargebacks?limit=1&limit=3"), 401, "invalid_credential")


def test_known_query_parameters_still_work(client: TestClient, world: World) -> None:
    make_case(client, world.order["id"])
    r = client.get("/v1/chargebacks?status=needs_response&limit=5", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 1


# 405, Location, ETag, Cache-Control ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("DELETE", "/v1/chargebacks", "GET, POST"),
        ("PUT", "/v1/sellers/sel_00000000000000000000000000/api-keys", "GET, POST"),
        ("PATCH", "/v1/orders", "GET, POST"),
        # A concrete path is not also the templated one beside it (GET /v1/chargebacks/{chargeback_id}).
        ("OPTIONS", "/v1/chargebacks/bulk", "POST"),
    ],
)
def test_405_lists_every_method_of_the_path(client: TestClient, method: str, url: str, allowed: str) -> None:
    r = client.request(method, url, headers=PLATFORM)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == allowed


def test_201_carries_location_and_its_replay_location_and_etag(client: TestClient, world: World) -> None:
    headers = PLATFORM | {"Idempotency-Key": "loc-1"}
    first = client.post("/v1/chargebacks", json=notice(world.order["id"]), headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/v1/chargebacks/{first.json()['id']}"
    assert first.headers["ETag"] == '"1"'
    assert client.get(first.headers["Location"], headers=PLATFORM).json() == first.json()
    replay = client.post("/v1/chargebacks", json=json.loads(first.request.content), headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize("path", ["/v1/sellers", "/v1/orders"])
def test_creating_posts_say_where_the_new_resource_is(client: TestClient, world: World, path: str) -> None:
    body: dict[str, Any] = (
        {"name": "B", "email": "b@shop.example", "country": "FR"}
        if path == "/v1/sellers"
        else {"seller_id": world.seller["id"], "amount_minor": 100, "currency": "EUR"}
    )
    r = client.post(path, json=body, headers=PLATFORM)
    assert r.status_code == 201
    assert r.headers["Location"] == f"{path}/{r.json()['id']}"
    assert client.get(r.headers["Location"], headers=PLATFORM).status_code == 200


def test_the_response_that_shows_a_secret_is_not_to_be_stored(client: TestClient, world: World) -> None:
    url = f"/v1/sellers/{world.seller['id']}/api-keys"
    headers = PLATFORM | {"Idempotency-Key": "key-1"}
    for _ in range(2):  # the first answer and its replay
        r = client.post(url, json={"name": "erp"}, headers=headers)
        assert r.status_code == 201
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Location"] == f"{url}/{r.json()['id']}"
    assert "Cache-Control" not in client.get(url, headers=PLATFORM).headers


# The database out of reach ------------------------------------------------------------------------


class Cable:
    """A TCP forwarder on loopback in front of PostgreSQL that can be cut and mended."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                _hang_up(client)
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                _hang_up(s)

    def sever(self) -> None:
        self.cut.set()
        for s in self.sockets:
            _hang_up(s)
        self.sockets.clear()

    def mend(self) -> None:
        self.cut.clear()

    def close(self) -> None:
        self.sever()
        self.listener.close()


def _hang_up(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


@pytest.fixture
def cable(database_url: str) -> Iterator[Cable]:
    if not database_url.startswith("postgresql"):
        pytest.skip("an outage is cut between the service and a database server: PostgreSQL")
    url = make_url(database_url)
    c = Cable((url.host or "127.0.0.1", url.port or 5432))
    yield c
    c.close()


@pytest.fixture
def outage_app(settings: Settings, cable: Cable) -> Iterator[FastAPI]:
    url = make_url(settings.database_url).set(host="127.0.0.1", port=cable.port)
    app = create_app(settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)}))
    yield app
    app.state.db.close()


def _until_ok(send: Any, attempts: int = 3) -> Any:
    # The first request after the database returns may meet a pooled connection that died with it.
    for _ in range(attempts):
        r = send()
        if r.status_code < 500:
            return r
    return r


@pytest.mark.postgres_only
def test_a_lost_database_is_503_with_retry_after_and_the_service_recovers(
    outage_app: FastAPI, cable: Cable, world: World, client: TestClient
) -> None:
    outage = TestClient(outage_app, raise_server_exceptions=False)
    order_url = f"/v1/orders/{world.order['id']}"
    assert outage.get(order_url, headers=world.seller_headers).status_code == 200
    cable.sever()
    for r in (
        outage.get(order_url, headers=world.seller_headers),  # the caller's key is looked up first
        outage.get(order_url, headers=PLATFORM),  # the loop reader
        outage.post("/v1/chargebacks", json=notice(world.order["id"]), headers=PLATFORM),  # a session
        outage.post("/v1/chargebacks", json=notice(world.order["id"]), headers=PLATFORM),
    ):
        problem = assert_problem(r, 503, "service_unavailable")
        assert int(r.headers["Retry-After"]) > 0
        assert problem["request_id"] == r.headers["X-Request-ID"]
    cable.mend()
    assert _until_ok(lambda: outage.get(order_url, headers=world.seller_headers)).status_code == 200
    assert _until_ok(lambda: outage.get(order_url, headers=PLATFORM)).status_code == 200


@pytest.mark.postgres_only
def test_an_idempotency_key_used_during_an_outage_is_free_when_the_database_returns(
    outage_app: FastAPI, cable: Cable, world: World, app: FastAPI
) -> None:
    outage = TestClient(outage_app, raise_server_exceptions=False)
    body, headers = notice(world.order["id"]), PLATFORM | {"Idempotency-Key": "during-outage"}
    assert outage.get("/readyz").status_code == 200  # warm the pool: the cut then kills live connections
    cable.sever()
    assert_problem(outage.post("/v1/chargebacks", json=body, headers=headers), 503, "service_unavailable")
    cable.mend()
    r = _until_ok(lambda: outage.post("/v1/chargebacks", json=body, headers=headers))
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers
    with Session(app.state.engine) as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_the_unexpected_is_still_500_with_the_request_id(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    r = TestClient(app, raise_server_exceptions=False).get("/boom", headers={"X-Request-ID": "req-1"})
    assert_problem(r, 500, "internal_error")
    assert r.json()["request_id"] == "req-1"
    app.state.db.close()
