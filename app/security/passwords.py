"""Password hashing: Argon2id with a named cost profile, off the event loop in a bounded pool.

Profiles (OWASP Password Storage Cheat Sheet; RFC 9106 §4): ``owasp`` is the cheat sheet's
minimum (m=19 MiB, t=2, p=1) and the default; ``rfc9106`` is the RFC's second recommended
option (m=64 MiB, t=3, p=4); ``test`` is the cheapest Argon2 accepts, for test suites only. Every
profile uses a 16-byte salt and a 32-byte tag. The parameters travel in the PHC string, so hashes
made under an older profile still verify and ``needs_rehash`` says when to replace them.

Callers pass the password already NFKC-normalised (the password policy's job); the text is
hashed as UTF-8 as given, never truncated or case-folded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

from argon2 import Parameters, Type
from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import VerificationError

DEFAULT_PROFILE = "owasp"
# At most this many hashes at once per process, one core short of the machine's: more only make
# the event loop wait for a core, and each holds its profile's memory.
DEFAULT_CONCURRENCY = max(1, (os.cpu_count() or 2) - 1)


def _argon2id(time_cost: int, memory_cost: int, parallelism: int) -> Parameters:
    return Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
    )


PROFILES: Mapping[str, Parameters] = MappingProxyType(
    {
        "owasp": _argon2id(time_cost=2, memory_cost=19_456, parallelism=1),
        "rfc9106": _argon2id(time_cost=3, memory_cost=65_536, parallelism=4),
        # Argon2 needs 8 KiB per lane; anything cheaper is refused by the library.
        "test": _argon2id(time_cost=1, memory_cost=8, parallelism=1),
    }
)


def _utf8(password: str) -> bytes:
    # A lone surrogate (valid in JSON) must hash, not raise, so it cannot turn a login into a 500.
    return password.encode("utf-8", "surrogatepass")


def _yield_priority() -> None:
    # SCHED_IDLE: a woken request handler preempts a hash at once, where a mere nice value lets the
    # hash finish its time slice first. Elsewhere, a lower priority; failing both, normal priority.
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class PasswordHasher:
    """Hash and verify passwords under one profile, in a bounded pool of threads of its own."""

    def __init__(self, profile: str = DEFAULT_PROFILE, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown password hash profile {profile!r}; choose one of {sorted(PROFILES)}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.profile = profile
        self.parameters = PROFILES[profile]
        self._argon2 = _Argon2.from_parameters(self.parameters)
        # Hashes run on threads of their own, at the lowest priority, so the event loop comes first.
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="argon2", initializer=_yield_priority)
        # Same parameters as real hashes, so checking it costs what a real check costs.
        self._dummy = self._argon2.hash(secrets.token_bytes(32))

    def hash(self, password: str) -> str:
        """The PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$tag``) of ``password``, freshly salted."""
        return self._pool.submit(self._argon2.hash, _utf8(password)).result()

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches ``stored``; False for a mismatch and for any malformed hash."""
        return self._pool.submit(self._matches, stored, _utf8(password)).result()

    def _matches(self, stored: str, password: bytes) -> bool:
        try:
            return self._argon2.verify(stored, password)
        except (VerificationError, ValueError):
            # ValueError covers InvalidHashError and a stored value that is not even ASCII.
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than this profile's (or cannot be read)."""
        try:
            return self._argon2.check_needs_rehash(stored)
        except ValueError:
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend a real verification's time for an unknown identifier, so timing does not tell."""
        self.verify(self._dummy, password)

    # The async methods await the hasher's own threads from the loop, so no worker thread sits
    # blocked on the result; past ``concurrency`` hashes they wait in the pool's queue, as above.

    async def hash_async(self, password: str) -> str:
        return await asyncio.wrap_future(self._pool.submit(self._argon2.hash, _utf8(password)))

    async def verify_async(self, stored: str, password: str) -> bool:
        return await asyncio.wrap_future(self._pool.submit(self._matches, stored, _utf8(password)))

    async def verify_dummy_async(self, password: str) -> None:
        await self.verify_async(self._dummy, password)
