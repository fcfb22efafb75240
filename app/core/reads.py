"""The loop reader: prebuilt statements awaited on the event loop, with no worker-thread hop.

Every GET runs its statements through a ``LoopReader`` (``one`` row or ``all`` rows): on
PostgreSQL a small pool of asyncpg connections (the cheapest client per statement) with server-side
prepared statements; on SQLite one read-only connection used inline on the event loop, since a WAL
reader never waits for a writer. It is an adapter, not an ORM: statements are SQLAlchemy Core,
compiled once for the reader's dialect, and parameters and rows pass through the same processors
SQLAlchemy would apply (UTC timestamps included), so a row read here equals the row the ORM reads.
Writes stay on the ``Session`` path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from sqlalchemy import Engine, Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect, make_url

AnySelect = Select[*tuple[Any, ...]]


class Statement:
    """A Core ``SELECT`` compiled for one dialect, with its column names and result processors."""

    def __init__(self, select: AnySelect, dialect: Dialect) -> None:
        compiled = select.compile(dialect=dialect)
        self.sql = str(compiled)
        self._positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        # Only typed parameters (timestamps) need converting; ids and digests go to the driver as they are.
        # Parameters the compiler added with fixed values (SQLite's ``OFFSET`` after a bound ``LIMIT``).
        binds = compiled.binds.items()
        self._fixed = {n: b.value for n, b in binds if b.value is not None and not b.required}
        self._binds: list[tuple[str, Callable[[Any], Any]]] = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binds.append((name, process))
        columns = list(select.selected_columns)
        self._row: Any = namedtuple("Record", [c.key for c in columns])  # type: ignore[misc]
        processors: list[Callable[[Any], Any] | None] = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]
        self._processed = [(i, p) for i, p in enumerate(processors) if p is not None]

    def parameters(self, params: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        if self._binds or self._fixed:
            params = self._fixed | params
            for name, process in self._binds:
                if name in params:
                    params[name] = process(params[name])
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
    async def one(self, select: AnySelect, params: dict[str, Any]) -> Any | None:
        """The first row of ``select`` as a record (a named tuple of its columns), or None."""
        ...

    async def all(self, select: AnySelect, params: dict[str, Any]) -> list[Any]:
        """Every row of ``select`` as records."""
        ...

    def close(self) -> None:
        """Close the idle connections (at shutdown; nothing to await)."""
        ...


class _Statements:
    """Each Core statement compiled once per reader (statements are module-level constants)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled: dict[int, tuple[AnySelect, Statement]] = {}

    def get(self, select: AnySelect) -> Statement:
        found = self._compiled.get(id(select))
        if found is None or found[0] is not select:
            found = (select, Statement(select, self.dialect))
            self._compiled[id(select)] = found
        return found[1]


T = TypeVar("T")


class _PerLoop(Generic[T]):
    """State that belongs to one event loop: connections cannot move between loops.

    A server process runs one loop; tests, and anything embedding the app, may run several at once,
    each in its own thread. State is never touched from another loop while that loop runs. A loop's
    state is disposed of while that loop shuts down (``asyncio.run`` and uvicorn cancel the tasks
    left, a keeper task among them), since asyncio connections can only close on a live loop; at
    ``close()`` for the current loop; and, for a loop that ended without cancelling its tasks, when a
    new loop arrives or at ``close()``.
    """

    def __init__(self, make: Callable[[], T], dispose: Callable[[T], None]) -> None:
        self._make, self._dispose = make, dispose
        self._states: dict[asyncio.AbstractEventLoop, tuple[T, asyncio.Task[None]]] = {}
        self._lock = threading.Lock()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._states.get(loop)
        if found is None:
            with self._lock:
                self._dispose_idle_loops(current=None)
                state = self._make()
                found = self._states[loop] = (state, loop.create_task(self._keep(loop, state)))
        return found[0]

    async def _keep(self, loop: asyncio.AbstractEventLoop, state: T) -> None:
        try:
            await asyncio.Event().wait()  # until the loop shuts down and cancels its tasks
        finally:
            with self._lock:
                if loop in self._states and self._states[loop][0] is state:
                    del self._states[loop]
                    self._dispose(state)

    def close(self) -> None:
        """Dispose of the state of every loop that is not running, and of the current loop's."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        with self._lock:
            self._dispose_idle_loops(current)

    def _dispose_idle_loops(self, current: asyncio.AbstractEventLoop | None) -> None:
        for loop in [lp for lp in self._states if lp is current or lp.is_closed() or not lp.is_running()]:
            state, keeper = self._states.pop(loop)
            if loop is current:
                keeper.cancel()  # its work is done here
            self._dispose(state)


SQLITE_CACHE_KIB = 64 * 1024


class SqliteLoopReader:
    """One autocommit connection per event loop, used inline: each statement sees the latest commit.

    ``query_only`` makes a write through it fail rather than take the write lock on the loop. A WAL
    reader never waits for a writer; only WAL recovery or a schema change can make it wait, and
    ``busy_timeout`` bounds that to a second.
    """

    def __init__(self, engine: Engine) -> None:
        self._statements = _Statements(engine.dialect)
        self._database = make_url(engine.url).database or ""
        self._connections = _PerLoop(self._connect, sqlite3.Connection.close)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._database, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=1000")
        # Lookups land on random pages: keep the hot part of the tables in memory, not a read() each.
        conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        return conn

    async def one(self, select: AnySelect, params: dict[str, Any]) -> Any | None:
        statement = self._statements.get(select)
        conn = self._connections.get()
        row = conn.execute(statement.sql, statement.parameters(params)).fetchone()
        return None if row is None else statement.record(row)

    async def all(self, select: AnySelect, params: dict[str, Any]) -> list[Any]:
        statement = self._statements.get(select)
        conn = self._connections.get()
        return [statement.record(r) for r in conn.execute(statement.sql, statement.parameters(params))]

    def close(self) -> None:
        self._connections.close()


APPLICATION_NAME = "chargeback-desk loop reader"  # how its connections show in pg_stat_activity
ACQUIRE_TIMEOUT = 30.0  # seconds a request waits for a connection, as SQLAlchemy's pool_timeout
CONNECT_TIMEOUT = 5.0  # seconds to open a connection
# A statement that runs longer is cancelled: no read of ours takes seconds, a vanished server does.
COMMAND_TIMEOUT = 30.0
# UTC sessions: timestamps arrive already in UTC, with nothing left to convert per value.
SERVER_SETTINGS = {"application_name": APPLICATION_NAME, "TimeZone": "UTC"}


class ReadUnavailable(Exception):
    """The loop reader could not reach PostgreSQL (refused, lost, shut down, timed out)."""


# What a lost or unreachable server raises through asyncpg, as opposed to an error in a statement.
_CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now, cancelled
    asyncpg.exceptions.TooManyConnectionsError,
)


class _Pool:
    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)  # one per connection in use or idle
        self.idle: list[Any] = []


def _dispose_pool(pool: _Pool) -> None:
    # ``terminate()`` closes the socket without a round trip. A loop that ended without cancelling
    # its tasks cannot close them any more: the garbage collector will.
    while pool.idle:
        with contextlib.suppress(RuntimeError):  # its loop is closed
            pool.idle.pop().terminate()


class PostgresLoopReader:
    """Up to ``size`` asyncpg connections per event loop, opened on demand.

    A few are enough: they serve one event loop, which is one core, and more backends only compete
    with the API process for the CPU. A semaphore and a list of idle connections, as cheap as a
    lookup; a slot is freed on every exit path, cancellation included, so a failure never strands a
    waiting request; a wait longer than ``ACQUIRE_TIMEOUT`` fails like SQLAlchemy's pool does. A
    connection that fails is closed, not returned; one found stale (the server restarted) is
    retried on the next. Failing to reach the server raises ``ReadUnavailable`` (a 503).
    """

    def __init__(self, engine: Engine, size: int = 4) -> None:
        self._statements = _Statements(asyncpg_dialect())  # type: ignore[no-untyped-call]
        url = make_url(engine.url)
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pools = _PerLoop(lambda: _Pool(size), _dispose_pool)

    async def one(self, select: AnySelect, params: dict[str, Any]) -> Any | None:
        rows = await self._run(select, params, many=False)
        return rows[0] if rows else None

    async def all(self, select: AnySelect, params: dict[str, Any]) -> list[Any]:
        return await self._run(select, params, many=True)

    async def _run(self, select: AnySelect, params: dict[str, Any], many: bool) -> list[Any]:
        statement = self._statements.get(select)
        args = statement.parameters(params)
        pool = self._pools.get()
        if pool.slots.locked():  # a timer only when there is a wait: a free slot is taken at once
            async with asyncio.timeout(ACQUIRE_TIMEOUT):
                await pool.slots.acquire()
        else:
            await pool.slots.acquire()
        try:
            while True:
                reused = bool(pool.idle)
                conn: Any = pool.idle.pop() if reused else None
                try:
                    if conn is None:
                        conn = await self._connect()
                    if many:
                        rows = await conn.fetch(statement.sql, *args, timeout=COMMAND_TIMEOUT)
                    else:
                        first = await conn.fetchrow(statement.sql, *args, timeout=COMMAND_TIMEOUT)
                        rows = [] if first is None else [first]
                except BaseException as exc:
                    if conn is not None:
                        conn.terminate()
                    if not isinstance(exc, _CONNECTION_FAILURES):
                        raise
                    if reused:
                        continue  # it went stale while idle (a server restart): try the next one
                    raise ReadUnavailable(str(exc) or type(exc).__name__) from exc
                pool.idle.append(conn)
                return [statement.record(r) for r in rows]
        finally:
            pool.slots.release()

    async def _connect(self) -> Any:
        conn = await asyncpg.connect(self._conninfo, timeout=CONNECT_TIMEOUT, server_settings=SERVER_SETTINGS)
        try:
            for name in ("json", "jsonb"):  # decoded as the ORM decodes them; asyncpg gives text
                await conn.set_type_codec(name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads)
        except BaseException:
            conn.terminate()
            raise
        return conn

    def close(self) -> None:
        self._pools.close()


def make_loop_reader(engine: Engine) -> LoopReader:
    if engine.dialect.name == "sqlite":
        return SqliteLoopReader(engine)
    return PostgresLoopReader(engine)
