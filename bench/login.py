"""Logins per second under Argon2id, and what they do to a cheap endpoint's latency (see bench/README.md).

.venv/bin/python -m bench.login

The app on a fresh SQLite database per password profile (``--profile``, ``owasp`` by default), one
uvicorn worker on ``--cpus`` (repeatable: ``0`` pins it to CPU 0 as ``bench/run.py`` does, ``0,1``
lets the hashing threads use both cores), with uvicorn taking the client address from
``X-Forwarded-For`` (sent from 127.0.0.1). ``--accounts`` active accounts are written straight to the
database (one Argon2id hash of the measured profile shared by all: a verification costs the same).
wrk on CPU 1 logs in with ``--connections`` connections (``bench/lua/login.lua``: email, member id and
phone in turn, always the right password, every request from a new forwarded address so the
per-address limit never answers 429). This process, also on CPU 1, is the probe: ``--probe-rate``
requests a second to each of ``GET /healthz`` and ``GET /v1/chargebacks/{id}`` (a seller's key), one
at a time on one keep-alive connection, for ``--seconds``: alone, then while another process on the
server's CPUs verifies passwords back to back on the app's hasher (as many at once and at the same
priority as the app's; the machine's own share of the tail, with no login handled), then while wrk
logs in, ``--rounds`` times in turn; each endpoint's p50 and p99 are over every round's samples
pooled, and each round's p99 ratio is shown too. Latency is from sending a request to reading its answer.

Prints a markdown table and appends JSON lines to bench/results/results.jsonl (``"bench": "login"``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import cast

from sqlalchemy import create_engine
from sqlmodel import Session

from app.core.clock import utcnow
from app.core.ids import new_id
from app.models.account import Account
from app.security.passwords import PasswordHasher
from bench.run import LUA, PY, ROOT, UNLIMITED, record, serve, stop, wrk_output
from bench.upload import setup_case

PASSWORD = "bench horse battery staple"  # every bench account's
FORWARDED = ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]
ADDRESSES_PER_RUN = 1_000_000  # forwarded addresses each wrk run may use (10.x.y.z counts up)
Row = dict[str, object]


def create_accounts(url: str, count: int, profile: str, path: Path) -> None:
    """``count`` active accounts; their identifiers (email, member id, phone in turn) go to ``path``."""
    password_hash = PasswordHasher(profile).hash(PASSWORD)
    now = utcnow()
    identifiers = []
    engine = create_engine(url)
    with Session(engine) as session:
        for i in range(count):
            email = f"buyer{i:04d}@bench-shop.example"
            account = Account(
                id=new_id("acct"),
                member_id=f"M{1_000_000_000 + i}",
                email=email,
                email_key=email.casefold(),
                phone=f"+4915100{i:06d}",
                country="DE",
                password_hash=password_hash,
                status="active",
                terms_version="2026-11",
                terms_accepted_at=now,
                activated_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(account)
            identifiers.append((email, account.member_id, account.phone)[i % 3])
        session.commit()
    engine.dispose()
    path.write_text("\n".join(str(x) for x in identifiers) + "\n")


def login_load(
    base: str, identifiers: Path, run: int, seconds: int, connections: int
) -> subprocess.Popen[str]:
    args = [str(identifiers), PASSWORD, str(run * ADDRESSES_PER_RUN)]
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += ["--timeout=30s", "-s", str(LUA / "login.lua"), f"{base}/v1/auth/login", "--", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def hash_alone(profile: str, seconds: float) -> None:
    """Verify passwords back to back for ``seconds`` on the app's own hasher (its threads, its priority):
    the machine's share of the tail that no request handling of the app's is part of."""
    hasher = PasswordHasher(profile)
    stored = hasher.hash(PASSWORD)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hasher.verify(stored, PASSWORD)


def hash_load(profile: str, cpus: str, seconds: int) -> subprocess.Popen[str]:
    code = f"from bench.login import hash_alone; hash_alone({profile!r}, {seconds})"
    cmd = ["taskset", "-c", cpus, PY, "-c", code]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe(port: int, targets: list[tuple[str, str, dict[str, str]]], rate: float, seconds: float) -> Row:
    """Each target ``rate`` times a second in turn, one request at a time; latencies in ms by target."""
    interval = 1.0 / (rate * len(targets))
    latencies: dict[str, list[float]] = {name: [] for name, _, _ in targets}
    late = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.perf_counter()
    for i in range(int(seconds / interval)):
        wait = start + i * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        else:
            late += 1
        name, path, headers = targets[i % len(targets)]
        sent = time.perf_counter()
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        latencies[name].append((time.perf_counter() - sent) * 1000)
        if answer.status != 200:
            raise SystemExit(f"probe {path}: {answer.status}")
    conn.close()
    return {"late": late, **latencies}


def samples(passes: list[Row], name: str) -> list[float]:
    """The latencies of ``name`` in every pass, pooled."""
    return [ms for p in passes for ms in cast(list[float], p[name])]


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p99_ms": statistics.quantiles(ms, n=100)[98]}


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User and system CPU of the process so far, its threads included; or of one ``thread`` alone."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    a: argparse.Namespace,
    profile: str,
    cpus: str,
    pid: int,
    base: str,
    identifiers: Path,
    targets: list[tuple[str, str, dict[str, str]]],
    first_run: int,
) -> list[Row]:
    common: Row = {"profile": profile, "server_cpus": cpus, "connections": a.connections, "server_env": a.env}
    warm = login_load(base, identifiers, first_run, 2, a.connections)
    probe(a.port, targets, a.probe_rate, 1)
    warm.communicate()
    alone: list[Row] = []
    hashing: list[Row] = []
    loaded: list[Row] = []
    logins: list[dict[str, float]] = []
    cores: list[float] = []
    loop_cores: list[float] = []  # the main thread's: the event loop's own work, no hashing
    # Passes alone and under logins alternate, so a change in the machine's other load falls on both.
    for r in range(a.rounds):
        alone.append(probe(a.port, targets, a.probe_rate, a.seconds))
        # The reference: as many hashes at once as the app runs, in another process, no logins.
        hasher = hash_load(profile, cpus, a.seconds + 2)
        time.sleep(1)
        hashing.append(probe(a.port, targets, a.probe_rate, a.seconds))
        _, err = hasher.communicate()
        if hasher.returncode:
            raise SystemExit(f"hashing alone: {err}")
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        loop_before = cpu_seconds(pid, pid)
        load = login_load(base, identifiers, first_run + 1 + r, a.seconds + 2, a.connections)
        time.sleep(1)
        loaded.append(probe(a.port, targets, a.probe_rate, a.seconds))
        out, err = load.communicate()
        elapsed = time.perf_counter() - started
        cores.append((cpu_seconds(pid) - cpu_before) / elapsed)
        loop_cores.append((cpu_seconds(pid, pid) - loop_before) / elapsed)
        if load.returncode:
            raise SystemExit(f"wrk: {err}")
        logins.append(wrk_output(out))
    rows: list[Row] = [
        {
            "case": "logins",
            **common,
            "rounds": a.rounds,
            **{k: statistics.median(run[k] for run in logins) for k in ("rps", "p50_ms", "p99_ms")},
            "errors": sum(run["errors"] for run in logins),
            "rps_rounds": [run["rps"] for run in logins],
            "server_cores": round(statistics.median(cores), 2),
            "loop_cores": round(statistics.median(loop_cores), 3),
        }
    ]
    for name, _, _ in targets:
        # Every round's samples pooled: the p99 of a few thousand, not of one pass's few hundred.
        before, during = summary(samples(alone, name)), summary(samples(loaded, name))
        hashed = summary(samples(hashing, name))
        rounds = [
            summary(samples([d], name))["p99_ms"] / summary(samples([b], name))["p99_ms"]
            for b, d in zip(alone, loaded, strict=True)
        ]
        rows.append(
            {
                "case": f"probe {name}",
                **common,
                "probe_rate": a.probe_rate,
                "rounds": a.rounds,
                **{f"alone_{k}": v for k, v in before.items()},
                **{f"loaded_{k}": v for k, v in during.items()},
                **{f"hashing_{k}": v for k, v in hashed.items()},
                "late_alone": sum(cast(int, p["late"]) for p in alone),
                "late_loaded": sum(cast(int, p["late"]) for p in loaded),
                "p99_ratio": during["p99_ms"] / before["p99_ms"],
                "p99_ratio_hashing_alone": hashed["p99_ms"] / before["p99_ms"],
                "p99_ratio_rounds": [round(x, 2) for x in rounds],
            }
        )
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def run_profile(a: argparse.Namespace, profile: str, tmp: Path) -> list[Row]:
    platform_key = "pk_" + secrets.token_urlsafe(24)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp}/{profile}.db",
        "PASSWORD_HASH_PROFILE": profile,
        "PLATFORM_API_KEY": platform_key,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DISPATCH_IN_PROCESS": "false",
        **UNLIMITED,
        "LOG_LEVEL": "WARNING",
        **dict(item.split("=", 1) for item in a.env),
    }
    migrate = [PY, "-m", "app.cli", "migrate"]
    subprocess.run(migrate, cwd=ROOT, env={**os.environ, **env}, check=True, stderr=subprocess.DEVNULL)
    identifiers = tmp / f"{profile}-identifiers.txt"
    create_accounts(env["DATABASE_URL"], a.accounts, profile, identifiers)
    base = f"http://127.0.0.1:{a.port}"
    case_id, seller = "", dict[str, str]()
    rows: list[Row] = []
    for n, cpus in enumerate(a.cpus):
        server = serve("app.main:app", env, a.port, cpus=cpus, flags=FORWARDED)
        try:
            if not case_id:
                case_id, seller = setup_case(base, {"Authorization": f"Bearer {platform_key}"})
            targets = [
                ("/healthz", "/healthz", {}),
                ("GET chargeback by id", f"/v1/chargebacks/{case_id}", seller),
            ]
            rows += measure(a, profile, cpus, server.pid, base, identifiers, targets, n * (a.rounds + 1))
        finally:
            stop(server)
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| profile | server CPUs | logins/s | login p50 / p99 ms | server cores busy | loop CPU ms a login "
        "| endpoint "
        "| p50 / p99 ms alone | p50 / p99 ms, hashing alone (ratio) | p50 / p99 ms with logins | p99 ratio "
        "| p99 ratio by round |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    logins = {(r["profile"], r["server_cpus"]): r for r in rows if r["case"] == "logins"}
    for r in rows:
        if r["case"] == "logins":
            continue
        w = logins[(r["profile"], r["server_cpus"])]
        lines.append(
            f"| {r['profile']} | {r['server_cpus']} | {w['rps']:.1f} | {w['p50_ms']:.0f} / {w['p99_ms']:.0f} "
            f"| {w['server_cores']:.2f} | {cast(float, w['loop_cores']) * 1000 / cast(float, w['rps']):.2f} "
            f"| {str(r['case']).removeprefix('probe ')} "
            f"| {r['alone_p50_ms']:.2f} / {r['alone_p99_ms']:.2f} "
            f"| {r['hashing_p50_ms']:.2f} / {r['hashing_p99_ms']:.2f} ({r['p99_ratio_hashing_alone']:.2f}) "
            f"| {r['loaded_p50_ms']:.2f} / {r['loaded_p99_ms']:.2f} | {r['p99_ratio']:.2f} "
            f"| {', '.join(f'{x:.2f}' for x in cast(list[float], r['p99_ratio_rounds']))} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", action="append", choices=["owasp", "rfc9106"], help="default: owasp")
    ap.add_argument("--cpus", action="append", help="the server's taskset CPU list; default: 0")
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--connections", type=int, default=12, help="wrk's, logging in")
    ap.add_argument("--seconds", type=int, default=10, help="each probe pass (wrk runs 2 s longer)")
    ap.add_argument("--rounds", type=int, default=3, help="pairs of probe passes, alone then with logins")
    ap.add_argument("--probe-rate", type=float, default=50, help="requests a second to each probed endpoint")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    ap.add_argument("--port", type=int, default=8765)
    a = ap.parse_args()
    a.profile, a.cpus = a.profile or ["owasp"], a.cpus or ["0"]
    os.sched_setaffinity(0, {1})  # the probe shares CPU 1 with wrk
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cbd-login-bench-") as tmp:
        for profile in a.profile:
            rows += run_profile(a, profile, Path(tmp))
    record("login", rows)
    print(table(rows))


if __name__ == "__main__":
    main()
