"""Evidence storage behind one protocol: local files today, S3-compatible storage next.

Services write the file first, then the row; if the commit fails they delete the file, so a failed
request leaves no orphan. Keys are opaque and chosen by the caller (e.g. ``cb_…/ev_…``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

CHUNK = 1024 * 1024


class Storage(Protocol):
    def put(self, key: str, data: BinaryIO) -> int:
        """Store the stream under ``key`` (atomically: all or nothing); returns the bytes written."""

    def open(self, key: str) -> BinaryIO:
        """Open a stored object for reading; ``FileNotFoundError`` when it is missing."""

    def delete(self, key: str) -> None:
        """Remove an object; a missing one is not an error."""


class LocalStorage:
    """Files under a root directory, written to a temporary name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or path == self.root or self.root not in path.parents:
            raise ValueError(f"invalid storage key {key!r}")
        return path

    def put(self, key: str, data: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := data.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def storage_from_url(url: str) -> Storage:
    """``file://./var/evidence`` (relative to the working directory) or ``file:///abs/path``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path))
    raise ValueError(f"unsupported EVIDENCE_STORAGE_URL scheme {parsed.scheme!r} (S3 arrives with evidence)")
