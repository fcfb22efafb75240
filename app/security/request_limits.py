"""Rate limits on every API request, per credential and per client address, with the IETF headers.

One plain ASGI middleware, before routing and before the credential is looked up: a flood is
refused without a database query, and guessing keys from one address stops at the address limit.
A credential counts as presented (a keyed digest of the bearer token, never the token itself), so
this layer never checks it; the route does, once. The platform key is recognised here (a constant-
time comparison, no I/O) and counts only against its own, larger quota.

Fixed windows, each starting at a client's first request: one counter per policy, so the cost stays
the same at any quota, and the reset time in the headers is exact. Across a window's edge a client
may pass up to twice its quota, acceptable for traffic control; the login limits, which guard
secrets, use moving windows (``RateLimiter``).

Every answer a limit applies to carries ``RateLimit-Policy`` and ``RateLimit``
(draft-ietf-httpapi-ratelimit-headers, structured-field lists); a refusal is a 429 ``rate_limited``
problem with ``Retry-After``. When the counter storage cannot be reached the request goes through
(a logged warning, no headers): an outage of the counters must not become an outage of the API,
while the login and code paths, which guard secrets, keep failing closed (``RateLimiter``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from anyio import CapacityLimiter, to_thread
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import problem_response
from app.security.tokens import derive_key

# Probes and the documentation: never limited (an orchestrator's probe must not be refused).
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/redoc", "/openapi.json"})
EXEMPT_PREFIXES = ("/docs-static/",)
# As documented on every limited operation (the OpenAPI ``headers`` of its responses).
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "schema": {"type": "string"},
        "description": 'The quotas this request counts against, e.g. `"per-key";q=600;w=60`.',
    },
    "RateLimit": {
        "schema": {"type": "string"},
        "description": "What is left of each quota and the seconds until its window resets, "
        'e.g. `"per-key";r=599;t=42`.',
    },
}
_WARN_EVERY_SECONDS = 60.0
_ADDRESSES_KEPT = 4096  # digests of client addresses remembered (forgotten all at once when full)
_STORE_TIMEOUT = 0.5  # seconds
_SWEEP_SECONDS = 60.0
_DIGEST_BYTES = 16  # 128 bits: no two clients share a counter in practice
log = logging.getLogger("chargeback_desk.rate_limits")


@dataclass(frozen=True, slots=True)
class Policy:
    """One quota: its name in the headers, its ``limits`` item, its ``RateLimit-Policy`` entry, and
    the start of its counters' keys (the quota is in it, so a new quota starts new counters)."""

    name: str
    item: RateLimitItem
    header: str
    key_head: str
    amount: int
    window: int  # seconds


def policy(name: str, rate: str) -> Policy:
    item = parse(rate)
    window = item.get_expiry()
    head = f"{name}/{item.amount}/{window}/"
    return Policy(name, item, f'"{name}";q={item.amount};w={window}', head, item.amount, window)


class Count(NamedTuple):  # a tuple: built twice a request, where a frozen dataclass costs more
    policy: Policy
    allowed: bool
    remaining: int
    reset: int  # whole seconds until the window has room again

    @property
    def header(self) -> str:
        return f'"{self.policy.name}";r={self.remaining};t={self.reset}'


class Counters(Protocol):
    """A store of fixed-window counters: one hit gives the count and when the window ends."""

    def hit(self, key: str, window: int) -> tuple[int, float]: ...


class StoredCounters:
    """``limits``' storages (Redis) as counters: their own increment, then the counter's expiry."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def hit(self, key: str, window: int) -> tuple[int, float]:
        used = self._storage.incr(key, window)
        return used, self._storage.get_expiry(key)


class LocalCounters:
    """Fixed-window counters of this process (``memory://``): a dict, expired lazily, used only from
    the event loop's thread."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._sweep_at = 0.0

    def hit(self, key: str, window: int) -> tuple[int, float]:
        now = time.time()
        if now >= self._sweep_at:  # forget ended windows now and then, so the dict stays small
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            self._sweep_at = now + _SWEEP_SECONDS
        used, ends = self._counts.get(key, (0, 0.0))
        if ends <= now:
            used, ends = 0, now + window
        self._counts[key] = found = (used + 1, ends)
        return found


class RequestLimits:
    """Count each request against the policies that apply to it; answer 429 over any of them."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
        self._hash_key = derive_key(secret, "request-limits")
        platform_key = settings.platform_api_key.get_secret_value() if settings.platform_api_key else None
        # Compared by keyed digest: the token's digest is needed anyway, as its counter's key.
        self._platform = self._digest("key", platform_key) if platform_key else None
        self.per_key = policy("per-key", settings.rate_limit_per_key)
        self.per_address = policy("per-address", settings.rate_limit_per_address)
        self.platform = policy("platform", settings.rate_limit_per_platform_key)
        url = settings.rate_limit_storage_url
        self._storage: Counters
        self._threads: CapacityLimiter | None = None
        if url.split("://", 1)[0] == "memory":
            # Counted on the loop, not in ``limits``' MemoryStorage, whose expiry timer thread costs CPU.
            self._storage = LocalCounters()
        else:
            # A Redis that stops answering must fail fast (then open), not hold every request.
            timeouts = {"socket_timeout": _STORE_TIMEOUT, "socket_connect_timeout": _STORE_TIMEOUT}
            storage = storage_from_string(
                url, key_prefix=settings.rate_limit_key_prefix, wrap_exceptions=True, **timeouts
            )
            if not isinstance(storage, Storage):  # an ``async+…`` URL: these limits count synchronously
                raise ValueError(
                    "RATE_LIMIT_STORAGE_URL must name a synchronous storage (memory://, redis://)"
                )
            self._storage = StoredCounters(storage)
            # Counted in a thread of its own pool: a slow Redis never stalls the loop nor takes a
            # handler's thread.
            self._threads = CapacityLimiter(32)
        self._warned_at = -math.inf
        self._addresses: dict[str, str] = {}
        self._policy_headers: dict[tuple[str, ...], bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        checks = self._checks(scope)
        if self._threads is None:
            counts = self._count(checks)
        else:
            counts = await to_thread.run_sync(self._count, checks, limiter=self._threads)
        if not counts:
            await self.app(scope, receive, send)
            return
        headers = [
            (b"ratelimit-policy", self._policy_header(counts)),
            (b"ratelimit", ", ".join([c.header for c in counts]).encode()),
        ]
        refused = next((c for c in counts if not c.allowed), None)
        if refused is not None:
            response = problem_response(
                Request(scope),
                429,
                "rate_limited",
                "Too many requests",
                f"Over the {refused.policy.name} limit of {refused.policy.amount} requests per "
                f"{refused.policy.window} s; retry after {refused.reset} s.",
                headers={"Retry-After": str(refused.reset)},
            )
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    def _checks(self, scope: Scope) -> list[tuple[Policy, str]]:
        """The policies this request counts against, each with its storage key."""
        token = _bearer(scope)
        token_digest = self._digest("key", token) if token else None
        if token_digest is not None and self._platform and hmac.compare_digest(token_digest, self._platform):
            return [(self.platform, "platform")]
        client = scope.get("client")
        address = client[0] if client else "unknown"
        address_digest = self._addresses.get(address)
        if address_digest is None:  # a client sends many requests from one address: digest it once
            if len(self._addresses) >= _ADDRESSES_KEPT:
                self._addresses.clear()
            address_digest = self._addresses[address] = self._digest("address", address)
        checks = [(self.per_address, address_digest)]
        if token_digest is not None:
            checks.append((self.per_key, token_digest))
        return checks

    def _policy_header(self, counts: list[Count]) -> bytes:
        """``RateLimit-Policy`` for the counted policies: one of a few lists, each built once."""
        names = tuple(c.policy.name for c in counts)
        found = self._policy_headers.get(names)
        if found is None:
            found = self._policy_headers[names] = ", ".join(c.policy.header for c in counts).encode()
        return found

    def _digest(self, kind: str, value: str) -> str:
        """A keyed BLAKE2b digest (a MAC): the storage never sees a token or an address."""
        message = f"{kind}|{value}".encode("utf-8", "surrogatepass")
        return hashlib.blake2b(message, key=self._hash_key, digest_size=_DIGEST_BYTES).hexdigest()

    def _count(self, checks: list[tuple[Policy, str]]) -> list[Count]:
        """One hit per policy, in order, stopping at the first refusal; [] when the storage is down.

        A fixed window is a counter that expires: the storage's own increment gives the count and
        its expiry the reset, two calls a policy (the strategy's ``hit`` and ``get_window_stats``
        would read the counter a second time).
        """
        counts: list[Count] = []
        try:
            for policy, key in checks:
                used, ends = self._storage.hit(policy.key_head + key, policy.window)
                allowed = used <= policy.amount
                # The counter lasts until its very edge: one second past it is the honest wait.
                wait = max(0, int(ends - time.time())) + 1
                reset = wait if not allowed else min(wait, policy.window)
                counts.append(Count(policy, allowed, max(0, policy.amount - used), reset))
                if not allowed:
                    break
        except StorageError as exc:
            self._warn(exc)
            return []
        return counts

    def _warn(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:  # one line a minute, not one per request
            self._warned_at = now
            log.warning(
                "rate-limit storage unreachable, requests pass unlimited: %s",
                type(exc.storage_error).__name__,
            )


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None
