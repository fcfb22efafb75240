"""Coarse rate limits per scope and key (an IP address, an identifier, a destination).

A moving window in memory (one process) or in Redis through ``limits`` (shared by every worker):
``hit`` counts one attempt and says how long to wait when the limit is reached. The rates below
follow the account security checklist (django-allauth's per-IP and per-target limits, NIST
800-63B §3.2.2); growing per-account delays after failed logins live with the account in the
database, not here.

Keys reach the storage only as keyed digests, so an email address or phone number is never
written to Redis in clear. A storage that cannot be reached is ``ServiceUnavailable``: a limit
that silently stops counting would let brute force through.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections import OrderedDict, deque
from functools import lru_cache

from anyio import CapacityLimiter, to_thread
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.domain.errors import ServiceUnavailable

LOGIN_PER_ADDRESS = "10/minute"
LOGIN_PER_IDENTIFIER = "20/hour"
CODE_SEND_PER_DESTINATION = "5/hour"
CODE_SEND_PER_ADDRESS = "20/hour"
RESET_PER_IDENTIFIER = "5/minute"
RESET_PER_ADDRESS = "20/minute"
# Reset codes tried per identifier, whichever code: new codes do not buy new guesses (checklist 13).
RESET_CONFIRM_PER_IDENTIFIER = "10/hour"
REGISTER_PER_ADDRESS = "10/hour"
PASSWORD_CHECK_PER_ACCOUNT = "10/hour"  # the current password, given to change a setting
BIND_PER_ACCOUNT = "10/hour"  # payment-account binds: too few to probe who holds which Alipay id

DEFAULT_KEY_PREFIX = "cbd-limits"
_SCOPE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_DIGEST_HEX = 32  # 128 bits: no two keys of a scope share a counter in practice


@lru_cache(maxsize=64)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


class MemoryWindows:
    """Moving windows in this process: each key's attempts in order, forgotten once out of their window.

    In place of ``limits``' MemoryStorage, whose timer thread walks every key a hundred times a
    second holding the GIL, so that a flood of logins from many addresses stalls the event loop.
    Here a hit costs the same at any number of keys: keys are kept in the order they were last
    hit, one queue per window length, and the stale ones are dropped from the front as hits come.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # hits come from the loop and from worker threads
        self._keys: dict[int, OrderedDict[str, deque[float]]] = {}

    def hit(self, key: str, amount: int, window: int, now: float) -> float:
        """Count an attempt at ``now``: 0.0 if allowed, else the instant one is allowed again."""
        horizon = now - window
        with self._lock:
            keys = self._keys.setdefault(window, OrderedDict())
            while keys:  # the least recently hit keys first: drop those with every attempt stale
                oldest = next(iter(keys.values()))
                if oldest and oldest[-1] > horizon:
                    break
                keys.popitem(last=False)
            attempts = keys.get(key)
            if attempts is None:
                attempts = keys[key] = deque()
            else:
                keys.move_to_end(key)
                while attempts and attempts[0] <= horizon:
                    attempts.popleft()
            if len(attempts) >= amount:
                return attempts[-amount] + window  # a refused attempt is not counted
            attempts.append(now)
            return 0.0

    def clear(self, key: str, window: int) -> None:
        with self._lock:
            if window in self._keys:
                self._keys[window].pop(key, None)

    def __len__(self) -> int:
        """Keys held: those hit within their window, and at most a few stale ones not yet reached."""
        return sum(len(keys) for keys in self._keys.values())


class RateLimiter:
    """Moving-window limits in the storage named by ``storage_url`` (``memory://``, ``redis://…``).

    ``hash_key`` (a key derived from ``SECRET_KEY``) keys the digests, so a copy of the storage
    cannot be matched against a list of emails or phone numbers; ``key_prefix`` keeps this
    service's Redis keys apart from others'.
    """

    def __init__(
        self, storage_url: str, *, hash_key: bytes = b"", key_prefix: str = DEFAULT_KEY_PREFIX
    ) -> None:
        self._hash_key = hash_key
        self._memory: MemoryWindows | None = None
        self._limiter: MovingWindowRateLimiter | None = None
        if storage_url.split("://", 1)[0] == "memory":
            # Counting in memory takes microseconds and may run on the loop; a Redis round trip may not.
            self._memory = MemoryWindows()
        else:
            storage = storage_from_string(storage_url, key_prefix=key_prefix, wrap_exceptions=True)
            self._limiter = MovingWindowRateLimiter(storage)
        self._threads = CapacityLimiter(32)

    def hit(self, scope: str, key: str, rate: str) -> int:
        """Count one attempt: 0 when allowed, else the whole seconds (≥ 1) until one is allowed again.

        A refused attempt is not counted, so retrying while refused does not push the wait back.
        """
        item, subject = _item(rate), self._subject(scope, key)
        if self._memory is not None:
            now = time.time()
            allowed_at = self._memory.hit(item.key_for(scope, subject), item.amount, item.get_expiry(), now)
            return max(1, math.ceil(allowed_at - now)) if allowed_at else 0
        assert self._limiter is not None
        try:
            if self._limiter.hit(item, scope, subject):
                return 0
            reset_time = self._limiter.get_window_stats(item, scope, subject).reset_time
        except StorageError as exc:
            raise _unavailable() from exc
        return max(1, math.ceil(reset_time - time.time()))

    async def hit_async(self, scope: str, key: str, rate: str) -> int:
        """``hit`` from the event loop: inline in memory, in a thread of the limiter's own for Redis."""
        if self._memory is not None:
            return self.hit(scope, key, rate)
        return await to_thread.run_sync(self.hit, scope, key, rate, limiter=self._threads)

    async def clear_async(self, scope: str, key: str, rate: str) -> None:
        """``clear`` from the event loop: inline in memory, in a thread of the limiter's own for Redis."""
        if self._memory is not None:
            self.clear(scope, key, rate)
        else:
            await to_thread.run_sync(self.clear, scope, key, rate, limiter=self._threads)

    def clear(self, scope: str, key: str, rate: str) -> None:
        """Forget the attempts counted for ``key`` under ``scope`` at ``rate``."""
        if self._memory is not None:
            item = _item(rate)
            self._memory.clear(item.key_for(scope, self._subject(scope, key)), item.get_expiry())
            return
        assert self._limiter is not None
        try:
            self._limiter.clear(_item(rate), scope, self._subject(scope, key))
        except StorageError as exc:
            raise _unavailable() from exc

    def _subject(self, scope: str, key: str) -> str:
        if not _SCOPE.fullmatch(scope):
            raise ValueError(f"scope must be a short lowercase name, not {scope!r}")
        message = f"{scope}|{key}".encode("utf-8", "surrogatepass")
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()[:_DIGEST_HEX]


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("Rate limits cannot be checked right now; try again shortly.")
