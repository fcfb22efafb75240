"""CPU per request of the rate-limit middleware alone, in process: a bare ASGI app called directly,
then the same app behind ``RequestLimits`` (memory counters, then Redis when it answers).

The difference is what every limited request pays on top of its route: a GET by id, a list or a
write alike, since the middleware never reads the body. ``time.process_time()`` counts the event
loop and, for Redis, the counting thread; Redis's own CPU is not counted (it is another process).

    .venv/bin/python -m bench.rate_limits
    .venv/bin/python -m bench.rate_limits --requests 20000 --redis redis://127.0.0.1:6379/15
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import redis
from starlette.types import Message, Receive, Scope, Send

from app.core.config import Settings
from app.security.request_limits import RequestLimits

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


def _measure(name: str, app: object, requests: int, repeat: int) -> None:
    runs = [asyncio.run(_run(app, requests)) for _ in range(repeat + 1)][1:]  # the first warms up
    print(f"{name:<28} best {min(runs):7.1f} µs   median {statistics.median(runs):7.1f} µs per request")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = ap.parse_args()
    prefix = f"cbd-bench-{uuid.uuid4().hex[:8]}"
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
