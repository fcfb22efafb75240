"""The served app on loopback (real uvicorn, migrated database) with a platform key and a seller key."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, PG_URL, _fresh_pg_database, _worker, drop_pg_database, migrate
from tests.serving import serving

PLATFORM_KEY = "pk_test_contract_0123456789abcdef"
OWNER_PASSWORD = "contract owner passphrase 2026"


@dataclass(frozen=True)
class Live:
    url: str
    platform_key: str
    seller_key: str
    account_token: str  # the seller's owner account, logged in: buyer endpoints and seller ones


def _database(backend: str, tmp: Path, sqlite_template: Path, pg_admin_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        shutil.copyfile(sqlite_template, tmp / "contract.db")
        yield f"sqlite:///{tmp}/contract.db"
        return
    if pg_admin_url is None:
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}; set CBD_REQUIRE_POSTGRES=1 to make this a failure")
    # A database of its own: the server process writes to it while this process runs other tests.
    name = f"cbd_contract_{_worker()}_{os.getpid()}"
    url = _fresh_pg_database(pg_admin_url, name)
    migrate(url)
    yield url
    drop_pg_database(pg_admin_url, name)


def _live(database_url: str, tmp: Path) -> Iterator[Live]:
    env = {
        "PATH": os.environ.get("PATH", ""),  # settings come from here alone
        "DATABASE_URL": database_url,
        "DATABASE_POOL_SIZE": "5",
        "DISPATCH_IN_PROCESS": "false",
        "PLATFORM_API_KEY": PLATFORM_KEY,
        "SECRET_KEY": "test-secret-key-0123456789",
        "PASSWORD_HASH_PROFILE": "test",
        "EVIDENCE_STORAGE_URL": f"file://{tmp}/evidence",
        "LOG_LEVEL": "WARNING",
        # A fuzzer from one address sends thousands of requests a minute: quotas it never reaches
        # (tests/api cover the limits), so a 429 never stands in for the answer being checked.
        "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "RATE_LIMIT_PER_KEY": "1000000/minute",
        "RATE_LIMIT_PER_PLATFORM_KEY": "1000000/minute",
    }
    with serving(env, tmp) as url:
        platform = {"Authorization": f"Bearer {PLATFORM_KEY}"}
        seller = httpx.post(
            f"{url}/v1/sellers",
            json={
                "name": "Contract Shop",
                "email": "contract@shop.example",
                "country": "DE",
                "owner_password": OWNER_PASSWORD,
            },
            headers=platform,
        )
        assert seller.status_code == 201, seller.text
        key = httpx.post(
            f"{url}/v1/sellers/{seller.json()['id']}/api-keys", json={"name": "contract"}, headers=platform
        )
        assert key.status_code == 201, key.text
        login = httpx.post(
            f"{url}/v1/auth/login",
            json={"identifier": "contract@shop.example", "password": OWNER_PASSWORD},
        )
        assert login.status_code == 200, login.text
        yield Live(url, PLATFORM_KEY, key.json()["key"], login.json()["access_token"])


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_admin_url: str | None,
) -> Iterator[Live]:
    """The API served on each database, with a seller and its key."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    for database_url in _database(request.param, tmp, sqlite_template, pg_admin_url):
        yield from _live(database_url, tmp)


@pytest.fixture(scope="module")
def live_sqlite(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    """The API served on SQLite: enough for the docs and the generated client."""
    tmp = tmp_path_factory.mktemp("live")
    for database_url in _database("sqlite", tmp, sqlite_template, None):
        yield from _live(database_url, tmp)
