"""``chargeback-desk serve``: the real uvicorn server the CLI starts, on a free loopback port."""

from __future__ import annotations

import os
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
