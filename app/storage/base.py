"""The storage protocol, the listing record and the one rule for what a key may look like."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
# The temporary names LocalStorage writes to; no caller may choose a key that looks like one.
UPLOAD_PREFIX = ".upload-"
MAX_KEY_BYTES = 1024  # S3's own limit, applied to every backend so keys stay portable


@dataclass(frozen=True)
class StoredObject:
    """One stored object as a listing sees it; ``modified_at`` is timezone-aware UTC."""

    key: str
    size: int
    modified_at: datetime


class Storage(Protocol):
    def put(self, key: str, data: BinaryIO) -> int:
        """Store the stream under ``key`` (atomically: all or nothing); returns the bytes written."""

    def open(self, key: str) -> BinaryIO:
        """Open a stored object for streamed reading; ``FileNotFoundError`` when it is missing."""

    def delete(self, key: str) -> None:
        """Remove an object; a missing one is not an error."""

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with ``prefix`` (``""`` for all), in no promised order."""

    def size(self, key: str) -> int:
        """The stored object's size in bytes; ``FileNotFoundError`` when it is missing."""


def check_key(key: str, *, prefix: bool = False, upload_ok: bool = False) -> str:
    """Refuse a key (or, with ``prefix``, a listing prefix) that could escape or confuse a backend.

    A key is ``/``-separated segments; none may be empty, ``.`` or ``..``, nor start with
    ``.upload-`` (LocalStorage's temporary names; ``upload_ok`` lets the sweep delete stale ones).
    No absolute keys, backslashes, NUL or other control characters. A prefix may be empty and may
    end with ``/`` or in the middle of a segment.
    """
    if prefix and key == "":
        return key
    segments = key.split("/")
    if prefix and key.endswith("/"):
        segments.pop()
    problem = None
    if not key:
        problem = "it is empty"
    elif len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        problem = f"it is longer than {MAX_KEY_BYTES} bytes"
    elif key.startswith("/"):
        problem = "it is absolute"
    elif any(c == "\\" or unicodedata.category(c) in ("Cc", "Cs") for c in key):
        problem = "it holds a backslash or a control character"
    elif any(s in ("", ".", "..") for s in segments):
        problem = "it has an empty, '.' or '..' segment"
    elif not upload_ok and any(s.startswith(UPLOAD_PREFIX) for s in segments):
        problem = f"its names starting with {UPLOAD_PREFIX!r} are reserved for uploads in progress"
    if problem:
        raise ValueError(f"invalid storage key {key!r}: {problem}")
    return key
