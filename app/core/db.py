"""Engine and sessions. SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL via psycopg 3."""

from __future__ import annotations

import threading
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


class _SqliteWriters:
    """Serialise one process's SQLite writers.

    A writing use case takes the database's write lock at BEGIN (``BEGIN IMMEDIATE``), so it never
    fails with "database is locked" when a read transaction tries to upgrade; reads stay deferred
    and never block in WAL mode. Writers of this process first queue on a lock here: SQLite's own
    busy handler sleeps and polls, which gives concurrent writers long tails. The lock is only a
    queue: after ``LOCK_WAIT`` seconds a writer goes ahead and lets SQLite's busy timeout
    arbitrate, so a mistake can never deadlock.
    """

    LOCK_WAIT = 10.0

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def begin(self, conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # a reader: every statement is its own transaction
        immediate = options.get(WRITE_OPTION, False)
        if immediate and self.lock.acquire(timeout=self.LOCK_WAIT):
            conn.info[_HOLDS_LOCK] = True
        try:
            # Straight to the driver: this runs for every transaction; no need for the execute path.
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except BaseException:
            self.end(conn)
            raise

    def end(self, conn: Any) -> None:
        if conn.info.pop(_HOLDS_LOCK, False):
            self.lock.release()


_HOLDS_LOCK = "cbd_holds_write_lock"


def make_engine(settings: Settings) -> Engine:
    """Build the engine; the pool is sized to the number of concurrent request handlers."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=settings.pool_size,
            max_overflow=10,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        writers = _SqliteWriters()
        event.listen(engine, "begin", writers.begin)
        event.listen(engine, "commit", writers.end)
        event.listen(engine, "rollback", writers.end)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=10,
        pool_pre_ping=False,
        pool_recycle=1800,
    )


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writing one (BEGIN IMMEDIATE on SQLite; plain on PostgreSQL).

    Call first thing in a service that writes. A read transaction already open on the session (the
    request's credential lookup) is ended first: a writer must start its own, and a read-only
    request should not pay for ending one it does not need to.
    """
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_OPTION):
            return  # already writing: the idempotency key was taken in this transaction
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})
