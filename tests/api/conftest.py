"""API fixtures: the app on a fresh database, a real SMTP server on loopback, small factories."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from app.core.config import Settings
from app.core.logging import _RequestIdFilter
from app.main import create_app
from app.worker import Dispatcher

PROBLEM_JSON = "application/problem+json"
PLATFORM_KEY = "pk_test_platform_key_0123456789abcdef"
PLATFORM = {"Authorization": f"Bearer {PLATFORM_KEY}"}


@contextmanager
def kept_logs(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records logged under ``name`` (with their request id), while the block runs.

    The app's "chargeback_desk" logger does not propagate, so caplog would see nothing.
    """
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    handler.addFilter(_RequestIdFilter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def assert_problem_body(problem: dict[str, Any], status: int, code: str, field: str | None = None) -> None:
    """A problem document (RFC 9457) with our stable ``code``; ``field`` among its ``errors``."""
    assert problem["code"] == code, problem
    assert problem["status"] == status
    assert problem["type"].endswith(code)
    assert problem["title"]
    assert problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem


def assert_problem(r: Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """An error response: the status, ``application/problem+json``, and the problem document."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_JSON, r.text
    body: dict[str, Any] = r.json()
    assert_problem_body(body, status, code, field)
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What a real SMTP server on loopback received."""

    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def settings(database_url: str, mailbox: Mailbox, tmp_path: Any) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        database_pool_size=5,
        platform_api_key=PLATFORM_KEY,
        secret_key="test-secret-key-0123456789",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        evidence_storage_url=f"file://{tmp_path}/evidence",
        password_hash_profile="test",
        dispatch_in_process=False,
        business_timezone="Asia/Shanghai",
        business_calendar="CN",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.db.close()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    # Not entered as a context manager: the lifespan (in-process dispatcher) stays off and tests
    # drive the dispatcher explicitly, so nothing depends on timing.
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def dispatcher(app: FastAPI, settings: Settings) -> Iterator[Dispatcher]:
    d = Dispatcher(app.state.engine, settings)
    yield d
    d.http.close()
    d.webhook_http.close()


@dataclass
class SmsGateway:
    """A real HTTP receiver on loopback that records what it was sent and answers ``status``."""

    url: str
    status: int = 200
    bodies: list[Any] = field(default_factory=list)
    idempotency_keys: list[str | None] = field(default_factory=list)


@contextmanager
def loopback_server(name: str) -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on a free loopback port, serving from a thread; set its
    ``RequestHandlerClass`` before the first request."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    # A short poll interval only makes shutdown() at teardown quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002 (keep test output quiet)
        return


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    with loopback_server("sms-gateway") as server:
        gateway = SmsGateway(url=f"http://127.0.0.1:{server.server_address[1]}/sms")

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                assert self.headers.get_content_type() == "application/json"
                gateway.bodies.append(json.loads(raw))
                gateway.idempotency_keys.append(self.headers.get("Idempotency-Key"))
                payload = b'{"ok": true}' if gateway.status < 400 else b'{"error": "nope"}'
                self.send_response(gateway.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        server.RequestHandlerClass = Handler
        yield gateway


# Factories -------------------------------------------------------------------


def make_seller(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Acme Shop", "email": "orders@acme-shop.example", "country": "DE"} | overrides
    r = client.post("/v1/sellers", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    return dict(r.json())


def make_key(client: TestClient, seller_id: str) -> dict[str, str]:
    r = client.post(f"/v1/sellers/{seller_id}/api-keys", json={"name": "erp"}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


def make_order(
    client: TestClient, seller_id: str, amount_minor: int = 10_000, **overrides: Any
) -> dict[str, Any]:
    body = {"seller_id": seller_id, "amount_minor": amount_minor, "currency": "EUR"} | overrides
    r = client.post("/v1/orders", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    return dict(r.json())


_bank_refs = iter(range(1, 10**9))


def notice(order_id: str, amount_minor: int = 5_000, **overrides: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "reason_code": "13.1",
        "amount_minor": amount_minor,
        "currency": "EUR",
        "bank_reference": f"ARN{next(_bank_refs):010d}",
    } | overrides


def make_case(
    client: TestClient, order_id: str, amount_minor: int = 5_000, **overrides: Any
) -> dict[str, Any]:
    r = client.post("/v1/chargebacks", json=notice(order_id, amount_minor, **overrides), headers=PLATFORM)
    assert r.status_code == 201, r.text
    return dict(r.json())


@dataclass
class World:
    seller: dict[str, Any]
    seller_headers: dict[str, str]
    order: dict[str, Any]


@pytest.fixture
def world(client: TestClient) -> World:
    seller = make_seller(client)
    return World(seller, make_key(client, seller["id"]), make_order(client, seller["id"]))
