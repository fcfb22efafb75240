"""Both storage backends for one contract: local files in tmp_path, and S3 on moto's server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from app.storage import LocalStorage, S3Storage, Storage

BUCKET = "evidence-test"
MIB = 1024 * 1024
_DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Nothing from the developer's own AWS setup, and no instance-metadata lookups: offline.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the test bucket created."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _DUMMY_AWS.items():
            mp.setenv(name, value)
        boto3.session.Session().client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _DUMMY_AWS.items():
        monkeypatch.setenv(name, value)


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
