"""Evidence as files under one root directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from app.storage.base import CHUNK, UPLOAD_PREFIX, StoredObject, check_key


class LocalStorage:
    """Files under a root directory, written to a temporary name and renamed into place.

    ``list`` hides the temporary ``.upload-*`` files of uploads in progress, but shows those older
    than ``upload_grace`` (a crashed upload's leftovers) under their own key, so the orphan sweep
    deletes them like any other object no row refers to. Empty directories are left in place: a
    concurrent ``put`` may be about to write into one.
    """

    def __init__(self, root: Path, *, upload_grace: timedelta = timedelta(hours=1)) -> None:
        self.root = root.resolve()
        self.upload_grace = upload_grace

    def _path(self, key: str, *, upload_ok: bool = False) -> Path:
        check_key(key, upload_ok=upload_ok)
        path = (self.root / key).resolve()
        # A symlink inside the root must not lead out of it.
        if self.root not in path.parents:
            raise ValueError(f"invalid storage key {key!r}: it leads outside the storage root")
        return path

    def put(self, key: str, data: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=UPLOAD_PREFIX)
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
        _fsync_dir(path.parent)
        return written

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except IsADirectoryError:
            raise FileNotFoundError(key) from None

    def delete(self, key: str) -> None:
        path = self._path(key, upload_ok=True)
        if not path.is_dir():
            path.unlink(missing_ok=True)

    def size(self, key: str) -> int:
        path = self._path(key, upload_ok=True)
        if path.is_dir():
            raise FileNotFoundError(key)
        return path.stat().st_size

    def list(self, prefix: str) -> Iterator[StoredObject]:
        check_key(prefix, prefix=True)
        cutoff = datetime.now(UTC) - self.upload_grace
        return self._walk(self.root, "", prefix, cutoff)

    def _walk(self, directory: Path, rel: str, prefix: str, cutoff: datetime) -> Iterator[StoredObject]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            key = f"{rel}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                # Descend only where keys can still start with the prefix.
                if prefix.startswith(key + "/") or (key + "/").startswith(prefix):
                    yield from self._walk(Path(entry.path), key + "/", prefix, cutoff)
                continue
            if not key.startswith(prefix) or not entry.is_file(follow_symlinks=False):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # deleted, or an upload renamed into place, while we walked
                continue
            modified_at = datetime.fromtimestamp(stat.st_mtime, UTC)
            if entry.name.startswith(UPLOAD_PREFIX) and modified_at > cutoff:
                continue
            yield StoredObject(key=key, size=stat.st_size, modified_at=modified_at)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
