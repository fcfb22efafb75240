"""Evidence storage behind one protocol: local files or an S3-compatible bucket.

Services write the file first, then the row; if the commit fails they delete the file, so a failed
request leaves no orphan, and a sweep deletes what a crash left behind (objects no row refers to,
older than a grace period). Keys are opaque and chosen by the caller (e.g. ``cb_…/ev_…``).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from app.storage.base import CHUNK, Storage, StoredObject, check_key
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

__all__ = ["CHUNK", "LocalStorage", "S3Storage", "Storage", "StoredObject", "check_key", "storage_from_url"]


def storage_from_url(url: str, s3_endpoint_url: str | None = None) -> Storage:
    """``file://./var/evidence`` (relative to the working directory), ``file:///abs/path`` or
    ``s3://bucket/optional/prefix`` (``s3_endpoint_url`` for an S3-compatible server)."""
    parsed = urlparse(url)
    problem = "expected file://./relative/dir, file:///absolute/dir or s3://bucket/optional-prefix"
    if parsed.query or parsed.fragment or "@" in parsed.netloc:
        problem = "it must not carry credentials, a query or a fragment"
    elif parsed.scheme == "file" and (parsed.netloc or parsed.path):
        return LocalStorage(Path(parsed.netloc + parsed.path))
    elif parsed.scheme == "s3" and _BUCKET.fullmatch(parsed.netloc):
        return S3Storage(parsed.netloc, parsed.path.strip("/"), endpoint_url=s3_endpoint_url)
    elif parsed.scheme == "s3":
        problem = "the bucket name must be 3-63 lowercase letters, digits, dots or hyphens"
    # The URL itself is not echoed: a mistyped one may hold a secret.
    raise ValueError(f"unsupported EVIDENCE_STORAGE_URL (scheme {parsed.scheme!r}): {problem}")
