"""Rate limits on every request: the IETF headers, 429 with ``Retry-After``, per address and per key,
shared through Redis, and what happens when the counters cannot be reached.

Limits are set small through settings and time is frozen, so nothing here waits.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import PLATFORM, PLATFORM_KEY, assert_problem, kept_logs, make_key, make_seller

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_ENTRY = re.compile(r'"([a-z-]+)";r=(\d+);t=(\d+)')


def _limits(r: Any) -> dict[str, tuple[int, int]]:
    """``RateLimit`` as {policy: (remaining, reset seconds)}."""
    return {name: (int(rem), int(t)) for name, rem, t in _ENTRY.findall(r.headers["ratelimit"])}


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _app(tmp_path: Path, sqlite_template: Path, **overrides: Any) -> FastAPI:
    """An app on SQLite (the limits touch no table), with small limits."""
    db = tmp_path / f"limits-{len(list(tmp_path.iterdir()))}.db"
    shutil.copyfile(sqlite_template, db)
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{db}",
        "platform_api_key": PLATFORM_KEY,
        "secret_key": "test-secret-key-0123456789",
        "evidence_storage_url": f"file://{tmp_path}/evidence",
        "password_hash_profile": "test",
        "dispatch_in_process": False,
        "rate_limit_per_key": "3/minute",
        "rate_limit_per_address": "5/minute",
        "rate_limit_per_platform_key": "50/minute",
    } | overrides
    return create_app(Settings(_env_file=None, **values))


@pytest.fixture
def small(tmp_path: Path, sqlite_template: Path) -> Iterator[TestClient]:
    app = _app(tmp_path, sqlite_template)
    yield TestClient(app, raise_server_exceptions=False)
    app.state.db.close()


def test_every_answer_carries_the_policies_and_the_count_going_down(
    small: TestClient, clock: time_machine.Traveller
) -> None:
    seller_key = make_key(small, make_seller(small)["id"])
    seen = []
    for _ in range(3):
        r = small.get("/v1/chargebacks", headers=seller_key)
        assert r.status_code == 200, r.text
        assert r.headers["ratelimit-policy"] == '"per-address";q=5;w=60, "per-key";q=3;w=60'
        seen.append(_limits(r))
        clock.shift(1)
    assert [s["per-key"] for s in seen] == [(2, 60), (1, 60), (0, 59)]
    assert [s["per-address"][0] for s in seen] == [4, 3, 2]


def test_a_key_over_its_limit_is_429_rate_limited_with_retry_after(
    small: TestClient, clock: time_machine.Traveller
) -> None:
    seller_key = make_key(small, make_seller(small)["id"])
    for _ in range(3):
        assert small.get("/v1/chargebacks", headers=seller_key).status_code == 200
        clock.shift(10)
    r = small.get("/v1/chargebacks", headers=seller_key)
    body = assert_problem(r, 429, "rate_limited")
    assert "per-key" in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    # The oldest of the three leaves the window 60 s after it came: just past 30 s from now.
    assert r.headers["retry-after"] == "31"
    assert _limits(r)["per-key"] == (0, 31)
    clock.shift(29)
    assert small.get("/v1/chargebacks", headers=seller_key).status_code == 429
    clock.shift(2)
    assert small.get("/v1/chargebacks", headers=seller_key).status_code == 200


def test_two_keys_count_apart(small: TestClient, clock: time_machine.Traveller) -> None:
    seller = make_seller(small)["id"]
    first, second = make_key(small, seller), make_key(small, seller)
    for _ in range(3):
        small.get("/v1/chargebacks", headers=first)
    assert small.get("/v1/chargebacks", headers=first).status_code == 429
    r = small.get("/v1/chargebacks", headers=second)
    assert r.status_code == 200
    assert _limits(r)["per-key"] == (2, 60)


def test_one_address_is_limited_before_any_credential_is_checked(
    small: TestClient,
    clock: time_machine.Traveller,
) -> None:
    # Guessing keys from one address: each guess is a new key, but the address runs out.
    for n in range(5):
        r = small.get("/v1/chargebacks", headers={"Authorization": f"Bearer sk_guess_{n}"})
        assert_problem(r, 401, "invalid_credential")
        assert _limits(r)["per-address"][0] == 4 - n
    r = small.get("/v1/chargebacks", headers={"Authorization": "Bearer sk_guess_6"})
    assert_problem(r, 429, "rate_limited")
    assert "per-address" in r.json()["detail"]
    assert "per-key" not in r.headers["ratelimit"]  # refused before the key was counted
    assert_problem(small.get("/v1/chargebacks"), 429, "rate_limited")  # no credential at all: the same
    other = TestClient(small.app, raise_server_exceptions=False, client=("203.0.113.9", 4000))
    assert_problem(other.get("/v1/chargebacks"), 401, "invalid_credential")


def test_the_platform_key_counts_on_its_own_quota_and_probes_not_at_all(small: TestClient) -> None:
    for _ in range(6):  # more than the address allows
        r = small.get("/v1/chargebacks", headers=PLATFORM)
        assert r.status_code == 200
    assert r.headers["ratelimit-policy"] == '"platform";q=50;w=60'
    assert _limits(r)["platform"][0] == 44
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        r = small.get(path)
        assert r.status_code == 200
        assert "ratelimit" not in r.headers


def test_two_app_instances_share_one_redis_counter(
    tmp_path: Path, sqlite_template: Path, redis_url: str, redis_prefix: str
) -> None:
    shared = {"rate_limit_storage_url": redis_url, "rate_limit_key_prefix": redis_prefix}
    apps = [_app(tmp_path, sqlite_template, **shared) for _ in range(2)]
    one, two = (TestClient(a, raise_server_exceptions=False) for a in apps)
    try:
        for _ in range(2):
            assert one.get("/v1/chargebacks").status_code == 401
        r = two.get("/v1/chargebacks")
        assert _limits(r)["per-address"][0] == 2
        for _ in range(2):
            one.get("/v1/chargebacks")
        assert_problem(two.get("/v1/chargebacks"), 429, "rate_limited")
        assert int(two.get("/v1/chargebacks").headers["retry-after"]) >= 1
    finally:
        for a in apps:
            a.state.db.close()


def test_unreachable_counters_let_requests_through_with_a_warning(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    app = _app(tmp_path, sqlite_template, rate_limit_storage_url="redis://127.0.0.1:1/0")
    client = TestClient(app, raise_server_exceptions=False)
    try:
        with kept_logs("chargeback_desk.rate_limits") as logs:
            for _ in range(7):  # over every limit, were it counted
                r = client.get("/v1/chargebacks", headers=PLATFORM)
                assert r.status_code == 200
                assert "ratelimit" not in r.headers
        assert len(logs) == 1  # once, not once a request
        assert "unreachable" in logs[0].getMessage()
    finally:
        app.state.db.close()


def test_counters_that_stop_answering_fail_open_after_a_short_timeout(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # A listening socket nobody reads: the connection is made, the answer never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        app = _app(tmp_path, sqlite_template, rate_limit_storage_url=f"redis://127.0.0.1:{port}/0")
        try:
            r = TestClient(app, raise_server_exceptions=False).get("/v1/chargebacks", headers=PLATFORM)
            assert r.status_code == 200
            assert "ratelimit" not in r.headers
        finally:
            app.state.db.close()


def test_rate_settings_must_name_one_rate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate_limit_per_key"):
        Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/x.db", rate_limit_per_key="lots")
