"""Evidence in an S3-compatible bucket, under an optional key prefix."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from app.storage.base import CHUNK, StoredObject, check_key

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    """Objects in ``bucket`` under ``prefix``; credentials come from the standard AWS chain.

    ``put`` streams a multipart upload, so an object appears only once every part is in; a failed
    upload is aborted (a bucket lifecycle rule should also abort incomplete multipart uploads that
    a killed process leaves behind).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        part_size: int = 8 * CHUNK,
    ) -> None:
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/"), prefix=True)
        self._client: Any = boto3.session.Session().client(
            "s3",
            region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=endpoint_url,
            # Path-style addressing works with every S3-compatible server (MinIO, Ceph, moto).
            config=Config(s3={"addressing_style": "path"} if endpoint_url else {}),
        )
        self._page = 1000  # list_objects_v2's own maximum
        self._transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)

    def _key(self, key: str, *, prefix: bool = False) -> str:
        check_key(key, prefix=prefix)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: BinaryIO) -> int:
        counted = _Counting(data)
        self._client.upload_fileobj(counted, self.bucket, self._key(key), Config=self._transfer)
        return counted.total

    def open(self, key: str) -> BinaryIO:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(f"no stored object {key!r}") from exc
            raise
        return io.BufferedReader(_Body(response["Body"]), buffer_size=CHUNK)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def size(self, key: str) -> int:
        # A HEAD response has no body, so a missing bucket is a bare 404 here too.
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(f"no stored object {key!r}") from exc
            raise
        return int(response["ContentLength"])

    def list(self, prefix: str) -> Iterator[StoredObject]:
        full = self._key(prefix, prefix=True) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(f"{self.prefix}/") if self.prefix else 0
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=full, PaginationConfig={"PageSize": self._page})
        for page in pages:
            for item in page.get("Contents", ()):
                yield StoredObject(
                    key=item["Key"][strip:],
                    size=int(item["Size"]),
                    modified_at=item["LastModified"].astimezone(UTC),
                )


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING


class _Counting:
    """A read-only view of the upload stream that counts the bytes boto3 takes from it.

    It has no ``seek``, so boto3 reads it once, part by part, instead of loading it whole.
    """

    def __init__(self, data: BinaryIO) -> None:
        self._data = data
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(size)
        self.total += len(chunk)
        return chunk


class _Body(io.RawIOBase):
    """botocore's streaming body as a raw stream, so ``open`` hands out a real ``BinaryIO``."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        chunk: bytes = self._body.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
