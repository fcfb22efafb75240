"""Benchmarks as ratios to a bare FastAPI endpoint measured in the same run (see bench/README.md).

For each database: seed 120,000 cases, then with one uvicorn worker pinned to CPU 0 and wrk pinned
to CPU 1 (32 connections, 10 s after a 2 s warm-up, each case twice) measure: the bare FastAPI
``async def`` endpoint, GET a chargeback by id, the filtered list (page 1 and page 1,000) and
notice ingestion. Prints a markdown table and appends JSON lines to bench/results/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "lua"
PY = sys.executable
UVICORN = [
    PY,
    "-m",
    "uvicorn",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--port",
    "8765",
]
BASE = "http://127.0.0.1:8765"
BULK = 50  # notices per bulk request
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def to_ms(tok: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", tok)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")


def wrk(url: str, lua: str | None, args: list[str], seconds: int, clients: int = 32) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout=10s"]
    cmd += (["-s", str(LUA / lua)] if lua else []) + [url] + (["--", *args] if args else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
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


def serve(target: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *UVICORN, target],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 8765), 0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{target} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(15)


def fresh_database(backend: str) -> str:
    if backend == "sqlite":
        path = OUT / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "cbd_bench" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "cbd_bench"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/cbd_bench"


def measure(
    name: str,
    backend: str,
    url: str,
    lua: str | None,
    args: list[str],
    a: argparse.Namespace,
    rows: list[dict[str, object]],
    clients: int = 32,
) -> None:
    wrk(url, lua, args, 2, clients)
    for rep in (1, 2):
        r = wrk(url, lua, args, a.seconds, clients)
        row: dict[str, object] = {
            "backend": backend,
            "case": name,
            "rep": rep,
            **r,
            "ts": time.strftime("%FT%T"),
        }
        rows.append(row)
        print(
            f"{backend:>10} {name:<22} rep{rep} {r['rps']:>9.1f} req/s  p50 {r['p50_ms']:.2f} ms  "
            f"p99 {r['p99_ms']:.2f} ms  non-2xx {r['errors']}",
            flush=True,
        )


def run_backend(backend: str, a: argparse.Namespace, rows: list[dict[str, object]]) -> None:
    url = fresh_database(backend)
    env = {"DATABASE_URL": url}
    subprocess.run(
        [PY, "-m", "app.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        stderr=subprocess.DEVNULL,
    )
    data = OUT / backend
    subprocess.run(
        [
            PY,
            "bench/seed.py",
            "--database-url",
            url,
            "--cases",
            str(a.cases),
            "--sellers",
            "2",
            "--out",
            str(data),
        ],
        cwd=ROOT,
        check=True,
    )
    seeded = dict(line.split("=", 1) for line in (data / "env").read_text().split())

    ceiling = serve("bench.ceiling:app", {})
    try:
        measure("bare FastAPI async", backend, f"{BASE}/async", None, [], a, rows)
    finally:
        stop(ceiling)

    platform_key = "pk_" + secrets.token_urlsafe(24)
    app_env = {
        **env,
        "PLATFORM_API_KEY": platform_key,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DISPATCH_IN_PROCESS": "false",
        "LOG_LEVEL": "WARNING",
    }
    server = serve("app.main:app", app_env)
    key = seeded["SELLER_KEY"]
    try:
        measure(
            "GET chargeback by id",
            backend,
            f"{BASE}/v1/chargebacks/",
            "get_ids.lua",
            ["/v1/chargebacks/", str(data / "ids.txt"), key],
            a,
            rows,
        )
        filtered = f"{BASE}/v1/chargebacks?status=needs_response&reason_category=not_received&limit=50"
        measure("list filtered, page 1", backend, filtered, "get_auth.lua", [key], a, rows)
        measure("list page 1", backend, f"{BASE}/v1/chargebacks?limit=50", "get_auth.lua", [key], a, rows)
        deep = f"{BASE}/v1/chargebacks?limit=50&cursor={seeded['DEEP_CURSOR']}"
        measure("list page 1,000", backend, deep, "get_auth.lua", [key], a, rows)
        measure(
            "POST notice",
            backend,
            f"{BASE}/v1/chargebacks",
            "post_notice.lua",
            [str(data / "orders.txt"), platform_key],
            a,
            rows,
        )
        # An ERP sends a few batches at a time, not 32 (32 x 50 notices in flight would only queue).
        measure(
            f"POST bulk of {BULK}",
            backend,
            f"{BASE}/v1/chargebacks/bulk",
            "post_bulk.lua",
            [str(data / "orders.txt"), platform_key, str(BULK)],
            a,
            rows,
            clients=4,
        )
    finally:
        stop(server)


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| database | case | req/s (best of 2) | p99 ms | ratio to bare FastAPI | notices/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    best: dict[tuple[str, str], dict[str, object]] = {}
    for r in rows:
        k = (str(r["backend"]), str(r["case"]))
        if k not in best or float(r["rps"]) > float(best[k]["rps"]):  # type: ignore[arg-type]
            best[k] = r
    for (backend, case), r in best.items():
        ceiling = float(best[(backend, "bare FastAPI async")]["rps"])  # type: ignore[arg-type]
        ratio = float(r["rps"]) / ceiling  # type: ignore[arg-type]
        rps, p99 = float(r["rps"]), float(r["p99_ms"])  # type: ignore[arg-type]
        notices = {"POST notice": f"{rps:.0f}", f"POST bulk of {BULK}": f"{rps * BULK:.0f}"}.get(case, "")
        lines.append(f"| {backend} | {case} | {rps:.0f} | {p99:.1f} | {ratio:.3f} | {notices} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=120_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
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


if __name__ == "__main__":
    main()
