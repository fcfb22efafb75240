"""The evidence path end to end with S3-compatible storage (moto's server on loopback): upload,
download, appeal, the package mailed with its attachment read back from the bucket."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.worker import Dispatcher
from tests import samples
from tests.api.conftest import Mailbox, World, make_case
from tests.conftest import BUCKET


@pytest.fixture
def prefix() -> str:
    return f"api/{uuid.uuid4().hex}"


@pytest.fixture
def settings(settings: Settings, s3_endpoint: str, aws_env: None, prefix: str) -> Settings:
    return settings.model_copy(
        update={"evidence_storage_url": f"s3://{BUCKET}/{prefix}", "s3_endpoint_url": s3_endpoint}
    )


def _keys(endpoint: str, prefix: str) -> list[str]:
    listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_evidence_and_appeal_over_s3(
    client: TestClient,
    world: World,
    settings: Settings,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    s3_endpoint: str,
    prefix: str,
) -> None:
    case = make_case(client, world.order["id"])
    content = samples.pdf(pages=2, label="pod")
    files = {"file": ("pod.pdf", content, "application/pdf")}
    r = client.post(
        f"/v1/chargebacks/{case['id']}/evidence",
        data={"evidence_type": "delivery_proof"},
        files=files,
        headers=world.seller_headers,
    )
    assert r.status_code == 201, r.text
    item: dict[str, Any] = r.json()
    assert _keys(s3_endpoint, prefix) == [f"{prefix}/{case['id']}/{item['id']}"]
    got = client.get(
        f"/v1/chargebacks/{case['id']}/evidence/{item['id']}/content", headers=world.seller_headers
    )
    assert got.content == content

    refused = client.post(
        f"/v1/chargebacks/{case['id']}/evidence",
        data={"evidence_type": "delivery_proof"},
        files={"file": ("x.pdf", samples.ZIP, "application/pdf")},
        headers=world.seller_headers,
    )
    assert refused.status_code == 415
    assert len(_keys(s3_endpoint, prefix)) == 1

    filed = client.post(
        f"/v1/chargebacks/{case['id']}/appeal", json={"statement": "Delivered."}, headers=world.seller_headers
    ).json()
    assert len(_keys(s3_endpoint, prefix)) == 2
    package = client.get(f"/v1/chargebacks/{case['id']}/appeal/package", headers=world.seller_headers)
    assert hashlib.sha256(package.content).hexdigest() == filed["package_sha256"]
    dispatcher.run_until_idle()
    [mail] = [m for m in mailbox.messages if m["X-Envelope-To"] == settings.appeal_mailbox]
    [pdf] = [p for p in mail.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_payload(decode=True) == package.content
