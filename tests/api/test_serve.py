"""``chargeback-desk serve``: the real uvicorn server the CLI starts, on a free loopback port."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import serving


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The base URL of ``chargeback-desk serve --port 0``, once uvicorn says it is listening."""
    env = {
        "PATH": os.environ.get("PATH", ""),  # nothing else from ours: settings come from here alone
        "DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "DISPATCH_IN_PROCESS": "false",
        "PLATFORM_API_KEY": "pk_test_serve",
        "SECRET_KEY": "test-secret-key-0123456789",
    }
    with serving(env, tmp_path) as url:
        yield url


def test_served_response_has_no_server_header(served: str) -> None:
    r = httpx.get(f"{served}/healthz")
    assert r.status_code == 200
    assert "server" not in r.headers, r.headers
    assert r.headers["x-request-id"]


def test_demo_links_point_at_the_port_it_serves_on(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port: the demo prints its links with the port it is given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "DISPATCH_IN_PROCESS": "false",
        "EVIDENCE_STORAGE_URL": f"file://{tmp_path}/evidence",
    }
    with serving(env, tmp_path, ("demo", "--port", str(port))) as url:
        demo = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (tmp_path / "var" / "demo.env").read_text().splitlines()
        )
        assert demo["BASE"] == url == f"http://127.0.0.1:{port}"
        platform = {"Authorization": f"Bearer {demo['PLATFORM_KEY']}"}
        seller = {"Authorization": f"Bearer {demo['SELLER_KEY']}"}
        order = httpx.post(
            f"{url}/v1/orders",
            json={"seller_id": demo["SELLER_ID"], "amount_minor": 1000, "currency": "EUR"},
            headers=platform,
        ).json()
        case = httpx.post(
            f"{url}/v1/chargebacks",
            json={
                "order_id": order["id"],
                "reason_code": "13.1",
                "amount_minor": 500,
                "currency": "EUR",
                "bank_reference": "ARN-demo-1",
            },
            headers=platform,
        ).json()
        pdf = Path(demo["SAMPLE_POD"])
        pdf = pdf if pdf.is_absolute() else tmp_path / pdf
        r = httpx.post(
            f"{url}/v1/chargebacks/{case['id']}/evidence",
            data={"evidence_type": "delivery_proof"},
            files={"file": ("pod.pdf", pdf.read_bytes(), "application/pdf")},
            headers=seller,
        )
        assert r.status_code == 201, r.text
        assert r.json()["content_url"].startswith(f"{url}/v1/chargebacks/{case['id']}/evidence/")
