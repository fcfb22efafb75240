"""Benchmarks as ratios to a bare FastAPI endpoint measured in the same run (see bench/README.md).

For each database: seed it (120,000 cases on SQLite, 1,000,000 on PostgreSQL), then with one uvicorn
worker pinned to CPU 0 and wrk pinned to CPU 1 (32 connections, 10 s after a 2 s warm-up, each case
``--reps`` times) measure: GET a chargeback by id, the list unfiltered and with each filter at page 1
and page 1,000, and notice ingestion. Every measurement of a case follows one of the bare FastAPI
``async def`` endpoint (its own server, also on CPU 0, idle meanwhile), and a case's ratio is the
median over its repetitions of its req/s over that adjacent bare measurement: the shared machine's
drift over a run cancels out. With ``--together`` each measurement loads the bare endpoint and the case
at the same time instead: both servers share CPU 0 evenly, so their rates compare at one clock speed.
Prints markdown tables and appends JSON lines to bench/results/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "lua"
PY = sys.executable
UVICORN = [PY, "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
BULK = 50  # notices per bulk request
# The app's rate limits would answer wrk with 429s: set far above any load this machine can make.
UNLIMITED = {
    "RATE_LIMIT_PER_KEY": "1000000000/minute",
    "RATE_LIMIT_PER_ADDRESS": "1000000000/minute",
    "RATE_LIMIT_PER_PLATFORM_KEY": "1000000000/minute",
}
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def to_ms(tok: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", tok)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")


def wrk_command(url: str, lua: str | None, args: list[str], seconds: int, clients: int = 32) -> list[str]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout=10s"]
    return cmd + (["-s", str(LUA / lua)] if lua else []) + [url] + (["--", *args] if args else [])


def wrk(url: str, lua: str | None, args: list[str], seconds: int, clients: int = 32) -> dict[str, float]:
    cmd = wrk_command(url, lua, args, seconds, clients)
    return wrk_output(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def wrk_together(
    ceiling: str, url: str, lua: str | None, args: list[str], seconds: int, clients: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The bare endpoint and a case loaded at once: their servers share CPU 0 evenly, so the ratio
    of their rates is the ratio of their costs at one and the same clock speed."""
    loads = [
        subprocess.Popen(wrk_command(ceiling, None, [], seconds), stdout=subprocess.PIPE, text=True),
        subprocess.Popen(wrk_command(url, lua, args, seconds, clients), stdout=subprocess.PIPE, text=True),
    ]
    bare, case = (wrk_output(load.communicate()[0]) for load in loads)
    return bare, case


def wrk_output(out: str) -> dict[str, float]:
    """req/s, p50 and p99 (ms) and the count of non-2xx answers from wrk's ``--latency`` report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": to_ms(p50.group(1)) if p50 else float("nan"),
        "p99_ms": to_ms(p99.group(1)) if p99 else float("nan"),
        "errors": int(bad.group(1)) if bad else 0,
    }


def record(bench: str, rows: list[dict[str, object]]) -> None:
    """Append ``rows`` to bench/results/results.jsonl with ``bench``, the checkout's commit and the time."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    ts = time.strftime("%FT%T")
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "results.jsonl").open("a") as f:
        for row in rows:
            f.write(json.dumps({"bench": bench, **row, "commit": commit, "ts": ts}) + "\n")


def serve(
    target: str, env: dict[str, str], port: int, cpus: str = "0", flags: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """One uvicorn worker on ``cpus`` (taskset's list; CPU 0 by default), with extra uvicorn ``flags``."""
    proc = subprocess.Popen(
        ["taskset", "-c", cpus, *UVICORN, *flags, "--port", str(port), target],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{target} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(15)


def fresh_database(backend: str, name: str) -> str:
    if backend == "sqlite":
        path = OUT / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def measure(
    name: str,
    backend: str,
    url: str,
    lua: str | None,
    args: list[str],
    a: argparse.Namespace,
    rows: list[dict[str, object]],
    clients: int = 32,
    **extra: object,
) -> None:
    """``a.reps`` measurements of one case, each after one of the bare endpoint (``a.ceiling``), or
    with it when ``a.together``."""
    if a.only and not any(word in name for word in a.only):
        return
    wrk(url, lua, args, 2, clients)
    for rep in range(1, a.reps + 1):
        if a.together:
            bare, r = wrk_together(a.ceiling, url, lua, args, a.seconds, clients)
        else:
            bare = wrk(a.ceiling, None, [], a.seconds)
            r = wrk(url, lua, args, a.seconds, clients)
        row: dict[str, object] = {
            "backend": backend,
            "case": name,
            "rep": rep,
            **r,
            "bare_rps": bare["rps"],
            "together": a.together,
            **extra,
            "ts": time.strftime("%FT%T"),
        }
        rows.append(row)
        against = f"  bare {bare['rps']:>8.1f} req/s  ratio {r['rps'] / bare['rps']:.3f}"
        print(
            f"{backend:>10} {name:<36} rep{rep} {r['rps']:>9.1f} req/s  p50 {r['p50_ms']:.2f} ms  "
            f"p99 {r['p99_ms']:.2f} ms  non-2xx {r['errors']}{against}",
            flush=True,
        )


LABELS = {
    "all": "list",
    "status": "list status",
    "reason_category": "list reason_category",
    "order_id": "list order_id",
    "respond_by_before": "list respond_by_before",
    "due_first": "list respond_by_before, soonest due first",
    "updated_since": "list updated_since",
}
PAGES = ("page 1", "page 1,000")


def run_backend(backend: str, a: argparse.Namespace, rows: list[dict[str, object]]) -> None:
    data = OUT / backend
    if a.reuse and (data / "env").exists():
        url = (data / "url").read_text().strip()
    else:
        url = fresh_database(backend, a.pg_database)
        cases = a.sqlite_cases if backend == "sqlite" else a.pg_cases
        subprocess.run(
            [PY, "-m", "app.cli", "migrate"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            stderr=subprocess.DEVNULL,
        )
        seed = [PY, "bench/seed.py", "--database-url", url, "--cases", str(cases), "--out", str(data)]
        subprocess.run(seed, cwd=ROOT, check=True)
        (data / "url").write_text(url + "\n")
    env = {"DATABASE_URL": url}
    seeded = dict(line.split("=", 1) for line in (data / "env").read_text().split())
    base = f"http://127.0.0.1:{a.port}"

    # The ceiling stays up beside the app, both on CPU 0: wrk loads one at a time (both with --together).
    ceiling_server = serve("bench.ceiling:app", {}, a.port + 1)
    ceiling = f"http://127.0.0.1:{a.port + 1}/async"
    wrk(ceiling, None, [], 2)
    platform_key = "pk_" + secrets.token_urlsafe(24)
    app_env = {
        **env,
        "PLATFORM_API_KEY": platform_key,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DISPATCH_IN_PROCESS": "false",
        **UNLIMITED,
        "LOG_LEVEL": "WARNING",
    }
    server = serve("app.main:app", app_env, a.port)
    key = seeded["SELLER_KEY"]
    a.ceiling = ceiling
    try:
        measure(
            "GET chargeback by id",
            backend,
            f"{base}/v1/chargebacks/",
            "get_ids.lua",
            ["/v1/chargebacks/", str(data / "ids.txt"), key],
            a,
            rows,
        )
        for name in seeded["LISTS"].split(","):
            query = seeded[f"QUERY_{name}"]
            page_1 = f"{base}/v1/chargebacks?{query + '&' if query else ''}limit=50"
            deep = seeded[f"DEEP_{name}"]
            length = int(seeded[f"ROWS_{name}"])
            label = LABELS.get(name, f"list {name}")
            measure(f"{label}, {PAGES[0]}", backend, page_1, "get_auth.lua", [key], a, rows, list_rows=length)
            if deep == "-":
                print(f"{backend:>10} {label}, {PAGES[1]}: skipped, the list has {length} rows", flush=True)
                continue
            url_deep = f"{page_1}&cursor={deep}"
            measure(
                f"{label}, {PAGES[1]}", backend, url_deep, "get_auth.lua", [key], a, rows, list_rows=length
            )
        measure(
            "POST notice",
            backend,
            f"{base}/v1/chargebacks",
            "post_notice.lua",
            [str(data / "orders.txt"), platform_key],
            a,
            rows,
        )
        # An ERP sends a few batches at a time, not 32 (32 x 50 notices in flight would only queue).
        measure(
            f"POST bulk of {BULK}",
            backend,
            f"{base}/v1/chargebacks/bulk",
            "post_bulk.lua",
            [str(data / "orders.txt"), platform_key, str(BULK)],
            a,
            rows,
            clients=4,
        )
    finally:
        stop(server)
        stop(ceiling_server)


def medians(rows: list[dict[str, object]]) -> dict[tuple[str, str], dict[str, float]]:
    """Per database and case: the median req/s, p99 and ratio to the adjacent bare measurement, and
    (as the case "bare FastAPI async") the median of every bare measurement."""
    grouped: dict[tuple[str, str], list[dict[str, object]]] = {}
    for r in rows:
        grouped.setdefault((str(r["backend"]), str(r["case"])), []).append(r)
    found: dict[tuple[str, str], dict[str, float]] = {}
    bare: dict[str, list[float]] = {}
    for (backend, case), reps in grouped.items():
        rps = [float(r["rps"]) for r in reps]  # type: ignore[arg-type]
        ratios = [float(r["rps"]) / float(r["bare_rps"]) for r in reps]  # type: ignore[arg-type]
        bare.setdefault(backend, []).extend(float(r["bare_rps"]) for r in reps)  # type: ignore[arg-type]
        found[(backend, case)] = {
            "rps": statistics.median(rps),
            "p99_ms": statistics.median(float(r["p99_ms"]) for r in reps),  # type: ignore[arg-type]
            "ratio": statistics.median(ratios),
            "list_rows": float(reps[0].get("list_rows", 0)),  # type: ignore[arg-type]
        }
    for backend, values in bare.items():
        found[(backend, "bare FastAPI async")] = {"rps": statistics.median(values), "ratio": 1.0}
    return found


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| database | case | req/s (median) | p99 ms | ratio to bare FastAPI (median) | notices/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for (backend, case), m in sorted(medians(rows).items(), key=lambda kv: "bare" not in kv[0][1]):
        rps, p99 = m["rps"], m.get("p99_ms", float("nan"))
        notices = {"POST notice": f"{rps:.0f}", f"POST bulk of {BULK}": f"{rps * BULK:.0f}"}.get(case, "")
        lines.append(f"| {backend} | {case} | {rps:.0f} | {p99:.1f} | {m['ratio']:.3f} | {notices} |")
    return "\n".join(lines)


def depth_table(rows: list[dict[str, object]]) -> str:
    """Each list's page 1,000 against its page 1 (their median ratios to bare): the aim is within 20 %."""
    lines = [
        "| database | list | rows | page 1 ratio | page 1,000 ratio | page 1,000 / page 1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    found = medians(rows)
    for (backend, case), m in found.items():
        if not case.endswith(f", {PAGES[0]}"):
            continue
        label = case.removesuffix(f", {PAGES[0]}")
        deep = found.get((backend, f"{label}, {PAGES[1]}"))
        first, length = m["ratio"], int(m["list_rows"])
        if deep is None:
            lines.append(f"| {backend} | {label} | {length} | {first:.3f} | n/a | n/a |")
            continue
        second = deep["ratio"]
        pair = f"{first:.3f} | {second:.3f} | {second / first:.2f}"
        lines.append(f"| {backend} | {label} | {length} | {pair} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sqlite-cases", type=int, default=120_000)
    ap.add_argument("--pg-cases", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3, help="measurements of each case (the median is kept)")
    ap.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--pg-database", default="cbd_bench", help="dropped and created afresh")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument(
        "--reuse", action="store_true", help="measure the last seeded database again (writes add to it)"
    )
    ap.add_argument(
        "--only", action="append", help="measure only cases whose name contains this (repeatable)"
    )
    ap.add_argument(
        "--together",
        action="store_true",
        help="load the bare endpoint and each case at the same time, sharing CPU 0 (see bench/README.md)",
    )
    a = ap.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset (apt-get install wrk util-linux)")
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for backend in a.backend or ["sqlite", "postgresql"]:
        run_backend(backend, a, rows)
    with (OUT / "results.jsonl").open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(table(rows))
    print()
    print(depth_table(rows))


if __name__ == "__main__":
    main()
