"""Alembic migrations on an empty database: upgrade, no drift from the models, downgrade, round trip.

Each test gets its own empty database (a fresh SQLite file, or a uniquely named PostgreSQL database
that is dropped afterwards), never the shared migrated templates of ``tests/conftest.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from alembic import command
from app.cli import alembic_config
from app.models import metadata

MODEL_TABLES = {table.name for table in metadata.sorted_tables}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path, pg_admin_url: str | None
) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path}/migrations.db")
        yield engine
        engine.dispose()
        return
    if pg_admin_url is None:
        pytest.skip("PostgreSQL unreachable; set CBD_REQUIRE_POSTGRES=1 to make this a failure")
    name = f"cbd_migrations_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(pg_admin_url).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _config() -> Config:
    cfg = alembic_config()
    cfg.attributes["configure_logger"] = False
    return cfg


def _run(engine: Engine, action: str, revision: str) -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def _current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _heads() -> set[str]:
    return set(ScriptDirectory.from_config(_config()).get_heads())


def test_migrations_have_a_single_head() -> None:
    assert len(_heads()) == 1


def test_upgrade_head_on_empty_database_creates_every_model_table(empty_engine: Engine) -> None:
    assert _tables(empty_engine) == set()
    _run(empty_engine, "upgrade", "head")
    assert _tables(empty_engine) == MODEL_TABLES | {"alembic_version"}
    assert _current(empty_engine) == _heads()


def test_upgraded_schema_has_no_drift_from_the_models(empty_engine: Engine) -> None:
    _run(empty_engine, "upgrade", "head")
    assert _drift(empty_engine) == []


def test_downgrade_base_leaves_only_alembic_version(empty_engine: Engine) -> None:
    _run(empty_engine, "upgrade", "head")
    _run(empty_engine, "downgrade", "base")
    assert _tables(empty_engine) == {"alembic_version"}
    assert _current(empty_engine) == set()


def test_upgrade_downgrade_upgrade_round_trips(empty_engine: Engine) -> None:
    _run(empty_engine, "upgrade", "head")
    _run(empty_engine, "downgrade", "base")
    _run(empty_engine, "upgrade", "head")
    assert _tables(empty_engine) == MODEL_TABLES | {"alembic_version"}
    assert _drift(empty_engine) == []


def test_every_revision_steps_down_and_up_one_at_a_time(empty_engine: Engine) -> None:
    """The stairway: each revision's downgrade undoes exactly its upgrade."""
    revisions = list(ScriptDirectory.from_config(_config()).walk_revisions("base", "heads"))
    revisions.reverse()  # oldest first
    for revision in revisions:
        _run(empty_engine, "upgrade", revision.revision)
        _run(empty_engine, "downgrade", "-1")
        _run(empty_engine, "upgrade", revision.revision)
        assert _current(empty_engine) == {revision.revision}
    assert _drift(empty_engine) == []
