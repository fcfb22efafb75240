"""CPU per request, measured in process: no server, no network, no wrk (see bench/README.md).

For each database: a fresh database, migrated by the measured checkout's ``python -m app.cli migrate``
and seeded by this directory's seed.py; then ``app.main.create_app(Settings(...))`` (its lifespan
run) driven from one event loop, one request at a time, for: the bare FastAPI endpoint
(bench/ceiling.py), GET a chargeback by id, the list filtered by status at page 1 (and page 1,000
when the seed has one), a notice and a bulk of 50 notices. A case's cost is the process CPU time
(``time.process_time()``: every thread of this process, so the worker threads of ``def`` handlers
count; the PostgreSQL server's own CPU does not) over its requests, per request.

``--app-root`` measures another checkout (an old commit in a ``git worktree``) with this script and
this seed: only HTTP is relied upon. ``--driver httpx`` goes through ``httpx.ASGITransport``, whose
client costs a few hundred microseconds a request itself; ``--driver asgi`` calls the application
directly with a minimal ASGI scope. Either way the driver's share is in the bare endpoint's
figure too, so "over bare" (a case minus the bare endpoint) is the app's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "results"
PY = sys.executable
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BULK = 50

Request = tuple[str, str, dict[str, str], bytes]  # method, path with query, headers, body
Send = Callable[[Request], Coroutine[Any, Any, tuple[int, bytes]]]
Results = dict[str, list[tuple[float, float]]]  # per case: (CPU µs, wall µs) per request, per repetition


def load_ceiling() -> Any:
    spec = importlib.util.spec_from_file_location("bench_ceiling", BENCH / "ceiling.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


class AsgiDriver:
    """One request straight into the ASGI app: a scope, one body message, the response collected."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, request: Request) -> tuple[int, bytes]:
        method, target, headers, body = request
        parts = urlsplit(target)
        raw_headers = [(b"host", b"bench")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if body:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
        }
        done = asyncio.Event()
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


class HttpxDriver:
    def __init__(self, app: Any) -> None:
        import httpx

        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")

    async def __call__(self, request: Request) -> tuple[int, bytes]:
        method, target, headers, body = request
        response = await self.client.request(method, target, headers=headers, content=body or None)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self.client.aclose()


def notice(order: str, reference: str) -> dict[str, object]:
    return {
        "order_id": order,
        "reason_code": "13.1",
        "amount_minor": 1,
        "currency": "EUR",
        "bank_reference": reference,
    }


def cases(seeded: dict[str, str], data: Path, platform_key: str) -> dict[str, Callable[[], Request]]:
    """Each case as a maker of its next request (ids and orders drawn at random, references unique)."""
    rnd = random.Random(11)
    ids = (data / "ids.txt").read_text().split()
    orders = (data / "orders.txt").read_text().split()
    seller = {"Authorization": f"Bearer {seeded['SELLER_KEY']}"}
    platform = {"Authorization": f"Bearer {platform_key}", "Content-Type": "application/json"}
    counter = iter(range(10**9))
    tag = secrets.token_hex(4)

    def reference() -> str:
        return f"CPU{tag}-{next(counter)}"

    page_1 = f"/v1/chargebacks?{seeded['QUERY_status']}&limit=50"
    made: dict[str, Callable[[], Request]] = {
        "bare FastAPI async": lambda: ("GET", "/async", {}, b""),
        "GET chargeback by id": lambda: ("GET", f"/v1/chargebacks/{rnd.choice(ids)}", seller, b""),
        "list status, page 1": lambda: ("GET", page_1, seller, b""),
    }
    if seeded["DEEP_status"] != "-":
        deep = f"{page_1}&cursor={seeded['DEEP_status']}"
        made["list status, page 1,000"] = lambda: ("GET", deep, seller, b"")
    made["POST notice"] = lambda: (
        "POST",
        "/v1/chargebacks",
        platform,
        json.dumps(notice(rnd.choice(orders), reference())).encode(),
    )
    made[f"POST bulk of {BULK}"] = lambda: (
        "POST",
        "/v1/chargebacks/bulk",
        platform,
        json.dumps({"notices": [notice(rnd.choice(orders), reference()) for _ in range(BULK)]}).encode(),
    )
    return made


async def timed(send: Send, requests: list[Request]) -> tuple[float, float]:
    """Process CPU and wall seconds over ``requests``; any answer but 2xx stops the run."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for request in requests:
        status, body = await send(request)
        if not 200 <= status < 300:
            raise SystemExit(f"{request[0]} {request[1]} answered {status}: {body[:300]!r}")
    return time.process_time() - cpu, time.perf_counter() - wall


async def measure(
    app: Any, seeded: dict[str, str], data: Path, platform_key: str, a: argparse.Namespace
) -> Results:
    """µs of CPU and of wall time per request, per case and repetition."""
    make = cases(seeded, data, platform_key)
    drivers: dict[str, Any] = {}
    for name, target in (("bare", load_ceiling()), ("app", app)):
        drivers[name] = HttpxDriver(target) if a.driver == "httpx" else AsgiDriver(target)
    results: Results = {name: [] for name in make}
    async with app.router.lifespan_context(app):
        try:
            for rep in range(a.repeats + 1):  # the first round warms up, at a tenth of the requests
                for name, next_request in make.items():
                    n = a.requests // BULK if name.startswith("POST bulk") else a.requests
                    n = max(n // 10 if rep == 0 else n, 5)
                    send = drivers["bare" if name.startswith("bare") else "app"]
                    cpu, wall = await timed(send, [next_request() for _ in range(n)])
                    if rep:
                        results[name].append((cpu / n * 1e6, wall / n * 1e6))
        finally:
            for driver in drivers.values():
                if isinstance(driver, HttpxDriver):
                    await driver.aclose()
    return results


def fresh_database(backend: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'cpu.db'}", lambda: None
    from sqlalchemy import create_engine, text

    name = f"cbd_cpu_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    drop()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def run_backend(backend: str, a: argparse.Namespace, workdir: Path) -> Results:
    from app.core.config import Settings
    from app.main import create_app

    url, drop = fresh_database(backend, workdir)
    try:
        env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(a.app_root)}
        subprocess.run(
            [PY, "-m", "app.cli", "migrate"], cwd=a.app_root, env=env, check=True, stderr=subprocess.DEVNULL
        )
        data = workdir / backend
        seed = [
            PY,
            str(BENCH / "seed.py"),
            "--database-url",
            url,
            "--cases",
            str(a.cases),
            "--out",
            str(data),
        ]
        subprocess.run(seed, cwd=a.app_root, env=env, check=True)
        seeded = dict(line.split("=", 1) for line in (data / "env").read_text().split())
        platform_key = "pk_" + secrets.token_urlsafe(24)
        settings = Settings(
            database_url=url,
            platform_api_key=platform_key,
            secret_key=secrets.token_urlsafe(32),
            dispatch_in_process=False,
            log_level="WARNING",
            # Quotas no run reaches (an older checkout without rate limits ignores them).
            rate_limit_per_key="1000000000/minute",
            rate_limit_per_address="1000000000/minute",
            rate_limit_per_platform_key="1000000000/minute",
        )
        app = create_app(settings)
        try:
            return run_loop(measure(app, seeded, data, platform_key, a))
        finally:
            app.state.engine.dispose()
    finally:
        drop()


def run_loop(main: Coroutine[Any, Any, Results]) -> Results:
    try:
        import uvloop  # the server's loop (uvicorn --loop uvloop)
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def report(backend: str, results: Results, a: argparse.Namespace) -> list[str]:
    bare = min(cpu for cpu, _ in results["bare FastAPI async"])
    lines = []
    for name, reps in results.items():
        cpu = [c for c, _ in reps]
        best, wall = min(cpu), min(w for _, w in reps)
        over = "" if name.startswith("bare") else f"{best - bare:.0f}"
        lines.append(
            f"| {backend} | {name} | {best:.0f} | {statistics.median(cpu):.0f} | {over} | {wall:.0f} |"
        )
        with (OUT / "cpu.jsonl").open("a") as f:
            row = {"commit": a.commit, "driver": a.driver, "backend": backend, "case": name, "cpu_us": cpu}
            f.write(json.dumps(row | {"wall_us": [w for _, w in reps], "ts": time.strftime("%FT%T")}) + "\n")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app-root", type=Path, default=BENCH.parent, help="the checkout to measure")
    ap.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--cases", type=int, default=120_000, help="chargebacks to seed")
    ap.add_argument("--requests", type=int, default=2_000, help="per case and repetition (bulk: / 50)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--driver", choices=["httpx", "asgi"], default="httpx")
    a = ap.parse_args()
    a.app_root = a.app_root.resolve()
    sys.path.insert(0, str(a.app_root))
    os.chdir(a.app_root)  # its .env, if any, as the server would read it
    import app

    if not Path(app.__file__ or "").resolve().is_relative_to(a.app_root):
        raise SystemExit(f"app was imported from {app.__file__}, not from {a.app_root}")
    git = ["git", "-C", str(a.app_root), "rev-parse", "--short", "HEAD"]
    a.commit = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown"
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [
        f"commit {a.commit}, driver {a.driver}, {a.cases} cases, {a.requests} requests x {a.repeats}",
        "",
        "| database | case | CPU µs/request (best) | median | over bare | wall µs/request |",
        "|---|---|---:|---:|---:|---:|",
    ]
    workdir = Path(tempfile.mkdtemp(prefix="cbd-cpu-"))
    try:
        for backend in a.backend or ["sqlite", "postgresql"]:
            lines += report(backend, run_backend(backend, a, workdir), a)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
