"""Shared fixtures: a fresh, migrated database per test on SQLite and (when reachable) PostgreSQL.

PostgreSQL tests run against ``TEST_POSTGRES_URL`` (default: the local ``test`` database). When it
is unreachable they are skipped with a message, unless ``CBD_REQUIRE_POSTGRES=1`` (set by CI), which
turns the skip into a failure. Redis (``TEST_REDIS_URL``, default database 15 of the local server)
follows the same rule with ``CBD_REQUIRE_REDIS=1``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import redis
from moto.server import ThreadedMotoServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from alembic import command
from app.cli import alembic_config
from app.models import metadata

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CBD_REQUIRE_POSTGRES", "") in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def migrate(url: str) -> None:
    cfg = alembic_config()
    cfg.attributes["configure_logger"] = False
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()


@pytest.fixture(scope="session")
def pg_admin_url() -> str | None:
    """The server's maintenance URL, or None (skip) when PostgreSQL is unreachable."""
    try:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (CBD_REQUIRE_POSTGRES=1) but unreachable at {PG_URL}: {exc}")
        return None
    return PG_URL


def _fresh_pg_database(admin_url: str, name: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str | None) -> Iterator[str | None]:
    """A migrated PostgreSQL database for this test process; tests truncate it between uses."""
    if pg_admin_url is None:
        yield None
        return
    # Named per process, so parallel runs against one server never drop each other's database.
    name = f"cbd_test_{_worker()}_{os.getpid()}"
    url = _fresh_pg_database(pg_admin_url, name)
    migrate(url)
    yield url
    drop_pg_database(pg_admin_url, name)


def drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


# Children first, in one round trip: on tables this small a DELETE takes about a millisecond where
# TRUNCATE (new files for every table and index) takes about 70, for each PostgreSQL test.
_EMPTY_TABLES = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables))


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if pg_template is None:
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}; set CBD_REQUIRE_POSTGRES=1 to make this a failure")
    engine = create_engine(pg_template)
    with engine.begin() as conn:
        conn.exec_driver_sql(_EMPTY_TABLES)
    engine.dispose()
    yield pg_template


# S3-compatible storage: moto's server on loopback (the storage tests and the API over S3) ---------

BUCKET = "evidence-test"
_DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Nothing from the developer's own AWS setup, and no instance-metadata lookups: offline.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the test bucket created."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _DUMMY_AWS.items():
            mp.setenv(name, value)
        boto3.session.Session().client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _DUMMY_AWS.items():
        monkeypatch.setenv(name, value)


# Redis (rate limits shared by workers): the local server's database 15 ----------------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_REDIS = os.environ.get("CBD_REQUIRE_REDIS", "") in ("1", "true", "yes")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """``TEST_REDIS_URL`` when Redis answers; else a skip, or a failure with ``CBD_REQUIRE_REDIS=1``."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if REQUIRE_REDIS:
            pytest.fail(f"Redis is required (CBD_REQUIRE_REDIS=1) but unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}; set CBD_REQUIRE_REDIS=1 to make this a failure")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys, and only they, are deleted afterwards."""
    prefix = f"cbd-test-{_worker()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
