"""Opaque, time-ordered identifiers with a type prefix (``cb_01J…``)."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_CHARS = frozenset(_ALPHABET)
_lock = threading.Lock()
_last = 0


def new_id(prefix: str) -> str:
    """A ULID-shaped id: 48 bits of milliseconds then 80 random bits, so ids sort by creation time.

    Monotonic within the process (as ULID's monotonic mode): ids made in the same millisecond still
    sort in the order they were made, so rows written at one instant (two events of one transaction)
    keep their order when sorted by (time, id).
    """
    global _last
    fresh = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    with _lock:
        value = _last = max(fresh, _last + 1)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def has_prefix(value: str, prefix: str) -> bool:
    """True when ``value`` looks like an id of this type (cheap shape check before a query)."""
    body = value[len(prefix) + 1 :]
    return value.startswith(prefix + "_") and len(body) == 26 and _CHARS.issuperset(body)
