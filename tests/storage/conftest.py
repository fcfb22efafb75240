"""Both storage backends for one contract: local files in tmp_path, and S3 on moto's server on loopback."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.storage import LocalStorage, S3Storage, Storage
from tests.conftest import BUCKET

MIB = 1024 * 1024


@pytest.fixture
def s3_storage(s3_endpoint: str, aws_env: None) -> S3Storage:
    """A fresh prefix in the shared bucket; parts of 5 MiB (S3's minimum) so a few MiB go multipart."""
    return S3Storage(BUCKET, f"run/{uuid.uuid4().hex}", endpoint_url=s3_endpoint, part_size=5 * MIB)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "evidence")
    s3: S3Storage = request.getfixturevalue("s3_storage")
    return s3
