from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.storage import LocalStorage, storage_from_url


class _Exploding(io.BytesIO):
    def read(self, _size: int | None = -1) -> bytes:
        if self.tell() > 0:
            raise OSError("client went away")
        return super().read(4)


def test_put_then_open_returns_the_same_bytes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert storage.put("cb_1/ev_1", io.BytesIO(b"%PDF-1.7 hello")) == 14
    with storage.open("cb_1/ev_1") as f:
        assert f.read() == b"%PDF-1.7 hello"


def test_failed_upload_leaves_no_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(OSError, match="went away"):
        storage.put("cb_1/ev_2", _Exploding(b"0123456789"))
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_delete_is_idempotent(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put("a/b", io.BytesIO(b"x"))
    storage.delete("a/b")
    storage.delete("a/b")
    with pytest.raises(FileNotFoundError):
        storage.open("a/b")


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/etc/passwd", ""])
def test_key_outside_root_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        LocalStorage(tmp_path / "root").put(key, io.BytesIO(b"x"))


def test_file_url_relative_and_absolute(tmp_path: Path) -> None:
    assert isinstance(storage_from_url(f"file://{tmp_path}"), LocalStorage)
    relative = storage_from_url("file://./var/evidence")
    assert isinstance(relative, LocalStorage)
    assert relative.root == (Path.cwd() / "var" / "evidence").resolve()


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        storage_from_url("ftp://example/evidence")
