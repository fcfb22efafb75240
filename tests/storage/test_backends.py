"""One contract, both backends: what services and the orphan sweep may rely on from any Storage."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.storage import LocalStorage, S3Storage, Storage, storage_from_url

MIB = 1024 * 1024
_PATTERN = bytes(range(251)) * (64 * 1024 // 251 + 2)  # a prime period, so no chunk lines up with it


class _Generated(io.RawIOBase):
    """``size`` deterministic bytes made as they are read (never whole in memory); no seek."""

    def __init__(self, size: int, *, fail_after: int | None = None) -> None:
        self.remaining = size
        self.served = 0
        self.fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.fail_after is not None and self.served >= self.fail_after:
            raise OSError("client went away")
        n = min(len(buffer), self.remaining, 64 * 1024)
        offset = self.served % 251
        buffer[:n] = _PATTERN[offset : offset + n]
        self.remaining -= n
        self.served += n
        return n


def _sha(stream: io.RawIOBase | io.BufferedIOBase, chunk: int) -> tuple[str, int]:
    digest, total = hashlib.sha256(), 0
    while block := stream.read(chunk):
        digest.update(block)
        total += len(block)
    return digest.hexdigest(), total


def test_put_then_open_returns_the_same_bytes(storage: Storage) -> None:
    assert storage.put("cb_1/ev_1", io.BytesIO(b"%PDF-1.7 hello")) == 14
    with storage.open("cb_1/ev_1") as f:
        assert f.read() == b"%PDF-1.7 hello"
    assert storage.size("cb_1/ev_1") == 14


def test_open_stream_reads_in_pieces_and_closes(storage: Storage) -> None:
    storage.put("cb_1/apl_1.pdf", io.BytesIO(b"0123456789"))
    f = storage.open("cb_1/apl_1.pdf")
    assert f.read(4) == b"0123"
    assert f.read(4) == b"4567"
    assert f.read() == b"89"
    assert f.read(4) == b""
    f.close()
    assert f.closed


def test_empty_object_roundtrips(storage: Storage) -> None:
    assert storage.put("cb_1/ev_empty", io.BytesIO(b"")) == 0
    with storage.open("cb_1/ev_empty") as f:
        assert f.read() == b""


def test_big_object_streams_in_and_out_in_chunks(storage: Storage) -> None:
    size = 6 * MIB + 12345  # more than one 5 MiB part on S3
    expected, _ = _sha(_Generated(size), 64 * 1024)
    assert storage.put("cb_1/ev_big", _Generated(size)) == size  # type: ignore[arg-type]
    assert storage.size("cb_1/ev_big") == size
    with storage.open("cb_1/ev_big") as f:
        assert _sha(f, 256 * 1024) == (expected, size)  # type: ignore[arg-type]


def test_second_put_replaces_the_object(storage: Storage) -> None:
    storage.put("cb_1/ev_1", io.BytesIO(b"old"))
    storage.put("cb_1/ev_1", io.BytesIO(b"newer"))
    with storage.open("cb_1/ev_1") as f:
        assert f.read() == b"newer"


@pytest.mark.parametrize("fail_after", [0, 64 * 1024, 6 * MIB], ids=["at-once", "mid-part", "after-a-part"])
def test_failed_put_leaves_nothing(storage: Storage, fail_after: int) -> None:
    with pytest.raises(OSError, match="went away"):
        storage.put("cb_1/ev_2", _Generated(8 * MIB, fail_after=fail_after))  # type: ignore[arg-type]
    assert list(storage.list("")) == []
    with pytest.raises(FileNotFoundError):
        storage.open("cb_1/ev_2")


def test_failed_put_keeps_the_previous_object(storage: Storage) -> None:
    storage.put("cb_1/ev_3", io.BytesIO(b"kept"))
    with pytest.raises(OSError, match="went away"):
        storage.put("cb_1/ev_3", _Generated(MIB, fail_after=64 * 1024))  # type: ignore[arg-type]
    with storage.open("cb_1/ev_3") as f:
        assert f.read() == b"kept"


def test_delete_is_idempotent_and_missing_is_fine(storage: Storage) -> None:
    storage.delete("cb_1/never_there")
    storage.put("cb_1/ev_1", io.BytesIO(b"x"))
    storage.delete("cb_1/ev_1")
    storage.delete("cb_1/ev_1")
    with pytest.raises(FileNotFoundError):
        storage.open("cb_1/ev_1")


@pytest.mark.parametrize("key", ["cb_1/ev_missing", "cb_missing/ev_1", "cb_1"])
def test_open_or_size_of_missing_key_is_file_not_found(storage: Storage, key: str) -> None:
    storage.put("cb_1/ev_1", io.BytesIO(b"x"))
    with pytest.raises(FileNotFoundError):
        storage.open(key)
    with pytest.raises(FileNotFoundError):
        storage.size(key)


def test_list_filters_by_prefix_with_sizes_and_utc_times(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)  # S3 keeps whole seconds
    objects = {"cb_1/ev_1": b"a", "cb_1/apl_1.pdf": b"bb", "cb_10/ev_1": b"ccc", "cb_2/ev_1": b"dddd"}
    for key, data in objects.items():
        storage.put(key, io.BytesIO(data))
    after = datetime.now(UTC) + timedelta(seconds=2)

    listed = {o.key: o for o in storage.list("")}
    assert {k: o.size for k, o in listed.items()} == {k: len(v) for k, v in objects.items()}
    for o in listed.values():
        assert o.modified_at.utcoffset() == timedelta(0)
        assert before <= o.modified_at <= after
    assert sorted(o.key for o in storage.list("cb_1/")) == ["cb_1/apl_1.pdf", "cb_1/ev_1"]
    assert sorted(o.key for o in storage.list("cb_1")) == ["cb_1/apl_1.pdf", "cb_1/ev_1", "cb_10/ev_1"]
    assert sorted(o.key for o in storage.list("cb_1/ev")) == ["cb_1/ev_1"]
    assert list(storage.list("cb_3/")) == []


def test_list_after_delete_no_longer_shows_the_object(storage: Storage) -> None:
    storage.put("cb_1/ev_1", io.BytesIO(b"a"))
    storage.put("cb_1/ev_2", io.BytesIO(b"b"))
    storage.delete("cb_1/ev_1")
    assert [o.key for o in storage.list("cb_1/")] == ["cb_1/ev_2"]


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../../escape",
    "cb_1/..",
    "cb_1/./ev_1",
    "cb_1//ev_1",
    "cb_1/",
    "cb_1\\ev_1",
    "cb_1/ev\x00.pdf",
    "cb_1/ev\n1",
    "cb_1/.upload-abc",
    "x" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_key_is_refused_by_every_operation(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put(key, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.open(key)
    if key.rpartition("/")[2].startswith(".upload-"):
        return  # the sweep may size and delete a stale upload
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.delete(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.size(key)


@pytest.mark.parametrize("prefix", ["/cb_1", "../", "cb_1/../", "cb_1//", "a\\b", "a\x00"])
def test_invalid_list_prefix_is_refused(storage: Storage, prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        list(storage.list(prefix))


def test_file_urls_relative_and_absolute(tmp_path: Path) -> None:
    absolute = storage_from_url(f"file://{tmp_path}/evidence")
    assert isinstance(absolute, LocalStorage)
    assert absolute.root == tmp_path / "evidence"
    relative = storage_from_url("file://./var/evidence")
    assert isinstance(relative, LocalStorage)
    assert relative.root == (Path.cwd() / "var" / "evidence").resolve()


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://evidence", "evidence", ""),
        ("s3://evidence/", "evidence", ""),
        ("s3://ev.idence/a/b/", "ev.idence", "a/b"),
    ],
)
def test_s3_urls(aws_env: None, url: str, bucket: str, prefix: str) -> None:
    storage = storage_from_url(url, s3_endpoint_url="http://127.0.0.1:9")
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == (bucket, prefix)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example/evidence", "expected file://"),
        ("evidence", "expected file://"),
        ("file://", "expected file://"),
        ("s3://", "bucket name"),
        ("s3://Evidence", "bucket name"),
        ("s3://evidence:9000/x", "bucket name"),
        ("s3://key:secret@evidence/x", "credentials"),
        ("file:///srv/evidence?mode=x", "query"),
        ("s3://evidence/a/../b", "invalid storage key"),
    ],
)
def test_unsupported_url_is_refused_without_echoing_it(aws_env: None, url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        storage_from_url(url)
    assert "secret" not in str(caught.value)
