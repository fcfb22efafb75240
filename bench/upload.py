"""Evidence uploads against a bare FastAPI upload endpoint in the same run (see bench/README.md).

.venv/bin/python -m bench.upload

Two uvicorn servers pinned to CPU 0 as in ``bench/run.py``: the app on a fresh SQLite database with
local evidence storage in a temporary directory, and ``bench/ceiling.py``'s ``POST /upload`` (Starlette
parses the form, the file is read to the end and hashed). This client runs on CPU 1. Measured:

- a 10 MB PDF (one page, an incompressible image) uploaded ``--big`` times to one case: the time of
  each, and the server's peak RSS growth (``VmHWM`` after the uploads minus ``VmHWM`` before, after a
  warm-up with the small PDF), for both servers;
- a 100 KB PDF uploaded ``--requests`` times one after another from one ``httpx.Client`` (after
  ``--warmup``), in alternating blocks of ``--block``: req/s and median latency of each, and the ratio;
  then the same from ``--threads`` threads at once (0 skips it).

Both servers get the same bytes (a multipart body built once: ``evidence_type`` and ``file``).
Prints a markdown table and appends JSON lines to bench/results/results.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from fpdf import FPDF
from PIL import Image

from app.storage import files
from bench.run import PY, ROOT, UNLIMITED, record, serve, stop

BIG_SIDE = 1860  # pixels a side, RGB noise: a 10,385,167-byte PDF, under the 10,485,760-byte file limit
SMALL_SIDE = 184  # 103,117 bytes
MB = 1_000_000


def make_pdf(side: int, seed: int) -> bytes:
    """One page with an incompressible ``side`` x ``side`` image: a real PDF that passes the app's check."""
    noise = random.Random(seed).randbytes(side * side * 3)
    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=12)
    doc.cell(text=f"Proof of delivery (benchmark, {side} x {side} photograph)")
    doc.image(Image.frombytes("RGB", (side, side), noise), x=10, y=20, w=190)
    data = bytes(doc.output())
    with tempfile.TemporaryDirectory(prefix="cbd-bench-pdf-") as tmp:
        path = Path(tmp) / "file.pdf"
        path.write_bytes(data)
        files.inspect(path, files.sniff(data[:4096]))  # as the upload judges it: refused, it raises
    return data


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str
    sha256: str
    file_bytes: int


def multipart(data: bytes, name: str) -> Body:
    boundary = "cbd-bench-" + secrets.token_hex(12)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="evidence_type"\r\n\r\ndelivery_proof\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    content = head + data + f"\r\n--{boundary}--\r\n".encode()
    return Body(
        content, f"multipart/form-data; boundary={boundary}", hashlib.sha256(data).hexdigest(), len(data)
    )


@dataclass(frozen=True)
class Target:
    name: str
    pid: int
    url: str
    headers: dict[str, str]
    status: int


def memory(pid: int) -> dict[str, float]:
    """The process's peak and current resident set, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if line.startswith(("VmHWM", "VmRSS")))
    return {k: int(v.split()[0]) * 1024 / MB for k, v in values.items()}


def upload(client: httpx.Client, target: Target, body: Body) -> float:
    headers = {**target.headers, "Content-Type": body.content_type}
    started = time.perf_counter()
    r = client.post(target.url, content=body.content, headers=headers)
    elapsed = time.perf_counter() - started
    if r.status_code != target.status or r.json().get("sha256") != body.sha256:
        raise SystemExit(f"{target.name}: {r.status_code} {r.text[:300]}")
    return elapsed


def big_uploads(client: httpx.Client, target: Target, big: Body, small: Body, n: int) -> dict[str, object]:
    for _ in range(3):
        upload(client, target, small)
    before = memory(target.pid)
    times = [upload(client, target, big) for _ in range(n)]
    after = memory(target.pid)
    return {
        "case": "10 MB upload",
        "server": target.name,
        "file_bytes": big.file_bytes,
        "uploads": n,
        "median_s": statistics.median(times),
        "times_s": [round(t, 4) for t in times],
        "mb_per_s": big.file_bytes / MB / statistics.median(times),
        "hwm_before_mb": before["VmHWM"],
        "hwm_after_mb": after["VmHWM"],
        "hwm_growth_mb": after["VmHWM"] - before["VmHWM"],
        "rss_after_mb": after["VmRSS"],
    }


def small_uploads(
    targets: list[Target],
    body: Body,
    requests: int,
    warmup: int,
    block: int,
    threads: int,
) -> list[dict[str, object]]:
    """``requests`` uploads each, in alternating blocks of ``block``; ``threads`` at once (1: one client)."""
    latencies: dict[str, list[float]] = {t.name: [] for t in targets}
    busy: dict[str, float] = {t.name: 0.0 for t in targets}
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(threads) as pool:

        def run(target: Target, count: int) -> list[float]:
            one: Callable[[int], float] = lambda _: upload(client, target, body)  # noqa: E731
            return list(pool.map(one, range(count))) if threads > 1 else [one(i) for i in range(count)]

        for target in targets:
            run(target, warmup)
        done = 0
        while done < requests:
            count = min(block, requests - done)
            for target in targets:
                started = time.perf_counter()
                latencies[target.name] += run(target, count)
                busy[target.name] += time.perf_counter() - started
            done += count
    label = "100 KB upload, sequential" if threads == 1 else f"100 KB upload, {threads} threads"
    return [
        {
            "case": label,
            "server": t.name,
            "file_bytes": body.file_bytes,
            "requests": requests,
            "threads": threads,
            "rps": requests / busy[t.name],
            "p50_ms": statistics.median(latencies[t.name]) * 1000,
            "p99_ms": statistics.quantiles(latencies[t.name], n=100)[98] * 1000,
        }
        for t in targets
    ]


def setup_case(base: str, platform: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A seller, its key, an order and a case over HTTP; returns the case id and the seller's headers."""
    with httpx.Client(base_url=base, headers=platform, timeout=30) as c:

        def created(path: str, body: dict[str, object]) -> dict[str, object]:
            r = c.post(path, json=body)
            if r.status_code != 201:
                raise SystemExit(f"POST {path}: {r.status_code} {r.text[:300]}")
            data: dict[str, object] = r.json()
            return data

        seller = created(
            "/v1/sellers", {"name": "Bench Shop", "email": "bench@bench-shop.example", "country": "DE"}
        )
        key = created(f"/v1/sellers/{seller['id']}/api-keys", {"name": "bench"})
        order = created("/v1/orders", {"seller_id": seller["id"], "amount_minor": 10_000, "currency": "EUR"})
        notice = {
            "order_id": order["id"],
            "reason_code": "13.1",
            "amount_minor": 5_000,
            "currency": "EUR",
            "bank_reference": "ARN" + secrets.token_hex(6),
        }
        case = created("/v1/chargebacks", notice)
    return str(case["id"]), {"Authorization": f"Bearer {key['key']}"}


def ratio(ours: object, bare: object) -> str:
    return f"{float(ours) / float(bare):.3f}"  # type: ignore[arg-type]


def table(rows: list[dict[str, object]]) -> str:
    by = {(str(r["case"]), str(r["server"])): r for r in rows}
    lines = ["| case | measure | ours | bare FastAPI | ours / bare |", "|---|---|---:|---:|---:|"]

    def line(case: str, label: str, measure: str, key: str, digits: int) -> None:
        o, b = by[(case, "ours")][key], by[(case, "bare")][key]
        lines.append(f"| {label} | {measure} | {o:.{digits}f} | {b:.{digits}f} | {ratio(o, b)} |")

    big = "10 MB upload"
    ours, bare = by[(big, "ours")], by[(big, "bare")]
    line(big, f"{big} (median of {ours['uploads']})", "seconds", "median_s", 3)
    line(big, "", "MB/s", "mb_per_s", 0)
    lines.append(
        f"| | peak RSS growth, MB (idle peak) | {ours['hwm_growth_mb']:.1f} ({ours['hwm_before_mb']:.1f}) | "
        f"{bare['hwm_growth_mb']:.1f} ({bare['hwm_before_mb']:.1f}) | |"
    )
    for case in dict.fromkeys(str(r["case"]) for r in rows if str(r["case"]).startswith("100 KB")):
        line(case, case, "req/s", "rps", 0)
        line(case, "", "p50 ms", "p50_ms", 1)
        line(case, "", "p99 ms", "p99_ms", 1)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big", type=int, default=3, help="10 MB uploads per server")
    ap.add_argument("--requests", type=int, default=200, help="100 KB uploads per server and mode")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--block", type=int, default=50, help="uploads in a row before switching server")
    ap.add_argument("--threads", type=int, default=8, help="the concurrent pass's threads; 0 skips it")
    ap.add_argument("--port", type=int, default=8765, help="ours; the bare endpoint gets the next one")
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})  # the servers are pinned to CPU 0
    big = multipart(make_pdf(BIG_SIDE, 1), "proof-of-delivery-10mb.pdf")
    small = multipart(make_pdf(SMALL_SIDE, 2), "proof-of-delivery-100kb.pdf")
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="cbd-upload-bench-") as tmp:
        platform_key = "pk_" + secrets.token_urlsafe(24)
        env = {
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "EVIDENCE_STORAGE_URL": f"file://{tmp}/evidence",
            "PLATFORM_API_KEY": platform_key,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DISPATCH_IN_PROCESS": "false",
            **UNLIMITED,
            "MAX_EVIDENCE_CASE_BYTES": str(10 * 1000**3),
            "LOG_LEVEL": "WARNING",
            "TMPDIR": tmp,  # the servers' spooled uploads land here and go with it
        }
        migrate = [PY, "-m", "app.cli", "migrate"]
        subprocess.run(migrate, cwd=ROOT, env={**os.environ, **env}, check=True, stderr=subprocess.DEVNULL)
        ours_server = serve("app.main:app", env, a.port)
        bare_server = serve("bench.ceiling:app", {"TMPDIR": tmp}, a.port + 1)
        try:
            base = f"http://127.0.0.1:{a.port}"
            case_id, seller = setup_case(base, {"Authorization": f"Bearer {platform_key}"})
            targets = [
                Target("ours", ours_server.pid, f"{base}/v1/chargebacks/{case_id}/evidence", seller, 201),
                Target("bare", bare_server.pid, f"http://127.0.0.1:{a.port + 1}/upload", {}, 200),
            ]
            with httpx.Client(timeout=120) as client:
                for target in targets:
                    rows.append(big_uploads(client, target, big, small, a.big))
                    print(json.dumps(rows[-1]), flush=True)
            for threads in [1, a.threads] if a.threads > 1 else [1]:
                for row in small_uploads(targets, small, a.requests, a.warmup, a.block, threads):
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            stop(ours_server)
            stop(bare_server)
    record("upload", rows)
    print(table(rows))


if __name__ == "__main__":
    main()
