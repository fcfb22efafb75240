"""CPU per request of the rate-limit middleware, in process, two ways.

1. Alone: a bare ASGI app called directly, then the same app behind ``RequestLimits`` (memory
   counters, then Redis when it answers). The difference is what every limited request pays on top
   of its route, since the middleware never reads the body.
2. In the app: ``GET /v1/orders/{id}`` with a seller key on a fresh SQLite database, the app from
   ``create_app`` with its middleware and the same app without ``RequestLimits`` (its
   ``user_middleware`` filtered before the first request), alternated five times.

``time.process_time()`` counts every thread of this process (the event loop, the counting thread for
Redis); Redis's own CPU is not counted (it is another process).

    .venv/bin/python -m bench.rate_limits
    .venv/bin/python -m bench.rate_limits --requests 20000 --redis redis://127.0.0.1:6379/15
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from typing import Any

import redis
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from app.core.config import Settings
from app.main import create_app
from app.security.request_limits import RequestLimits
from bench.cpu_per_request import migrate

KEY = "sk_bench_0123456789abcdefghijklmnopqrstuvwxyz"


async def bare(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _scope() -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/v1/chargebacks/cb_01jd2x3y4z5a6b7c8d9e0f1g2h",
        "headers": [(b"authorization", f"Bearer {KEY}".encode()), (b"host", b"bench")],
        "client": ("203.0.113.7", 40000),
        "query_string": b"",
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_message: Message) -> None:
    return None


async def _run(app: object, requests: int) -> float:
    call = app  # an ASGI app
    started = time.process_time()
    for _ in range(requests):
        await call(_scope(), _receive, _send)  # type: ignore[operator]
    return (time.process_time() - started) / requests * 1e6


def _limits(storage_url: str, prefix: str) -> RequestLimits:
    settings = Settings(
        _env_file=None,
        secret_key="bench-secret-key-0123456789",
        platform_api_key="pk_bench_platform",
        rate_limit_storage_url=storage_url,
        rate_limit_key_prefix=prefix,
        # Never reached: the bench measures counting, not refusing.
        rate_limit_per_key="100000000/minute",
        rate_limit_per_address="100000000/minute",
    )
    return RequestLimits(bare, settings)


def _report(name: str, runs: list[float]) -> None:
    print(f"{name:<28} best {min(runs):7.1f} µs   median {statistics.median(runs):7.1f} µs per request")


def _measure(name: str, app: object, requests: int, repeat: int) -> None:
    _report(name, [asyncio.run(_run(app, requests)) for _ in range(repeat + 1)][1:])  # the first warms up


def _in_app(requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cbd-limits-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        platform = "pk_bench_platform_key_0123456789"
        settings = Settings(
            _env_file=None,
            database_url=url,
            platform_api_key=platform,
            secret_key="bench-secret-key-0123456789",
            dispatch_in_process=False,
            log_level="WARNING",
            rate_limit_per_key="1000000000/minute",
            rate_limit_per_address="1000000000/minute",
        )
        limited, bare_app = create_app(settings), create_app(settings)
        kept = [
            m for m in bare_app.user_middleware if getattr(m.cls, "__name__", "") != RequestLimits.__name__
        ]
        bare_app.user_middleware = kept
        client, head = TestClient(limited), {"Authorization": f"Bearer {platform}"}
        seller = client.post(
            "/v1/sellers", json={"name": "B", "email": "b@b.example", "country": "DE"}, headers=head
        )
        sid = seller.json()["id"]
        key = client.post(f"/v1/sellers/{sid}/api-keys", json={"name": "k"}, headers=head).json()["key"]
        body = {"seller_id": sid, "amount_minor": 100, "currency": "EUR"}
        order = client.post("/v1/orders", json=body, headers=head).json()["id"]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/v1/orders/{order}",
            "raw_path": f"/v1/orders/{order}".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
        }

        async def run(app: Any, n: int) -> float:
            started = time.process_time()
            for _ in range(n):
                await app(dict(scope), _receive, _send)
            return (time.process_time() - started) / n * 1e6

        async def alternate() -> dict[str, list[float]]:
            await run(limited, 200)
            await run(bare_app, 200)
            runs: dict[str, list[float]] = {"GET order, with limits": [], "GET order, without": []}
            for _ in range(5):
                runs["GET order, with limits"].append(await run(limited, requests // 10))
                runs["GET order, without"].append(await run(bare_app, requests // 10))
            return runs

        try:
            for name, runs in asyncio.run(alternate()).items():
                _report(name, runs)
        finally:
            limited.state.db.close()
            bare_app.state.db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = ap.parse_args()
    prefix = f"cbd-bench-{uuid.uuid4().hex[:8]}"
    _in_app(args.requests)
    _measure("bare ASGI app", bare, args.requests, args.repeat)
    _measure("+ limits, memory://", _limits("memory://", prefix), args.requests, args.repeat)
    client = redis.Redis.from_url(args.redis)
    try:
        client.ping()
    except redis.RedisError:
        print(f"+ limits, redis: skipped ({args.redis} unreachable)")
        return
    try:
        _measure("+ limits, redis (CPU here)", _limits(args.redis, prefix), args.requests // 4, args.repeat)
        started = time.perf_counter()
        asyncio.run(_run(_limits(args.redis, prefix), args.requests // 4))
        wall = (time.perf_counter() - started) / (args.requests // 4) * 1e6
        print(f"{'+ limits, redis (wall)':<28} {wall:7.1f} µs per request, one at a time")
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    main()
