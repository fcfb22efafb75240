"""The evidence report and the appeal through the HTTP API: what a case lacks, one package per case,
the deadline on the server clock, the package mailed to the appeal mailbox, the seller told.

Time is frozen at ``T0`` (Monday 30 Nov 2026, 10:00 in Shanghai); respond by Thursday 3 Dec.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from time_machine import TimeMachineFixture

from app.core.config import Settings
from app.worker import Dispatcher
from tests import samples
from tests.api.conftest import PLATFORM, Mailbox, World, assert_problem, make_case, make_order
from tests.api.test_chargebacks import body_of
from tests.api.test_concurrency import run_together
from tests.api.test_evidence import RESPOND_BY, T0, evidence_of, upload

STATEMENT = "The parcel was delivered and signed for on 28 Nov 2026; see the carrier's record."


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def case(client: TestClient, world: World) -> dict[str, Any]:
    return make_case(client, world.order["id"])


def report_of(client: TestClient, case_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get(f"/v1/chargebacks/{case_id}/evidence-report", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def appeal(client: TestClient, case_id: str, headers: dict[str, str], statement: str = STATEMENT) -> Any:
    return client.post(f"/v1/chargebacks/{case_id}/appeal", json={"statement": statement}, headers=headers)


def delivered(client: TestClient, case_id: str, headers: dict[str, str], **facts: Any) -> dict[str, Any]:
    given = {"carrier": "DHL", "tracking_number": "JD0146", "delivered_at": "2026-11-28T08:00:00Z"} | facts
    r = upload(client, case_id, headers, content=samples.pdf(pages=2, label="pod"), facts=json.dumps(given))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_fresh_case_report_names_the_primary_path(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    report = report_of(client, case["id"], world.seller_headers)
    assert report["reason_category"] == "not_received"
    assert report["nearest_path"] == "delivered"
    assert report["missing_required"] == ["delivery_proof"]
    assert report["completeness"] == 0
    assert report["ready_to_submit"] is False
    assert report["respond_by"] == "2026-12-03T15:59:59.999999Z"
    assert {p["name"] for p in report["paths"]} >= {"delivered", "refunded", "replaced"}
    assert all(not p["satisfied"] for p in report["paths"])
    assert report["package"]["size_bytes"] == 0
    assert report["package"]["max_pages"] == 19
    delivery = next(i for i in report["items"] if i["evidence_type"] == "delivery_proof")
    assert (delivery["requirement"], delivery["provided"], delivery["count"]) == ("required", False, 0)
    assert delivery["advice"]


def test_delivery_proof_makes_the_case_ready(client: TestClient, world: World, case: dict[str, Any]) -> None:
    item = delivered(client, case["id"], world.seller_headers)
    report = report_of(client, case["id"], world.seller_headers)
    assert report["nearest_path"] == "delivered"
    assert report["missing_required"] == []
    assert report["ready_to_submit"] is True
    assert 0 < report["completeness"] < 1
    assert report["package"]["size_bytes"] == item["size_bytes"]
    assert report["package"]["pages"] >= 1 + item["pages"]
    assert report["warnings"] == []


def test_facts_that_contradict_the_case_are_warned(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    late = delivered(client, case["id"], world.seller_headers, delivered_at="2026-11-30T09:00:00Z")
    refund = upload(
        client,
        case["id"],
        world.seller_headers,
        evidence_type="refund_proof",
        text="Partial refund re_1",
        facts=json.dumps({"refund_amount_minor": 1_000, "refund_currency": "EUR"}),
    ).json()
    warnings = report_of(client, case["id"], world.seller_headers)["warnings"]
    found = {(w["code"], w["evidence_id"]) for w in warnings}
    assert ("delivery_after_notice", late["id"]) in found
    assert ("refund_less_than_disputed", refund["id"]) in found


def test_delivery_address_is_compared_with_the_orders(client: TestClient, world: World) -> None:
    order = make_order(client, world.seller["id"], shipping_address="Hauptstr. 5, 10115 Berlin")
    case = make_case(client, order["id"])
    assert order["shipping_address"] == "Hauptstr. 5, 10115 Berlin"
    same = delivered(client, case["id"], world.seller_headers, delivery_address="hauptstr 5 10115 BERLIN")
    other = delivered(client, case["id"], world.seller_headers, delivery_address="Ringstr. 9, München")
    codes = {
        (w["code"], w["evidence_id"]) for w in report_of(client, case["id"], world.seller_headers)["warnings"]
    }
    assert ("delivery_address_differs", other["id"]) in codes
    assert ("delivery_address_differs", same["id"]) not in codes


def test_appeal_without_required_evidence_is_refused(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    upload(client, case["id"], world.seller_headers, evidence_type="buyer_communication", text="chat log")
    body = assert_problem(appeal(client, case["id"], world.seller_headers), 422, "missing_required_evidence")
    assert "delivery_proof" in body["detail"]
    assert client.get(f"/v1/chargebacks/{case['id']}", headers=PLATFORM).json()["status"] == "needs_response"


def test_appeal_builds_one_package_and_freezes_the_case(
    client: TestClient, world: World, case: dict[str, Any]
) -> None:
    pod = delivered(client, case["id"], world.seller_headers)
    photo = upload(
        client,
        case["id"],
        world.seller_headers,
        evidence_type="item_description",
        content=samples.png(),
        filename="l.png",
    ).json()
    note = upload(
        client, case["id"], world.seller_headers, evidence_type="buyer_communication", text="Buyer: got it"
    ).json()
    r = appeal(client, case["id"], world.seller_headers)
    assert r.status_code == 201, r.text
    filed = r.json()
    assert r.headers["location"] == f"/v1/chargebacks/{case['id']}/appeal"
    assert filed["id"].startswith("apl_")
    assert (filed["chargeback_id"], filed["order_id"]) == (case["id"], world.order["id"])
    assert filed["statement"] == STATEMENT
    assert filed["evidence_ids"] == [pod["id"], photo["id"], note["id"]]
    assert filed["path"] == "delivered"
    assert filed["submitted_at"] == "2026-11-30T02:00:00Z"

    now = client.get(f"/v1/chargebacks/{case['id']}", headers=world.seller_headers).json()
    assert (now["status"], now["appeal_id"], now["version"]) == (
        "under_review",
        filed["id"],
        case["version"] + 1,
    )
    assert all(e["appeal_id"] == filed["id"] for e in evidence_of(client, case["id"], world.seller_headers))
    assert client.get(f"/v1/chargebacks/{case['id']}/appeal", headers=world.seller_headers).json() == filed

    package = client.get(f"/v1/chargebacks/{case['id']}/appeal/package", headers=world.seller_headers)
    assert package.status_code == 200
    assert package.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(package.content).hexdigest() == filed["package_sha256"]
    pdf = PdfReader(io.BytesIO(package.content))
    assert len(pdf.pages) == filed["package_pages"] >= 1 + 2 + 1
    text = "".join(page.extract_text() for page in pdf.pages)
    for needle in (
        world.order["id"],
        "50.00 EUR",
        pod["sha256"],
        photo["sha256"],
        "pod page 2",
        "Buyer: got it",
    ):
        assert needle in text.replace("\n", " ") or needle in text, needle

    events = client.get(f"/v1/chargebacks/{case['id']}/events", headers=world.seller_headers).json()["data"]
    assert events[-1]["type"] == "chargeback.appealed"
    assert events[-1]["changes"]["status"] == ["needs_response", "under_review"]


def test_one_appeal_per_case(client: TestClient, world: World, case: dict[str, Any]) -> None:
    delivered(client, case["id"], world.seller_headers)
    assert appeal(client, case["id"], world.seller_headers).status_code == 201
    assert_problem(appeal(client, case["id"], world.seller_headers), 409, "appeal_exists")
    assert_problem(upload(client, case["id"], world.seller_headers, text="late"), 409, "appeal_submitted")
    [item] = evidence_of(client, case["id"], world.seller_headers)
    r = client.delete(f"/v1/chargebacks/{case['id']}/evidence/{item['id']}", headers=world.seller_headers)
    assert_problem(r, 409, "appeal_submitted")


def test_appeal_honours_if_match_on_the_case(client: TestClient, world: World, case: dict[str, Any]) -> None:
    delivered(client, case["id"], world.seller_headers)
    url = f"/v1/chargebacks/{case['id']}/appeal"
    stale = world.seller_headers | {"If-Match": f'"{case["version"] + 1}"'}
    assert_problem(client.post(url, json={"statement": STATEMENT}, headers=stale), 412, "precondition_failed")
    assert client.get(url, headers=world.seller_headers).status_code == 404  # no appeal was filed
    current = world.seller_headers | {"If-Match": f'"{case["version"]}"'}
    assert client.post(url, json={"statement": STATEMENT}, headers=current).status_code == 201


def test_appeal_after_the_deadline_is_refused(
    client: TestClient, world: World, case: dict[str, Any], time_machine: TimeMachineFixture
) -> None:
    delivered(client, case["id"], world.seller_headers)
    time_machine.move_to(RESPOND_BY - timedelta(seconds=1), tick=False)
    assert report_of(client, case["id"], world.seller_headers)["ready_to_submit"] is True
    time_machine.move_to(RESPOND_BY + timedelta(microseconds=1), tick=False)
    assert report_of(client, case["id"], world.seller_headers)["ready_to_submit"] is False
    assert_problem(appeal(client, case["id"], world.seller_headers), 409, "deadline_passed")


@pytest.mark.parametrize("statement", ["", "   "])
def test_empty_statement_is_refused(
    client: TestClient, world: World, case: dict[str, Any], statement: str
) -> None:
    delivered(client, case["id"], world.seller_headers)
    assert_problem(
        appeal(client, case["id"], world.seller_headers, statement), 422, "validation_error", "statement"
    )


def test_appeal_with_idempotency_key_replays(client: TestClient, world: World, case: dict[str, Any]) -> None:
    delivered(client, case["id"], world.seller_headers)
    headers = world.seller_headers | {"Idempotency-Key": "erp-appeal-1"}
    first = appeal(client, case["id"], headers)
    again = appeal(client, case["id"], headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def test_package_is_mailed_to_the_appeal_mailbox(
    client: TestClient,
    world: World,
    case: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    settings: Settings,
) -> None:
    delivered(client, case["id"], world.seller_headers)
    filed = appeal(client, case["id"], world.seller_headers).json()
    dispatcher.run_until_idle()
    [mail] = [m for m in mailbox.messages if m["X-Envelope-To"] == settings.appeal_mailbox]
    assert world.order["id"] in mail["Subject"]
    [attachment] = [part for part in mail.walk() if part.get_content_type() == "application/pdf"]
    data = attachment.get_payload(decode=True)
    assert isinstance(data, bytes)
    assert hashlib.sha256(data).hexdigest() == filed["package_sha256"]
    seller_mails = [m for m in mailbox.messages if m["X-Envelope-To"] == world.seller["email"]]
    assert any("Appeal submitted" in m["Subject"] for m in seller_mails)
    messages = client.get("/v1/messages", headers=world.seller_headers).json()["data"]
    assert messages[0]["kind"] == "appeal_submitted"


def test_opening_notice_lists_the_evidence_to_gather(
    client: TestClient, world: World, case: dict[str, Any], dispatcher: Dispatcher, mailbox: Mailbox
) -> None:
    dispatcher.run_until_idle()
    [mail] = [m for m in mailbox.messages if m["X-Chargeback-Id"] == case["id"]]
    body = body_of(mail)
    assert "Proof of delivery" in body
    assert f"/v1/chargebacks/{case['id']}/evidence-report" in body
    [message] = client.get("/v1/messages", headers=world.seller_headers).json()["data"]
    assert "Proof of delivery" in message["body"]


def test_concurrent_appeals_yield_exactly_one(client: TestClient, world: World, case: dict[str, Any]) -> None:
    delivered(client, case["id"], world.seller_headers)
    statuses = run_together(4, lambda _: appeal(client, case["id"], world.seller_headers).status_code)
    assert sorted(statuses) == [201, 409, 409, 409]
    assert (
        len(
            client.get(f"/v1/chargebacks/{case['id']}/appeal", headers=world.seller_headers).json()[
                "evidence_ids"
            ]
        )
        == 1
    )
