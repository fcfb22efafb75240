"""CPU per notice, in process: the ASGI app called directly on a seeded database, no server, no wrk.

For each database: a fresh migrated database, one seller, orders with room for every notice; then the
app (``create_app``, lifespan off, so no dispatcher) is called as an ASGI application, one request at
a time, by a bare driver (an HTTP client library's own work, e.g. httpx's ``ASGITransport``, would
count too), and the process CPU (``time.process_time()``: the event loop, the handler's worker
thread and the driver together) is divided by the notices written:

- ``floor``: ``GET /healthz``, per request: what any request costs here, the notice's work aside;
- ``single``: ``POST /v1/chargebacks``, one notice per request;
- ``single+key``: the same with an ``Idempotency-Key`` (taken and completed in the notice's transaction);
- ``bulk``: ``POST /v1/chargebacks/bulk`` with ``--bulk`` notices per request;
- ``bulk+keys``: the same, every item carrying its own ``idempotency_key``;
- ``service``: ``ingestion.create`` called directly, one ``Session`` per notice (the use case alone).

On PostgreSQL the server's CPU for the same work (the client backends of the bench database, from
``/proc/<pid>/stat``, so only when the server runs on this machine) is reported beside it: both share
the machine's cores under load.
Each case runs ``--repeat`` times after a warm-up; the best and the median run are printed.

    .venv/bin/python -m bench.cpu_per_request                      # both databases
    .venv/bin/python -m bench.cpu_per_request --backend sqlite --notices 500
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from alembic import command
from app.cli import alembic_config
from app.core.config import Settings
from app.core.ids import new_id
from app.main import create_app
from app.models import Order, Seller
from app.models.chargeback import ChargebackCreate
from app.security.credentials import PLATFORM
from bench.cpu import AsgiDriver

try:
    from app.services.ingestion import create
except ImportError:  # an older commit, before notices moved to their own module
    from app.services.chargebacks import create  # type: ignore[attr-defined,no-redef]

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PLATFORM_KEY = "pk_bench_cpu_0123456789abcdef0123456789"
HEADERS = {"Authorization": f"Bearer {PLATFORM_KEY}"}
CASES = ("floor", "single", "single+key", "bulk", "bulk+keys", "service")
_refs = itertools.count()
_TICK = os.sysconf("SC_CLK_TCK")


def fresh_database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'cpu.db'}"
    name = f"cbd_bench_cpu_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def migrate(url: str) -> None:
    cfg = alembic_config()
    cfg.attributes["configure_logger"] = False
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()


def seed(engine: Engine, orders: int) -> list[str]:
    """One seller and ``orders`` orders, each with room for any number of 1-unit notices."""
    now = datetime.now(UTC)
    seller_id = new_id("sel")
    order_ids = [new_id("ord") for _ in range(orders)]
    with Session(engine) as session:
        session.execute(
            insert(Seller),
            [
                {
                    "id": seller_id,
                    "name": "Bench Shop",
                    "email": "orders@bench-shop.example",
                    "country": "DE",
                    "timezone": "Europe/Berlin",
                    "created_at": now,
                }
            ],
        )
        session.execute(
            insert(Order),
            [
                {
                    "id": o,
                    "seller_id": seller_id,
                    "external_ref": f"SO-{i:06d}",
                    "amount_minor": 10**12,
                    "currency": "EUR",
                    "frozen_amount_minor": 0,
                    "debited_amount_minor": 0,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, o in enumerate(order_ids)
            ],
        )
        session.commit()
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()
    return order_ids


def vacuum(engine: Engine) -> None:
    """PostgreSQL: each case starts without the dead row versions the previous ones left on the
    orders (thousands of updates to 2,000 rows), as autovacuum would keep it in a steady state."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


class ServerCpu:
    """CPU of the PostgreSQL backends serving one database (0 on SQLite, or without /proc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine if engine.dialect.name == "postgresql" else None
        self.before: dict[int, int] = {}

    def _pids(self) -> list[int]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            rows = conn.execute(
                # Client backends only: an autovacuum worker analysing the grown tables is not the
                # notices' cost.
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND backend_type = 'client backend'"
                )
            ).scalars()
            return list(rows)

    @staticmethod
    def _ticks(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12])  # utime + stime

    def start(self) -> None:
        if self.engine is not None:
            self.before = {pid: self._ticks(pid) for pid in self._pids()}

    def seconds(self) -> float:
        if self.engine is None:
            return 0.0
        pids = set(self._pids()) | set(self.before)
        return sum(self._ticks(p) - self.before.get(p, 0) for p in pids) / _TICK


def quiet_access_log() -> None:
    """Keep formatting each access-log line (the server pays for it too), but write it nowhere."""
    for handler in logging.getLogger("chargeback_desk").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115


def notice(orders: list[str], key: bool = False) -> dict[str, Any]:
    n = next(_refs)
    body: dict[str, Any] = {
        "order_id": orders[n % len(orders)],
        "reason_code": "13.1",
        "amount_minor": 1,
        "currency": "EUR",
        "bank_reference": f"BENCH-{os.getpid()}-{n}",
    }
    if key:
        body["idempotency_key"] = f"bench-{os.getpid()}-{n}"
    return body


Run = Callable[[int], None]  # write this many notices


class Driver:
    """``bench.cpu.AsgiDriver`` (a request straight into the app, no HTTP client's work to count),
    with the platform key and JSON bodies."""

    def __init__(self, app: Any) -> None:
        self.send = AsgiDriver(app)

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        raw = b"" if body is None else json.dumps(body).encode()
        sent = {**HEADERS, **(headers or {}), "content-type": "application/json"}
        status, answer = await self.send((method, path, sent, raw))
        return status, json.loads(answer)


@contextmanager
def http_runner(app: Any, case: str, orders: list[str], bulk: int) -> Iterator[Run]:
    loop = asyncio.new_event_loop()
    client = Driver(app)

    async def floor(n: int) -> None:
        for _ in range(n):
            status, body = await client.request("GET", "/healthz")
            assert status == 200, body

    async def singles(n: int, key: bool) -> None:
        for _ in range(n):
            body = notice(orders)
            headers = {"Idempotency-Key": body["bank_reference"]} if key else {}
            status, answer = await client.request("POST", "/v1/chargebacks", body, headers)
            assert status == 201, answer

    async def bulks(n: int, key: bool) -> None:
        for start in range(0, n, bulk):
            items = [notice(orders, key) for _ in range(min(bulk, n - start))]
            status, answer = await client.request("POST", "/v1/chargebacks/bulk", {"notices": items})
            assert status == 200, answer
            bad = [i for i in answer["results"] if i["status"] != 201]
            assert not bad, bad[:3]

    def run(n: int) -> None:
        if case == "floor":
            loop.run_until_complete(floor(n))
        elif case.startswith("single"):
            loop.run_until_complete(singles(n, case.endswith("+key")))
        else:
            loop.run_until_complete(bulks(n, case.endswith("+keys")))

    try:
        yield run
    finally:
        loop.close()


@contextmanager
def service_runner(engine: Engine, settings: Settings, orders: list[str]) -> Iterator[Run]:
    def run(n: int) -> None:
        for _ in range(n):
            data = ChargebackCreate.model_validate(notice(orders))
            with Session(engine, expire_on_commit=False) as session:
                create(session, settings, PLATFORM, data)

    yield run


def measure(backend: str, a: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(backend, Path(tmp))
        try:
            migrate(url)
            settings = Settings(
                _env_file=None,
                database_url=url,
                platform_api_key=PLATFORM_KEY,
                secret_key="bench-secret-key-0123456789",
                dispatch_in_process=False,
            )
            app = create_app(settings)
            quiet_access_log()
            engine: Engine = app.state.engine
            orders = seed(engine, a.orders)
            server = ServerCpu(engine)
            for case in a.cases:
                vacuum(engine)
                runner = (
                    service_runner(engine, settings, orders)
                    if case == "service"
                    else http_runner(app, case, orders, a.bulk)
                )
                with runner as run:
                    run(a.warmup)
                    runs = []
                    for _ in range(a.repeat):
                        server.start()
                        cpu0, wall0 = time.process_time(), time.perf_counter()
                        run(a.notices)
                        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                        runs.append((cpu, wall, server.seconds()))
                    best = min(runs)
                    median = statistics.median(r[0] for r in runs)
                    row = {
                        "backend": backend,
                        "case": case,
                        "cpu_us": best[0] / a.notices * 1e6,
                        "cpu_us_median": median / a.notices * 1e6,
                        "db_cpu_us": best[2] / a.notices * 1e6,
                        "notices_per_s": a.notices / best[1],
                    }
                    rows.append(row)
                    print(
                        f"{backend:>10} {case:<10} {row['cpu_us']:>7.0f} µs CPU/notice "
                        f"(median {row['cpu_us_median']:.0f})  database {row['db_cpu_us']:>5.0f} µs  "
                        f"{row['notices_per_s']:>6.0f} notices/s sequential",
                        flush=True,
                    )
            app.state.db.close()
        finally:
            drop_database(url)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    ap.add_argument("--notices", type=int, default=1_000, help="notices per measured run")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bulk", type=int, default=50, help="notices per bulk request")
    ap.add_argument("--orders", type=int, default=2_000)
    a = ap.parse_args()
    backends = ["sqlite", "postgresql"] if a.backend == "both" else [a.backend]
    rows = [row for backend in backends for row in measure(backend, a)]
    print("\n| database | case | CPU µs/notice (best) | median | PostgreSQL CPU µs/notice | notices/s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        db = f"{r['db_cpu_us']:.0f}" if r["backend"] == "postgresql" else ""
        print(
            f"| {r['backend']} | {r['case']} | {r['cpu_us']:.0f} | {r['cpu_us_median']:.0f} | {db} "
            f"| {r['notices_per_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
