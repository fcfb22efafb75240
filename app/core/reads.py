"""Hop-free reads: one prepared statement awaited on the event loop, with no worker-thread hop.

The hottest read paths (GET a chargeback by id) are ``async def`` handlers that run one statement
through a ``LoopReader``: on PostgreSQL a small pool of psycopg ``AsyncConnection``s in autocommit
with server-side prepared statements; on SQLite one read-only connection used inline on the event
loop (a point lookup takes microseconds, and a WAL reader never waits for a writer). Measured in
bench/: the hop to a worker thread and the ORM session cost more than the lookup itself.

Statements are SQLAlchemy Core, compiled once for the engine's dialect, and their rows pass through
the same result processors SQLAlchemy would apply (UTC timestamps included), so a row read here
equals the row the ORM reads. Everything that writes, or reads more than one statement, stays on
the ``Session`` path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, Select
from sqlalchemy.engine import Dialect, make_url


class Statement:
    """A Core ``SELECT`` compiled for one dialect, with its column names and result processors."""

    def __init__(self, select: Select[Any], dialect: Dialect) -> None:
        compiled = select.compile(dialect=dialect)
        self.sql = str(compiled)
        # Parameters are plain values the driver takes as they are (ids, digests): no bind processing.
        self._positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        columns = list(select.selected_columns)
        self._row: Any = namedtuple("Record", [c.key for c in columns])  # type: ignore[misc]
        processors: list[Callable[[Any], Any] | None] = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]
        self._processed = [(i, p) for i, p in enumerate(processors) if p is not None]

    def parameters(self, params: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        if self._positions is None:
            return params
        return tuple(params[name] for name in self._positions)

    def record(self, values: Sequence[Any]) -> Any:
        """The row as a named tuple of the statement's columns, converted as SQLAlchemy would."""
        if self._processed:
            values = list(values)
            for i, process in self._processed:
                values[i] = process(values[i])
        return self._row._make(values)


class LoopReader(Protocol):
    async def one(self, select: Select[Any], params: dict[str, Any]) -> Any | None:
        """The first row of ``select`` as a record (a named tuple of its columns), or None."""
        ...

    def close(self) -> None:
        """Close the idle connections (at shutdown; nothing to await)."""
        ...


class _Statements:
    """Each Core statement compiled once per reader (statements are module-level constants)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled: dict[int, tuple[Select[Any], Statement]] = {}

    def get(self, select: Select[Any]) -> Statement:
        found = self._compiled.get(id(select))
        if found is None or found[0] is not select:
            found = (select, Statement(select, self.dialect))
            self._compiled[id(select)] = found
        return found[1]


SQLITE_CACHE_KIB = 64 * 1024


class SqliteLoopReader:
    """One autocommit connection, used only from the event loop: each statement sees the latest commit.

    ``query_only`` makes a write through it fail rather than take the write lock on the loop.
    """

    def __init__(self, engine: Engine) -> None:
        self._statements = _Statements(engine.dialect)
        self._database = make_url(engine.url).database or ""
        self._conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _connection(self) -> sqlite3.Connection:
        loop = asyncio.get_running_loop()
        if self._conn is None or self._loop is not loop:
            # A new event loop (a test client without its lifespan) gets its own connection.
            if self._conn is not None:
                self._conn.close()
            conn = sqlite3.connect(self._database, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            # Only WAL recovery or a schema change can make a reader wait; never for long.
            conn.execute("PRAGMA busy_timeout=1000")
            # Lookups land on random pages: a larger page cache than the default 2 MiB keeps the
            # hot part of the case table in memory instead of a read() per page (bench/).
            conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            self._conn, self._loop = conn, loop
        return self._conn

    async def one(self, select: Select[Any], params: dict[str, Any]) -> Any | None:
        statement = self._statements.get(select)
        row = self._connection().execute(statement.sql, statement.parameters(params)).fetchone()
        return None if row is None else statement.record(row)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


APPLICATION_NAME = "chargeback-desk loop reader"  # how its connections show in pg_stat_activity


class PostgresLoopReader:
    """Up to ``size`` psycopg async connections, opened on demand, in autocommit.

    A few are enough: they serve one event loop, which is one core. Measured in bench/ with 32
    clients: 4 connections gave more requests/s than 16 and a quarter of the p99 (more backends
    only compete with the API process for the CPU). A plain queue of idle connections rather than
    psycopg_pool, whose bookkeeping cost a third of each lookup. A connection that fails is closed,
    not returned; a stale one (the server restarted) is retried once on a fresh connection. A new
    event loop (a test client without its lifespan) starts afresh, since async connections belong
    to the loop that opened them.
    """

    def __init__(self, engine: Engine, size: int = 4) -> None:
        self._statements = _Statements(engine.dialect)
        url = make_url(engine.url)
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._idle: asyncio.LifoQueue[Any] | None = None
        self._opened = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def _queue(self) -> asyncio.LifoQueue[Any]:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            if self._idle is not None:
                _abandon(self._idle)
            self._idle, self._opened, self._loop = asyncio.LifoQueue(), 0, loop
        return self._idle

    async def _acquire(self, idle: asyncio.LifoQueue[Any]) -> tuple[Any, bool]:
        """An idle connection, or a new one while fewer than ``size`` are open; and whether it is new."""
        if idle.empty() and self._opened < self._size:
            self._opened += 1
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, prepare_threshold=0, application_name=APPLICATION_NAME
                )
            except BaseException:
                self._opened -= 1
                raise
            return conn, True
        return await idle.get(), False

    async def one(self, select: Select[Any], params: dict[str, Any]) -> Any | None:
        statement = self._statements.get(select)
        args = statement.parameters(params)
        idle = self._queue()
        while True:
            conn, new = await self._acquire(idle)
            try:
                cursor = await conn.execute(statement.sql, args, prepare=True)
                row = await cursor.fetchone()
            except BaseException as exc:
                self._opened -= 1
                await conn.close()
                if new or not isinstance(exc, psycopg.OperationalError) or not conn.broken:
                    raise
                continue  # it went stale while idle (a server restart): try the next one
            idle.put_nowait(conn)
            return None if row is None else statement.record(row)

    def close(self) -> None:
        if self._idle is not None:
            _abandon(self._idle)
            self._idle, self._opened = None, 0


def _abandon(idle: asyncio.LifoQueue[Any]) -> None:
    # ``AsyncConnection.close()`` only finishes the libpq connection; doing that directly needs no
    # event loop, so it also works for connections whose loop is gone.
    while not idle.empty():
        conn = idle.get_nowait()  # held while closing: its ``__del__`` checks that it was closed
        conn.pgconn.finish()


def make_loop_reader(engine: Engine) -> LoopReader:
    if engine.dialect.name == "sqlite":
        return SqliteLoopReader(engine)
    return PostgresLoopReader(engine)
