"""Engine and sessions. SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL via psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.core.config import Settings

WRITE_OPTION = "cbd_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # Let SQLAlchemy's "begin" hook below emit BEGIN itself (pysqlite's own handling is off).
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    # A writing use case takes the write lock at BEGIN, so concurrent writers queue on busy_timeout
    # instead of failing with "database is locked" when a read transaction tries to upgrade.
    # Reads stay deferred and never block in WAL mode.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(settings: Settings) -> Engine:
    """Build the engine; the pool is sized to the number of concurrent request handlers."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=settings.database_pool_size,
            max_overflow=10,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=10,
        pool_pre_ping=False,
        pool_recycle=1800,
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that is always closed; committing is the caller's (the service's) job."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writing one (BEGIN IMMEDIATE on SQLite; plain on PostgreSQL).

    Call first thing in a service that writes, before any query.
    """
    session.connection(execution_options={WRITE_OPTION: True})
