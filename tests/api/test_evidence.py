"""Evidence uploads through the HTTP API: streamed, judged by their bytes, limited, listed, downloaded,
deleted before the appeal; and every refusal leaves no row and no file.

Time is frozen at ``T0`` (Monday 30 Nov 2026, 10:00 in Shanghai); a case received then must be
appealed by the end of Thursday 3 Dec (Shanghai).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from time_machine import TimeMachineFixture

from app.core.config import Settings
from tests import samples
from tests.api.conftest import PLATFORM, World, assert_problem, make_case, make_key, make_order, make_seller

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
RESPOND_BY = datetime(2026, 12, 3, 15, 59, 59, 999_999, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def case(client: TestClient, world: World) -> dict[str, Any]:
    return make_case(client, world.order["id"])


def upload(
    client: TestClient,
    case_id: str,
    headers: dict[str, str],
    evidence_type: str = "delivery_proof",
    content: bytes | None = None,
    filename: str = "pod.pdf",
    declared: str = "application/pdf",
    **fields: str,
) -> Any:
    files = {"file": (filename, content, declared)} if content is not None else None
    data = {"evidence_type": evidence_type, **fields}
    return client.post(f"/v1/chargebacks/{case_id}/evidence", data=data, files=files, headers=headers)


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.evidence_storage_url.removeprefix("file://"))
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def evidence_of(client: TestClient, case_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get(f"/v1/chargebacks/{case_id}/evidence", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def test_pdf_upload_is_stored_hashed_and_listed(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    content = samples.pdf(pages=2)
    r = upload(client, case["id"], world.seller_headers, content=content, description="Signed POD")
    assert r.status_code == 201, r.text
    item = r.json()
    assert r.headers["location"] == f"/v1/chargebacks/{case['id']}/evidence/{item['id']}"
    assert item["id"].startswith("ev_")
    assert item["evidence_type"] == "delivery_proof"
    assert item["content_type"] == "application/pdf"
    assert item["size_bytes"] == len(content)
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["pages"] == 2
    assert item["filename"] == "pod.pdf"
    assert item["description"] == "Signed POD"
    assert item["created_at"] == "2026-11-30T02:00:00Z"
    assert item["content_url"].endswith(f"/v1/chargebacks/{case['id']}/evidence/{item['id']}/content")
    assert [e["id"] for e in evidence_of(client, case["id"], world.seller_headers)] == [item["id"]]
    got = client.get(f"/v1/chargebacks/{case['id']}/evidence/{item['id']}", headers=world.seller_headers)
    assert got.json() == item


def test_download_returns_the_bytes_as_a_safe_attachment(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    content = samples.png()
    item = upload(client, case["id"], world.seller_headers, content=content, filename="photo.png").json()
    r = client.get(item["content_url"].split("8000", 1)[1], headers=world.seller_headers)
    assert r.status_code == 200
    assert r.content == content
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert 'filename="photo.png"' in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_text_only_evidence_has_no_file_and_hashes_its_text(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings
) -> None:
    r = upload(
        client, case["id"], world.seller_headers, text="Tracking JD0146", evidence_type="shipping_proof"
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert (item["filename"], item["content_type"], item["size_bytes"], item["content_url"]) == (
        None,
        None,
        0,
        None,
    )
    assert item["sha256"] == hashlib.sha256(b"Tracking JD0146").hexdigest()
    assert stored_files(settings) == []
    r = client.get(
        f"/v1/chargebacks/{case['id']}/evidence/{item['id']}/content", headers=world.seller_headers
    )
    assert_problem(r, 404, "not_found")


def test_facts_are_validated_and_kept(client: TestClient, world: World, case: dict[str, Any]) -> None:
    facts = {
        "carrier": "DHL",
        "tracking_number": "JD0146",
        "delivered_at": "2026-11-28T08:00:00+08:00",
        "signed": True,
    }
    r = upload(client, case["id"], world.seller_headers, content=samples.pdf(), facts=json.dumps(facts))
    assert r.status_code == 201, r.text
    assert r.json()["facts"] == {
        "carrier": "DHL",
        "tracking_number": "JD0146",
        "delivered_at": "2026-11-28T00:00:00Z",
        "signed": True,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"evidence_type": "selfie"}, "evidence_type"),
        ({"facts": "{not json"}, "facts"),
        ({"facts": "[1, 2]"}, "facts"),
        ({"facts": "[" * 7_000}, "facts"),
        ({"facts": '{"carrier": ' * 1_500}, "facts"),
        ({"facts": '{"colour": "red"}'}, "facts.colour"),
        ({"facts": '{"delivered_at": "yesterday"}'}, "facts.delivered_at"),
        ({"facts": '{"refund_amount_minor": -5}'}, "facts.refund_amount_minor"),
        ({"surprise": "field"}, "surprise"),
    ],
)
def test_bad_form_fields_are_refused_and_leave_nothing(
    client: TestClient,
    world: World,
    case: dict[str, Any],
    settings: Settings,
    fields: dict[str, str],
    field: str,
) -> None:
    data = {"evidence_type": "delivery_proof", **fields}
    files = {"file": ("pod.pdf", samples.pdf(), "application/pdf")}
    r = client.post(
        f"/v1/chargebacks/{case['id']}/evidence", data=data, files=files, headers=world.seller_headers
    )
    assert_problem(r, 422, "validation_error", field)
    assert evidence_of(client, case["id"], world.seller_headers) == []
    assert stored_files(settings) == []


def test_neither_file_nor_text_is_refused(client: TestClient, world: World, case: dict[str, Any]) -> None:
    r = upload(client, case["id"], world.seller_headers, description="nothing attached")
    assert_problem(r, 422, "validation_error", "file")


@pytest.mark.parametrize(
    ("content", "filename", "declared"),
    [
        (samples.ZIP, "proof.pdf", "application/pdf"),
        (samples.EXE, "proof.jpg", "image/jpeg"),
        (samples.HTML, "proof.png", "image/png"),
        (samples.pdf()[:-200], "truncated.pdf", "application/pdf"),
        (samples.png()[:40], "truncated.png", "image/png"),
        (b"%PDF-1.7\nnot really a pdf", "fake.pdf", "application/pdf"),
        (b"", "empty.pdf", "application/pdf"),
    ],
    ids=["zip-as-pdf", "exe-as-jpg", "html-as-png", "truncated-pdf", "truncated-png", "fake-pdf", "empty"],
)
def test_a_type_is_judged_by_its_bytes(
    client: TestClient,
    world: World,
    case: dict[str, Any],
    settings: Settings,
    content: bytes,
    filename: str,
    declared: str,
) -> None:
    r = upload(
        client, case["id"], world.seller_headers, content=content, filename=filename, declared=declared
    )
    assert_problem(r, 415, "unsupported_file_type")
    assert evidence_of(client, case["id"], world.seller_headers) == []
    assert stored_files(settings) == []


def test_a_refused_file_is_described_without_a_server_path(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    r = upload(client, case["id"], world.seller_headers, content=b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    body = assert_problem(r, 415, "unsupported_file_type")
    assert "/tmp" not in body["detail"], body["detail"]
    assert "cbd-upload" not in body["detail"], body["detail"]


def test_an_upload_honours_if_match_on_the_case(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings
) -> None:
    stale = world.seller_headers | {"If-Match": f'"{case["version"] + 1}"'}
    r = upload(client, case["id"], stale, content=b"%PDF-1.4 not really", text="JD0146")
    assert_problem(r, 412, "precondition_failed")
    assert evidence_of(client, case["id"], world.seller_headers) == []
    assert stored_files(settings) == []
    current = world.seller_headers | {"If-Match": f'"{case["version"]}"'}
    assert upload(client, case["id"], current, text="JD0146").status_code == 201


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\pod.pdf", "pod.pdf"),
        ("evil\u202efdp.exe.pdf", "evilfdp.exe.pdf"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_hostile_filenames_are_kept_only_as_sanitised_metadata(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings, given: str, kept: str
) -> None:
    r = upload(client, case["id"], world.seller_headers, content=samples.pdf(), filename=given)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == kept
    [path] = stored_files(settings)
    assert path.name == r.json()["id"]  # the storage key never comes from the client


def test_file_over_the_per_file_limit_is_413(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings, app: Any
) -> None:
    app.state.db.settings = settings.model_copy(update={"max_evidence_file_bytes": 2_000})
    r = upload(client, case["id"], world.seller_headers, content=samples.pdf(pages=3) + bytes(3_000))
    body = assert_problem(r, 413, "file_too_large")
    assert "2000" in body["detail"]
    assert stored_files(settings) == []
    assert evidence_of(client, case["id"], world.seller_headers) == []


def test_case_storage_limit_counts_earlier_evidence(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings, app: Any
) -> None:
    first = samples.pdf()
    app.state.db.settings = settings.model_copy(update={"max_evidence_case_bytes": len(first) + 500})
    assert upload(client, case["id"], world.seller_headers, content=first).status_code == 201
    r = upload(client, case["id"], world.seller_headers, content=samples.pdf(label="second"))
    assert_problem(r, 413, "case_storage_full")
    assert len(evidence_of(client, case["id"], world.seller_headers)) == 1
    assert len(stored_files(settings)) == 1


def test_delete_removes_the_row_and_the_file(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings
) -> None:
    item = upload(client, case["id"], world.seller_headers, content=samples.jpeg()).json()
    r = client.delete(f"/v1/chargebacks/{case['id']}/evidence/{item['id']}", headers=world.seller_headers)
    assert r.status_code == 204
    assert evidence_of(client, case["id"], world.seller_headers) == []
    assert stored_files(settings) == []
    events = client.get(f"/v1/chargebacks/{case['id']}/events", headers=world.seller_headers).json()["data"]
    assert [e["type"] for e in events][-2:] == ["chargeback.evidence_added", "chargeback.evidence_removed"]


def test_closed_case_takes_no_evidence(client: TestClient, world: World, case: dict[str, Any]) -> None:
    item = upload(client, case["id"], world.seller_headers, text="JD0146").json()
    assert (
        client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers).status_code == 200
    )
    assert_problem(upload(client, case["id"], world.seller_headers, text="more"), 409, "case_closed")
    r = client.delete(f"/v1/chargebacks/{case['id']}/evidence/{item['id']}", headers=world.seller_headers)
    assert_problem(r, 409, "case_closed")


def test_expired_case_takes_no_evidence(
    client: TestClient, world: World, case: dict[str, Any], time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(RESPOND_BY + timedelta(seconds=1), tick=False)
    assert_problem(upload(client, case["id"], world.seller_headers, text="late"), 409, "case_closed")


def test_another_sellers_case_is_not_found(client: TestClient, world: World, case: dict[str, Any]) -> None:
    item = upload(client, case["id"], world.seller_headers, content=samples.pdf()).json()
    other = make_seller(client, name="Other", email="o@other.example")
    theirs = make_key(client, other["id"])
    base = f"/v1/chargebacks/{case['id']}"
    for r in (
        upload(client, case["id"], theirs, text="x"),
        client.get(f"{base}/evidence", headers=theirs),
        client.get(f"{base}/evidence/{item['id']}", headers=theirs),
        client.get(f"{base}/evidence/{item['id']}/content", headers=theirs),
        client.delete(f"{base}/evidence/{item['id']}", headers=theirs),
        client.get(f"{base}/evidence-report", headers=theirs),
        client.post(f"{base}/appeal", json={"statement": "mine"}, headers=theirs),
        client.get(f"{base}/appeal", headers=theirs),
    ):
        assert_problem(r, 404, "not_found")
    # Another case's item under this case's path is not found either.
    order = make_order(client, world.seller["id"])
    other_case = make_case(client, order["id"])
    r = client.get(f"/v1/chargebacks/{other_case['id']}/evidence/{item['id']}", headers=world.seller_headers)
    assert_problem(r, 404, "not_found")


def test_credential_comes_before_the_body(client: TestClient, case: dict[str, Any]) -> None:
    r = client.post(
        f"/v1/chargebacks/{case['id']}/evidence",
        content=b"garbage",
        headers={"Content-Type": "multipart/form-data"},
    )
    assert_problem(r, 401, "invalid_credential")


def test_a_body_that_is_not_multipart_is_415(client: TestClient, world: World, case: dict[str, Any]) -> None:
    r = client.post(
        f"/v1/chargebacks/{case['id']}/evidence",
        json={"evidence_type": "other"},
        headers=world.seller_headers,
    )
    assert_problem(r, 415, "unsupported_media_type")


def test_broken_multipart_is_400(client: TestClient, world: World, case: dict[str, Any]) -> None:
    headers = world.seller_headers | {"Content-Type": "multipart/form-data; boundary=xyz"}
    r = client.post(f"/v1/chargebacks/{case['id']}/evidence", content=b"--xyz\r\nbroken", headers=headers)
    assert_problem(r, 400, "malformed_multipart")


def test_upload_with_idempotency_key_replays(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings
) -> None:
    headers = world.seller_headers | {"Idempotency-Key": "erp-ev-1"}
    content = samples.pdf()
    first = upload(client, case["id"], headers, content=content)
    again = upload(client, case["id"], headers, content=content)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert len(evidence_of(client, case["id"], world.seller_headers)) == 1
    assert len(stored_files(settings)) == 1
    other = upload(client, case["id"], headers, content=samples.pdf(label="different"))
    assert_problem(other, 422, "idempotency_key_reused")
    renamed = upload(client, case["id"], headers, content=content, filename="renamed.pdf")
    assert_problem(renamed, 422, "idempotency_key_reused")  # the name is part of the evidence
    assert len(stored_files(settings)) == 1


def test_platform_may_upload_for_the_seller(client: TestClient, world: World, case: dict[str, Any]) -> None:
    r = upload(client, case["id"], PLATFORM, text="Tracking JD0146", evidence_type="shipping_proof")
    assert r.status_code == 201, r.text
    assert len(evidence_of(client, case["id"], world.seller_headers)) == 1


def test_evidence_list_pages_newest_first(
    client: TestClient, world: World, case: dict[str, Any], time_machine: TimeMachineFixture
) -> None:
    ids = []
    for n in range(3):
        time_machine.shift(timedelta(seconds=1))
        ids.append(
            upload(client, case["id"], world.seller_headers, text=f"note {n}", evidence_type="other").json()[
                "id"
            ]
        )
    r = client.get(f"/v1/chargebacks/{case['id']}/evidence?limit=2", headers=world.seller_headers)
    page = r.json()
    assert [e["id"] for e in page["data"]] == ids[:0:-1]
    r = client.get(
        f"/v1/chargebacks/{case['id']}/evidence?limit=2&cursor={page['next_cursor']}",
        headers=world.seller_headers,
    )
    assert [e["id"] for e in r.json()["data"]] == ids[:1]
    assert r.json()["next_cursor"] is None


def test_a_file_larger_than_the_json_body_limit_streams_in(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings
) -> None:
    noise = Image.frombytes("L", (1600, 1600), os.urandom(1600 * 1600))  # incompressible: ~2.5 MB
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert len(out.getvalue()) > 2 * settings.max_json_body_bytes
    r = upload(client, case["id"], world.seller_headers, content=out.getvalue(), filename="scan.png")
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(out.getvalue()).hexdigest()


def test_an_oversized_file_gets_its_own_code_whatever_its_declared_length(
    client: TestClient, world: World, case: dict[str, Any], settings: Settings
) -> None:
    content = b"%PDF-1.7\n" + os.urandom(settings.max_evidence_file_bytes + 1_000_000)
    r = upload(client, case["id"], world.seller_headers, content=content)
    assert_problem(r, 413, "file_too_large")
    assert stored_files(settings) == []
