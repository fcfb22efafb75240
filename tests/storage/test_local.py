"""What only LocalStorage does: temporary upload files, symlinks, directories."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app.storage import LocalStorage


def test_fresh_upload_file_is_hidden_and_stale_one_is_listed_for_the_sweep(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, upload_grace=timedelta(hours=1))
    storage.put("cb_1/ev_1", io.BytesIO(b"kept"))
    fresh = tmp_path / "cb_1" / ".upload-fresh"
    stale = tmp_path / "cb_1" / ".upload-stale"
    fresh.write_bytes(b"in progress")
    stale.write_bytes(b"left by a crash")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    listed = {o.key: o.size for o in storage.list("cb_1/")}
    assert listed == {"cb_1/ev_1": 4, "cb_1/.upload-stale": 15}
    assert storage.size("cb_1/.upload-stale") == 15
    storage.delete("cb_1/.upload-stale")
    assert not stale.exists()
    assert fresh.exists()


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "cb_1").symlink_to(outside)
    storage = LocalStorage(root)
    with pytest.raises(ValueError, match="outside the storage root"):
        storage.open("cb_1/secret")
    assert list(storage.list("")) == []


def test_listing_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert list(LocalStorage(tmp_path / "not-yet").list("")) == []


def test_deleting_a_directory_key_leaves_it(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put("cb_1/ev_1", io.BytesIO(b"x"))
    storage.delete("cb_1")
    assert [o.key for o in storage.list("")] == ["cb_1/ev_1"]
