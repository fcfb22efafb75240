"""What only S3Storage does: keys under its prefix in the bucket, aborted multipart uploads."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.exceptions import ClientError

from app.storage import S3Storage
from tests.conftest import BUCKET
from tests.storage.conftest import MIB
from tests.storage.test_backends import _Generated


def _client(endpoint: str) -> object:
    return boto3.session.Session().client("s3", endpoint_url=endpoint)


def test_objects_live_under_the_storage_prefix(s3_storage: S3Storage, s3_endpoint: str) -> None:
    s3_storage.put("cb_1/ev_1", io.BytesIO(b"x"))
    listed = _client(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix=s3_storage.prefix)  # type: ignore[attr-defined]
    assert [o["Key"] for o in listed["Contents"]] == [f"{s3_storage.prefix}/cb_1/ev_1"]
    assert [o.key for o in s3_storage.list("")] == ["cb_1/ev_1"]


def test_failed_multipart_upload_is_aborted(s3_storage: S3Storage, s3_endpoint: str) -> None:
    with pytest.raises(OSError, match="went away"):
        s3_storage.put("cb_1/ev_1", _Generated(12 * MIB, fail_after=6 * MIB))  # type: ignore[arg-type]
    pending = _client(s3_endpoint).list_multipart_uploads(Bucket=BUCKET, Prefix=s3_storage.prefix)  # type: ignore[attr-defined]
    assert pending.get("Uploads", []) == []


def test_listing_follows_every_page(s3_storage: S3Storage) -> None:
    s3_storage._page = 2
    for i in range(5):
        s3_storage.put(f"cb_1/ev_{i}", io.BytesIO(b"x"))
    assert sorted(o.key for o in s3_storage.list("cb_1/")) == [f"cb_1/ev_{i}" for i in range(5)]


def test_bucket_without_prefix_lists_the_whole_bucket(s3_endpoint: str, aws_env: None) -> None:
    whole = S3Storage(BUCKET, endpoint_url=s3_endpoint)
    whole.put("cb_root/ev_1", io.BytesIO(b"abc"))
    try:
        assert [(o.key, o.size) for o in whole.list("cb_root/")] == [("cb_root/ev_1", 3)]
    finally:
        whole.delete("cb_root/ev_1")


def test_missing_bucket_is_an_error_not_a_missing_object(s3_endpoint: str, aws_env: None) -> None:
    storage = S3Storage("no-such-bucket", endpoint_url=s3_endpoint)
    with pytest.raises(ClientError, match="NoSuchBucket"):
        storage.open("cb_1/ev_1")
