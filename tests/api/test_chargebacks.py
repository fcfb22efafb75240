"""Chargeback notices through the HTTP API: deadline, frozen funds, the seller told three ways, rulings,
expiry, reminders and tenant isolation.

Time is frozen at ``T0`` (Tuesday 29 Sep 2026, 18:00 in Shanghai, just before China's National Day
week) and moved with time-machine; nothing sleeps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from time_machine import TimeMachineFixture

from app.core.config import Settings
from app.worker import Dispatcher
from tests.api.conftest import (
    PLATFORM,
    Mailbox,
    World,
    assert_problem,
    make_case,
    make_key,
    make_order,
    make_seller,
    notice,
)

T0 = datetime(2026, 9, 29, 10, 0, tzinfo=UTC)  # Tue 18:00 Asia/Shanghai
# Receipt Tue 29 Sep; working days after it: Wed 30 Sep, (1-7 Oct National Day), Thu 8 Oct, Fri 9 Oct.
T0_RESPOND_BY = datetime(2026, 10, 9, 15, 59, 59, 999_999, tzinfo=UTC)
MISSING = object()


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    # Autouse, so it runs before `world` and every row of a test is written at a known instant.
    time_machine.move_to(T0, tick=False)


def z(instant: datetime) -> str:
    """The API's RFC 3339 UTC form."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_of(client: TestClient, order_id: str, headers: dict[str, str] = PLATFORM) -> dict[str, Any]:
    r = client.get(f"/v1/orders/{order_id}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def case_of(client: TestClient, case_id: str, headers: dict[str, str] = PLATFORM) -> dict[str, Any]:
    r = client.get(f"/v1/chargebacks/{case_id}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def events_of(client: TestClient, case_id: str, headers: dict[str, str] = PLATFORM) -> list[dict[str, Any]]:
    r = client.get(f"/v1/chargebacks/{case_id}/events", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def test_the_audit_trail_is_paged_oldest_first(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    rule(client, case["id"], "won")
    whole = events_of(client, case["id"])
    assert len(whole) >= 2
    url = f"/v1/chargebacks/{case['id']}/events"
    walked, cursor = [], None
    while True:
        r = client.get(url, params={"limit": 1} | ({"cursor": cursor} if cursor else {}), headers=PLATFORM)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["data"]) == 1
        walked += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == whole
    assert whole[0]["type"] == "chargeback.created"
    other = make_case(client, make_order(client, world.seller["id"])["id"])
    first = client.get(url, params={"limit": 1}, headers=PLATFORM).json()
    r = client.get(
        f"/v1/chargebacks/{other['id']}/events", params={"cursor": first["next_cursor"]}, headers=PLATFORM
    )
    assert_problem(r, 422, "cursor_mismatch")
    assert_problem(client.get(url, params={"limit": 201}, headers=PLATFORM), 422, "validation_error", "limit")


def messages_of(client: TestClient, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    r = client.get(f"/v1/messages{query}", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def cases_of(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/v1/chargebacks?limit=200", headers=PLATFORM)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def header(mail: Message, name: str) -> str:
    """A header's value, unfolded (long subjects are folded over lines on the wire)."""
    return re.sub(r"\r?\n(?=[ \t])", "", str(mail[name]))


def body_of(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(mail.get_content_charset() or "utf-8")


def rule(client: TestClient, case_id: str, outcome: str, **headers: str) -> httpx2.Response:
    return client.post(
        f"/v1/chargebacks/{case_id}/ruling", json={"outcome": outcome}, headers=PLATFORM | headers
    )


def state(client: TestClient, world: World) -> dict[str, Any]:
    """Everything a notice writes, to show that a refused one wrote nothing."""
    return {
        "order": order_of(client, world.order["id"]),
        "cases": cases_of(client),
        "messages": messages_of(client, world.seller_headers),
    }


# A notice ------------------------------------------------------------------------------------------


def test_notice_returns_case_with_contract_fields(client: TestClient, world: World) -> None:
    body = notice(world.order["id"], 5_000)
    r = client.post("/v1/chargebacks", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["id"].startswith("cb_")
    assert r.headers["etag"] == '"1"'
    expected = {
        "order_id": world.order["id"],
        "seller_id": world.seller["id"],
        "reason_code": "13.1",
        "network": "visa",
        "reason_category": "not_received",
        "reason_title": "Merchandise/Services Not Received",
        "amount_minor": 5_000,
        "currency": "EUR",
        "bank_reference": body["bank_reference"],
        "status": "needs_response",
        "received_at": "2026-09-29T10:00:00Z",
        "respond_by": "2026-10-09T15:59:59.999999Z",
        "respond_by_local": "2026-10-09T23:59:59.999999+08:00",
        "business_timezone": "Asia/Shanghai",
        "working_days_left": 4,  # today, 30 Sep, 8 Oct, 9 Oct
        "provider_due_at": None,
        "appeal_id": None,
        "closed_at": None,
        "ruling_note": None,
        "created_at": "2026-09-29T10:00:00Z",
        "updated_at": "2026-09-29T10:00:00Z",
        "version": 1,
    }
    assert {k: case.get(k, "(missing)") for k in expected} == expected  # new fields may be added
    assert case_of(client, case["id"], world.seller_headers) == case


def test_notice_freezes_the_orders_funds(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    order = order_of(client, world.order["id"], world.seller_headers)
    assert order["fund_status"] == "frozen"
    assert order["frozen_amount_minor"] == 4_000
    assert order["debited_amount_minor"] == 0
    assert order["available_amount_minor"] == 6_000
    assert order["chargeback_ids"] == [case["id"]]
    assert order["amount_minor"] == 10_000


def test_notice_posts_message_that_stays_unread_until_read(client: TestClient, world: World) -> None:
    order = make_order(client, world.seller["id"], external_ref="SO-2026-000123")
    case = make_case(client, order["id"])
    unread = messages_of(client, world.seller_headers, "?unread=true")
    assert [m["chargeback_id"] for m in unread] == [case["id"]]
    message = unread[0]
    assert message["id"].startswith("msg_")
    assert message["kind"] == "chargeback_received"
    assert message["unread"] is True
    assert message["title"] == "Chargeback on order SO-2026-000123: respond by 09 Oct 2026"
    assert "50.00 EUR" in message["body"]

    r = client.post(f"/v1/messages/{message['id']}/read", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    assert r.json()["unread"] is False
    assert r.json()["read_at"] == "2026-09-29T10:00:00Z"
    assert messages_of(client, world.seller_headers, "?unread=true") == []
    assert [m["id"] for m in messages_of(client, world.seller_headers, "?unread=false")] == [message["id"]]


def test_notice_emails_the_seller_once_after_dispatch(
    client: TestClient, world: World, mailbox: Mailbox, dispatcher: Dispatcher, settings: Settings
) -> None:
    order = make_order(client, world.seller["id"], external_ref="SO-2026-000123")
    case = make_case(client, order["id"], 5_000)
    assert mailbox.messages == []  # queued in the outbox, not sent by the request

    dispatcher.run_until_idle()
    dispatcher.run_until_idle()

    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == world.seller["email"]
    assert mail["X-Envelope-To"] == world.seller["email"]
    assert mail["From"] == settings.mail_from
    assert mail["Message-ID"].startswith("<")
    assert mail["Message-ID"].endswith("@notice.chargeback-desk.local>")
    assert header(mail, "Subject") == "Chargeback on order SO-2026-000123: respond by 09 Oct 2026"
    text = body_of(mail)
    assert "order SO-2026-000123" in text
    assert "50.00 EUR" in text
    assert "did not receive the goods or services they paid for" in text
    assert "Friday 09 October 2026, 23:59 (Asia/Shanghai time)" in text
    assert case["id"] in text


def test_notice_in_currency_with_other_minor_units_emails_true_amount(
    client: TestClient, world: World, mailbox: Mailbox, dispatcher: Dispatcher, subtests: pytest.Subtests
) -> None:
    for currency, amount_minor, shown in [
        ("JPY", 5_000, "5000 JPY"),
        ("KWD", 12_345, "12.345 KWD"),
        ("USD", 12_345, "123.45 USD"),
    ]:
        with subtests.test(currency):
            order = make_order(client, world.seller["id"], amount_minor, currency=currency)
            make_case(client, order["id"], amount_minor, currency=currency)
            mailbox.messages.clear()
            dispatcher.run_until_idle()
            assert len(mailbox.messages) == 1
            assert f" {shown} of order" in body_of(mailbox.messages[0])


def test_notice_records_created_event(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 5_000)
    events = events_of(client, case["id"], world.seller_headers)
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "chargeback.created"
    assert event["chargeback_id"] == case["id"]
    assert event["actor"] == "platform"
    assert event["occurred_at"] == "2026-09-29T10:00:00Z"
    assert event["changes"]["status"] == [None, "needs_response"]
    assert event["changes"]["order.frozen_amount_minor"] == [0, 5_000]
    assert event["changes"]["reason"] == {"code": "13.1", "category": "not_received", "known": True}


# The deadline --------------------------------------------------------------------------------------


DEADLINES = [
    ("national-day-week-skipped", T0, T0_RESPOND_BY),
    # 01:30 on Tuesday in Shanghai is still Monday in UTC: the local day counts.
    ("late-night-local-day", datetime(2026, 9, 28, 17, 30, tzinfo=UTC), T0_RESPOND_BY),
    # 23:59 on Monday in Shanghai: Tuesday, Wednesday, then 8 Oct.
    (
        "just-before-local-midnight",
        datetime(2026, 9, 28, 15, 59, tzinfo=UTC),
        datetime(2026, 10, 8, 15, 59, 59, 999_999, tzinfo=UTC),
    ),
    # Received Wed 30 Sep: 8 Oct, 9 Oct and Saturday 10 Oct, a make-up working day.
    (
        "make-up-saturday-counts",
        datetime(2026, 9, 29, 16, 30, tzinfo=UTC),
        datetime(2026, 10, 10, 15, 59, 59, 999_999, tzinfo=UTC),
    ),
    # Received Fri 18 Sep: Sunday 20 Sep is a make-up working day, then Mon 21, Tue 22.
    (
        "make-up-sunday-counts",
        datetime(2026, 9, 18, 4, 0, tzinfo=UTC),
        datetime(2026, 9, 22, 15, 59, 59, 999_999, tzinfo=UTC),
    ),
    # Received Thu 24 Sep: Fri 25 Sep is Mid-Autumn Festival, then the weekend.
    (
        "mid-autumn-and-weekend-skipped",
        datetime(2026, 9, 24, 4, 0, tzinfo=UTC),
        datetime(2026, 9, 30, 15, 59, 59, 999_999, tzinfo=UTC),
    ),
]


def test_notice_deadline_is_end_of_third_working_day_in_shanghai(
    client: TestClient, world: World, time_machine: TimeMachineFixture, subtests: pytest.Subtests
) -> None:
    for name, received_at, respond_by in DEADLINES:
        with subtests.test(name):
            time_machine.move_to(received_at + timedelta(hours=1), tick=False)
            order = make_order(client, world.seller["id"])
            case = make_case(client, order["id"], received_at=z(received_at))
            assert case["received_at"] == z(received_at)
            assert case["respond_by"] == z(respond_by)
            local_day = (respond_by + timedelta(hours=8)).date()
            assert case["respond_by_local"] == f"{local_day}T23:59:59.999999+08:00"


def test_received_at_with_offset_is_stored_in_utc(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], received_at="2026-09-29T17:00:00+08:00")
    assert case["received_at"] == "2026-09-29T09:00:00Z"
    assert case["respond_by"] == z(T0_RESPOND_BY)


def test_provider_due_at_earlier_than_computed_deadline_wins(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for name, provider_due_at, respond_by in [
        ("earlier-provider-deadline-wins", "2026-10-01T12:00:00Z", "2026-10-01T12:00:00Z"),
        ("earlier-with-offset", "2026-10-02T01:00:00+08:00", "2026-10-01T17:00:00Z"),
        ("later-provider-deadline-ignored", "2026-10-20T12:00:00Z", z(T0_RESPOND_BY)),
    ]:
        with subtests.test(name):
            order = make_order(client, world.seller["id"])
            case = make_case(client, order["id"], provider_due_at=provider_due_at)
            assert case["respond_by"] == respond_by
            assert case["provider_due_at"] == z(datetime.fromisoformat(provider_due_at))


# Partial chargebacks -------------------------------------------------------------------------------


def test_partial_notices_summing_to_order_amount_freeze_it_all(client: TestClient, world: World) -> None:
    first = make_case(client, world.order["id"], 6_000)
    second = make_case(client, world.order["id"], 4_000)
    order = order_of(client, world.order["id"])
    assert order["fund_status"] == "frozen"
    assert order["frozen_amount_minor"] == 10_000
    assert order["available_amount_minor"] == 0
    assert order["chargeback_ids"] == [first["id"], second["id"]]


def test_notice_over_unfrozen_amount_is_refused_and_changes_nothing(
    client: TestClient, world: World, mailbox: Mailbox, dispatcher: Dispatcher
) -> None:
    make_case(client, world.order["id"], 6_000)
    make_case(client, world.order["id"], 4_000)
    before = state(client, world)

    r = client.post("/v1/chargebacks", json=notice(world.order["id"], 1), headers=PLATFORM)

    body = assert_problem(r, 422, "amount_exceeds_order")
    assert "0" in body["detail"]
    assert state(client, world) == before
    dispatcher.run_until_idle()
    assert len(mailbox.messages) == 2


def test_notice_over_order_amount_on_fresh_order_is_refused(client: TestClient, world: World) -> None:
    before = state(client, world)
    r = client.post("/v1/chargebacks", json=notice(world.order["id"], 10_001), headers=PLATFORM)
    assert_problem(r, 422, "amount_exceeds_order")
    assert state(client, world) == before


# Bad input -----------------------------------------------------------------------------------------


BAD_NOTICES: list[tuple[str, dict[str, Any], int, str, str | None]] = [
    ("currency-not-iso", {"currency": "EUX"}, 422, "validation_error", "currency"),
    ("currency-too-long", {"currency": "EURO"}, 422, "validation_error", "currency"),
    ("currency-not-orders", {"currency": "USD"}, 422, "validation_error", "currency"),
    ("amount-zero", {"amount_minor": 0}, 422, "validation_error", "amount_minor"),
    ("amount-negative", {"amount_minor": -5}, 422, "validation_error", "amount_minor"),
    ("amount-huge", {"amount_minor": 10**15}, 422, "validation_error", "amount_minor"),
    ("amount-bigint", {"amount_minor": 10**40}, 422, "validation_error", "amount_minor"),
    ("amount-string", {"amount_minor": "100"}, 422, "validation_error", "amount_minor"),
    ("amount-fraction", {"amount_minor": 1.5}, 422, "validation_error", "amount_minor"),
    ("amount-bool", {"amount_minor": True}, 422, "validation_error", "amount_minor"),
    ("amount-missing", {"amount_minor": MISSING}, 422, "validation_error", "amount_minor"),
    ("unknown-field", {"unexpected": 1}, 422, "validation_error", "unexpected"),
    ("order-unknown", {"order_id": "ord_00000000000000000000000000"}, 404, "not_found", None),
    ("order-malformed", {"order_id": "no such order"}, 404, "not_found", None),
    ("order-nul", {"order_id": "ord_\x00"}, 422, "validation_error", "order_id"),
    ("order-too-long", {"order_id": "o" * 41}, 422, "validation_error", "order_id"),
    ("order-not-string", {"order_id": 42}, 422, "validation_error", "order_id"),
    (
        "received-beyond-skew",
        {"received_at": z(T0 + timedelta(seconds=301))},
        422,
        "validation_error",
        "received_at",
    ),
    ("received-naive", {"received_at": "2026-09-29T10:00:00"}, 422, "validation_error", "received_at"),
    ("received-text", {"received_at": "yesterday"}, 422, "validation_error", "received_at"),
    (
        "received-year-0-in-utc",
        {"received_at": "0001-01-01T00:00:00+14:00"},
        422,
        "validation_error",
        "received_at",
    ),
    ("received-decades-ago", {"received_at": "2010-01-01T00:00:00Z"}, 422, "validation_error", "received_at"),
    (
        "provider-due-year-10000-in-utc",
        {"provider_due_at": "9999-12-31T23:59:59-14:00"},
        422,
        "validation_error",
        "provider_due_at",
    ),
    (
        "provider-due-before-receipt",
        {"provider_due_at": z(T0 - timedelta(hours=1))},
        422,
        "validation_error",
        "provider_due_at",
    ),
    ("bank-ref-empty", {"bank_reference": ""}, 422, "validation_error", "bank_reference"),
    ("bank-ref-blank", {"bank_reference": "   "}, 422, "validation_error", "bank_reference"),
    ("bank-ref-space", {"bank_reference": "ARN 42"}, 422, "validation_error", "bank_reference"),
    ("bank-ref-long", {"bank_reference": "A" * 65}, 422, "validation_error", "bank_reference"),
    ("reason-empty", {"reason_code": ""}, 422, "validation_error", "reason_code"),
    ("reason-blank", {"reason_code": "  "}, 422, "validation_error", "reason_code"),
    ("reason-invisible", {"reason_code": "13.1\u200b"}, 422, "validation_error", "reason_code"),
    ("network-unknown", {"network": "diners"}, 422, "validation_error", "network"),
]


def test_invalid_notice_is_refused_with_problem_and_writes_nothing(
    client: TestClient, world: World, mailbox: Mailbox, dispatcher: Dispatcher, subtests: pytest.Subtests
) -> None:
    before = state(client, world)
    for name, overrides, status, code, field in BAD_NOTICES:
        with subtests.test(name):
            body = {k: v for k, v in (notice(world.order["id"]) | overrides).items() if v is not MISSING}
            r = client.post("/v1/chargebacks", json=body, headers=PLATFORM)
            assert_problem(r, status, code, field)
            assert state(client, world) == before
    dispatcher.run_until_idle()
    assert mailbox.messages == []


def test_notice_body_that_is_not_an_object_is_refused(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for content, status, code in [
        (b"{", 400, "malformed_json"),
        (b"[]", 422, "validation_error"),
        (b"null", 422, "validation_error"),
        (b"", 422, "validation_error"),
    ]:
        with subtests.test(content.decode()):
            r = client.post(
                "/v1/chargebacks", content=content, headers=PLATFORM | {"Content-Type": "application/json"}
            )
            assert_problem(r, status, code)
    assert cases_of(client) == []


def test_notice_without_credential_is_unauthenticated(client: TestClient, world: World) -> None:
    r = client.post("/v1/chargebacks", json=notice(world.order["id"]))
    assert_problem(r, 401, "invalid_credential")
    assert cases_of(client) == []


def test_notice_from_seller_key_is_forbidden(client: TestClient, world: World) -> None:
    r = client.post("/v1/chargebacks", json=notice(world.order["id"]), headers=world.seller_headers)
    assert_problem(r, 403, "forbidden")
    assert cases_of(client) == []


def test_lower_case_currency_is_accepted_as_upper_case(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], currency="eur")
    assert case["currency"] == "EUR"


def test_received_at_within_clock_skew_is_accepted_as_now(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for ahead in (timedelta(seconds=1), timedelta(seconds=300)):
        with subtests.test(str(ahead)):
            order = make_order(client, world.seller["id"])
            case = make_case(client, order["id"], received_at=z(T0 + ahead))
            assert case["received_at"] == z(T0)
            assert case["respond_by"] == z(T0_RESPOND_BY)


def test_unknown_reason_code_is_kept_and_filed_under_general(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], reason_code="ZZ99")
    assert case["reason_code"] == "ZZ99"
    assert case["reason_category"] == "general"
    assert case["reason_title"] == "Unrecognised reason code"
    assert events_of(client, case["id"])[0]["changes"]["reason"] == {
        "code": "ZZ99",
        "category": "general",
        "known": False,
    }


def test_bank_reference_is_stripped(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], bank_reference="  ARN-42  ")
    assert case["bank_reference"] == "ARN-42"


def test_duplicate_bank_reference_on_same_order_is_conflict(client: TestClient, world: World) -> None:
    make_case(client, world.order["id"], 1_000, bank_reference="ARN-42")
    before = state(client, world)
    for repeat in ("ARN-42", " ARN-42 "):
        r = client.post(
            "/v1/chargebacks",
            json=notice(world.order["id"], 1_000, bank_reference=repeat),
            headers=PLATFORM,
        )
        assert_problem(r, 409, "duplicate_chargeback")
    assert state(client, world) == before


def test_same_bank_reference_on_another_order_is_a_new_case(client: TestClient, world: World) -> None:
    other = make_order(client, world.seller["id"])
    first = make_case(client, world.order["id"], bank_reference="ARN-42")
    second = make_case(client, other["id"], bank_reference="ARN-42")
    assert first["id"] != second["id"]


def test_unknown_or_malformed_id_is_not_found(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for path in [
        "/v1/chargebacks/cb_00000000000000000000000000",
        "/v1/chargebacks/nonsense",
        "/v1/chargebacks/%00",
        "/v1/chargebacks/cb_%00/events",
        "/v1/orders/%00",
        "/v1/orders/ord_00000000000000000000000000",
    ]:
        with subtests.test(path):
            assert_problem(client.get(path, headers=world.seller_headers), 404, "not_found")
            assert_problem(client.get(path, headers=PLATFORM), 404, "not_found")


def test_malformed_message_id_is_not_found(client: TestClient, world: World) -> None:
    r = client.post("/v1/messages/%00/read", headers=world.seller_headers)
    assert_problem(r, 404, "not_found")


# Rulings and acceptance ----------------------------------------------------------------------------


def test_ruling_won_releases_the_frozen_amount(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    r = client.post(
        f"/v1/chargebacks/{case['id']}/ruling",
        json={"outcome": "won", "note": "Issuer accepted proof of delivery."},
        headers=PLATFORM,
    )
    assert r.status_code == 200, r.text
    ruled = r.json()
    assert ruled["status"] == "won"
    assert ruled["version"] == 2
    assert r.headers["etag"] == '"2"'
    assert ruled["closed_at"] == z(T0)
    assert ruled["ruling_note"] == "Issuer accepted proof of delivery."
    assert ruled["working_days_left"] == 0
    order = order_of(client, world.order["id"])
    assert order["fund_status"] == "available"
    assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 0)
    assert order["available_amount_minor"] == 10_000
    assert [e["type"] for e in events_of(client, case["id"])] == ["chargeback.created", "chargeback.won"]
    kinds = [m["kind"] for m in messages_of(client, world.seller_headers)]
    assert kinds == ["chargeback_won", "chargeback_received"]


def test_ruling_lost_debits_the_frozen_amount(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    r = rule(client, case["id"], "lost")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "lost"
    order = order_of(client, world.order["id"])
    assert order["fund_status"] == "debited"
    assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 4_000)
    event = events_of(client, case["id"])[-1]
    assert event["type"] == "chargeback.lost"
    assert event["changes"]["status"] == ["needs_response", "lost"]
    assert event["changes"]["order.funds"] == [
        {"frozen_amount_minor": 4_000, "debited_amount_minor": 0},
        {"frozen_amount_minor": 0, "debited_amount_minor": 4_000},
    ]


def test_ruling_on_one_of_two_partial_cases_settles_only_its_amount(client: TestClient, world: World) -> None:
    won = make_case(client, world.order["id"], 6_000)
    make_case(client, world.order["id"], 3_000)
    assert rule(client, won["id"], "won").status_code == 200
    order = order_of(client, world.order["id"])
    assert order["fund_status"] == "frozen"
    assert (order["frozen_amount_minor"], order["available_amount_minor"]) == (3_000, 7_000)


def test_ruling_on_closed_case_is_conflict(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for first, second in [("won", "won"), ("won", "lost"), ("lost", "won"), ("lost", "lost")]:
        with subtests.test(f"{first} then {second}"):
            order_id = make_order(client, world.seller["id"])["id"]
            case = make_case(client, order_id, 4_000)
            assert rule(client, case["id"], first).status_code == 200
            order = order_of(client, order_id)

            assert_problem(rule(client, case["id"], second), 409, "case_closed")
            assert case_of(client, case["id"])["status"] == first
            assert order_of(client, order_id) == order


def test_ruling_with_stale_if_match_is_precondition_failed(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    etag = client.get(f"/v1/chargebacks/{case['id']}", headers=PLATFORM).headers["etag"]
    assert etag == '"1"'
    accepted = client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers)
    assert accepted.status_code == 200, accepted.text
    order = order_of(client, world.order["id"])

    r = rule(client, case["id"], "won", **{"If-Match": etag})

    assert_problem(r, 412, "precondition_failed")
    assert case_of(client, case["id"])["status"] == "accepted"
    assert order_of(client, world.order["id"]) == order


def test_ruling_with_matching_if_match_succeeds_with_new_etag(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for if_match in ['"1"', 'W/"1"', "1", "*"]:
        with subtests.test(if_match):
            case = make_case(client, make_order(client, world.seller["id"])["id"])
            r = rule(client, case["id"], "lost", **{"If-Match": if_match})
            assert r.status_code == 200, r.text
            assert r.json()["version"] == 2
            assert r.headers["etag"] == '"2"'
            assert client.get(f"/v1/chargebacks/{case['id']}", headers=PLATFORM).headers["etag"] == '"2"'


def test_ruling_with_garbage_if_match_is_invalid(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    assert_problem(
        rule(client, case["id"], "won", **{"If-Match": '"abc"'}), 422, "validation_error", "If-Match"
    )
    assert case_of(client, case["id"])["status"] == "needs_response"


def test_ruling_with_invalid_body_is_refused(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    case = make_case(client, world.order["id"])
    for body, field in [
        ({"outcome": "draw"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "won", "x": 1}, "x"),
        ({"outcome": "won", "note": "x" * 2001}, "note"),
        ({"outcome": "won", "note": "nul \x00"}, "note"),
    ]:
        with subtests.test(str(body)[:40]):
            r = client.post(f"/v1/chargebacks/{case['id']}/ruling", json=body, headers=PLATFORM)
            assert_problem(r, 422, "validation_error", field)
    assert case_of(client, case["id"]) == case


def test_ruling_with_seller_key_is_forbidden(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"])
    r = client.post(
        f"/v1/chargebacks/{case['id']}/ruling", json={"outcome": "won"}, headers=world.seller_headers
    )
    assert_problem(r, 403, "forbidden")
    assert case_of(client, case["id"])["status"] == "needs_response"


def test_ruling_on_unknown_case_is_not_found(client: TestClient, world: World) -> None:
    assert_problem(rule(client, "cb_00000000000000000000000000", "won"), 404, "not_found")


def test_seller_accepting_debits_the_funds(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    r = client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    assert r.headers["etag"] == '"2"'
    order = order_of(client, world.order["id"], world.seller_headers)
    assert order["fund_status"] == "debited"
    assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 4_000)
    event = events_of(client, case["id"], world.seller_headers)[-1]
    assert event["type"] == "chargeback.accepted"
    assert event["actor"].startswith("key_")


def test_accepting_a_closed_case_is_conflict(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for outcome in ("won", "lost"):
        with subtests.test(outcome):
            order_id = make_order(client, world.seller["id"])["id"]
            case = make_case(client, order_id, 4_000)
            assert rule(client, case["id"], outcome).status_code == 200
            order = order_of(client, order_id)
            r = client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers)
            assert_problem(r, 409, "case_closed")
            assert order_of(client, order_id) == order


def test_accepting_twice_is_conflict(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    url = f"/v1/chargebacks/{case['id']}/accept"
    assert client.post(url, headers=world.seller_headers).status_code == 200
    assert_problem(client.post(url, headers=world.seller_headers), 409, "case_closed")
    assert order_of(client, world.order["id"])["debited_amount_minor"] == 4_000


# Expiry --------------------------------------------------------------------------------------------


def test_case_at_its_deadline_is_still_open(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    case = make_case(client, world.order["id"])
    time_machine.move_to(T0_RESPOND_BY, tick=False)
    seen = case_of(client, case["id"], world.seller_headers)
    assert seen["status"] == "needs_response"
    assert seen["working_days_left"] == 1


def test_case_past_its_deadline_reads_expired_before_any_job(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    case = make_case(client, world.order["id"])
    time_machine.move_to(T0_RESPOND_BY + timedelta(microseconds=1), tick=False)
    seen = case_of(client, case["id"], world.seller_headers)
    assert seen["status"] == "expired"
    assert seen["working_days_left"] == 0


def test_order_funds_agree_with_a_lapsed_case_before_any_job(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    lapsing = make_case(client, world.order["id"], 4_000)
    time_machine.move_to(T0 + timedelta(days=3), tick=False)
    still_open = make_case(client, world.order["id"], 1_000)
    time_machine.move_to(T0_RESPOND_BY + timedelta(microseconds=1), tick=False)

    order = order_of(client, world.order["id"], world.seller_headers)

    assert case_of(client, lapsing["id"])["status"] == "expired"
    assert case_of(client, still_open["id"])["status"] == "needs_response"
    assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (1_000, 4_000)
    assert order["fund_status"] == "frozen"
    assert order["available_amount_minor"] == world.order["amount_minor"] - 5_000


def test_dispatcher_debits_expired_case_and_records_it(
    client: TestClient,
    world: World,
    time_machine: TimeMachineFixture,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
) -> None:
    case = make_case(client, world.order["id"], 4_000)
    dispatcher.run_until_idle()
    time_machine.move_to(T0_RESPOND_BY + timedelta(seconds=1), tick=False)

    dispatcher.run_until_idle()

    order = order_of(client, world.order["id"])
    assert order["fund_status"] == "debited"
    assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 4_000)
    seen = case_of(client, case["id"])
    assert seen["status"] == "expired"
    assert seen["version"] == 2
    event = events_of(client, case["id"])[-1]
    assert event["type"] == "chargeback.expired"
    assert event["actor"] == "system"
    assert messages_of(client, world.seller_headers)[0]["kind"] == "chargeback_expired"
    assert [header(m, "Subject") for m in mailbox.messages][1:] == [
        f"Appeal window closed: order {world.order['id']}"
    ]

    dispatcher.run_until_idle()
    assert [e["type"] for e in events_of(client, case["id"])].count("chargeback.expired") == 1
    assert order_of(client, world.order["id"])["debited_amount_minor"] == 4_000


def test_ruling_won_after_expiry_credits_the_debit_back(
    client: TestClient, world: World, time_machine: TimeMachineFixture, dispatcher: Dispatcher
) -> None:
    case = make_case(client, world.order["id"], 4_000)
    time_machine.move_to(T0_RESPOND_BY + timedelta(days=2), tick=False)
    dispatcher.run_until_idle()
    assert order_of(client, world.order["id"])["debited_amount_minor"] == 4_000

    r = rule(client, case["id"], "won")

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "won"
    order = order_of(client, world.order["id"])
    assert order["fund_status"] == "available"
    assert (order["frozen_amount_minor"], order["debited_amount_minor"]) == (0, 0)


def test_ruling_won_on_expired_case_no_job_saw_settles_both_steps(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    case = make_case(client, world.order["id"], 4_000)
    time_machine.move_to(T0_RESPOND_BY + timedelta(days=2), tick=False)

    assert rule(client, case["id"], "won").status_code == 200

    order = order_of(client, world.order["id"])
    assert (order["fund_status"], order["frozen_amount_minor"], order["debited_amount_minor"]) == (
        "available",
        0,
        0,
    )
    types = [e["type"] for e in events_of(client, case["id"])]
    assert types == ["chargeback.created", "chargeback.expired", "chargeback.won"]


def test_ruling_lost_after_expiry_keeps_the_debit(
    client: TestClient, world: World, time_machine: TimeMachineFixture, dispatcher: Dispatcher
) -> None:
    case = make_case(client, world.order["id"], 4_000)
    time_machine.move_to(T0_RESPOND_BY + timedelta(days=2), tick=False)
    dispatcher.run_until_idle()
    assert rule(client, case["id"], "lost").json()["status"] == "lost"
    assert order_of(client, world.order["id"])["debited_amount_minor"] == 4_000


def test_accepting_an_expired_case_is_conflict(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    case = make_case(client, world.order["id"], 4_000)
    time_machine.move_to(T0_RESPOND_BY + timedelta(hours=1), tick=False)
    r = client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers)
    assert_problem(r, 409, "case_closed")
    assert case_of(client, case["id"])["version"] == 1


# Reminders -----------------------------------------------------------------------------------------


def reminders(client: TestClient, world: World, mailbox: Mailbox) -> tuple[list[str], list[str]]:
    kinds = [
        m["chargeback_id"]
        for m in messages_of(client, world.seller_headers)
        if m["kind"] == "appeal_reminder"
    ]
    subjects = [
        header(m, "Subject") for m in mailbox.messages if header(m, "Subject").startswith("Reminder:")
    ]
    return kinds, subjects


def test_reminder_is_sent_once_within_a_day_of_the_deadline(
    client: TestClient,
    world: World,
    time_machine: TimeMachineFixture,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
) -> None:
    case = make_case(client, world.order["id"])
    time_machine.move_to(T0_RESPOND_BY - timedelta(hours=25), tick=False)
    dispatcher.run_until_idle()
    assert reminders(client, world, mailbox) == ([], [])

    time_machine.move_to(T0_RESPOND_BY - timedelta(hours=23), tick=False)
    dispatcher.run_until_idle()
    subject = f"Reminder: appeal the chargeback on order {world.order['id']} by 09 Oct 2026"
    assert reminders(client, world, mailbox) == ([case["id"]], [subject])
    reminder_mail = next(m for m in mailbox.messages if header(m, "Subject") == subject)
    assert reminder_mail["To"] == world.seller["email"]
    assert "Friday 09 October 2026, 23:59 (Asia/Shanghai time)" in body_of(reminder_mail)
    assert events_of(client, case["id"])[-1]["type"] == "chargeback.reminder_sent"

    dispatcher.run_until_idle()
    time_machine.move_to(T0_RESPOND_BY - timedelta(hours=1), tick=False)
    dispatcher.run_until_idle()
    assert reminders(client, world, mailbox) == ([case["id"]], [subject])


def test_closed_case_gets_no_reminder(
    client: TestClient,
    world: World,
    time_machine: TimeMachineFixture,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
) -> None:
    case = make_case(client, world.order["id"])
    assert (
        client.post(f"/v1/chargebacks/{case['id']}/accept", headers=world.seller_headers).status_code == 200
    )
    time_machine.move_to(T0_RESPOND_BY - timedelta(hours=23), tick=False)
    dispatcher.run_until_idle()
    assert reminders(client, world, mailbox) == ([], [])
    assert len(mailbox.messages) == 2  # received, accepted


# Tenant isolation ----------------------------------------------------------------------------------


@pytest.fixture
def intruder(client: TestClient) -> dict[str, str]:
    """A second seller's key."""
    other = make_seller(client, name="Other Shop", email="ops@other-shop.example")
    return make_key(client, other["id"])


def test_other_sellers_case_is_not_found(client: TestClient, world: World, intruder: dict[str, str]) -> None:
    case = make_case(client, world.order["id"])
    for suffix in ("", "/events"):
        r = client.get(f"/v1/chargebacks/{case['id']}{suffix}", headers=intruder)
        body = assert_problem(r, 404, "not_found")
        assert body["detail"] == f"Chargeback {case['id']} does not exist."


def test_other_sellers_order_is_not_found(client: TestClient, world: World, intruder: dict[str, str]) -> None:
    make_case(client, world.order["id"])
    assert_problem(client.get(f"/v1/orders/{world.order['id']}", headers=intruder), 404, "not_found")


def test_other_seller_cannot_accept_the_case(
    client: TestClient, world: World, intruder: dict[str, str]
) -> None:
    case = make_case(client, world.order["id"], 4_000)
    assert_problem(client.post(f"/v1/chargebacks/{case['id']}/accept", headers=intruder), 404, "not_found")
    assert case_of(client, case["id"])["status"] == "needs_response"
    assert order_of(client, world.order["id"])["debited_amount_minor"] == 0


def test_other_seller_cannot_read_the_sellers_messages(
    client: TestClient, world: World, intruder: dict[str, str]
) -> None:
    make_case(client, world.order["id"])
    message = messages_of(client, world.seller_headers)[0]
    assert messages_of(client, intruder) == []
    assert_problem(client.post(f"/v1/messages/{message['id']}/read", headers=intruder), 404, "not_found")
    assert messages_of(client, world.seller_headers, "?unread=true")[0]["id"] == message["id"]


def test_list_shows_only_the_callers_cases(
    client: TestClient, world: World, intruder: dict[str, str]
) -> None:
    mine = make_case(client, world.order["id"])
    theirs_seller = client.get("/v1/chargebacks", headers=intruder)
    assert theirs_seller.status_code == 200
    assert theirs_seller.json()["data"] == []
    r = client.get(f"/v1/chargebacks?seller_id={world.seller['id']}", headers=intruder)
    assert r.status_code == 200
    assert r.json()["data"] == []
    r = client.get(f"/v1/chargebacks?order_id={world.order['id']}", headers=intruder)
    assert r.json()["data"] == []
    assert [c["id"] for c in client.get("/v1/chargebacks", headers=world.seller_headers).json()["data"]] == [
        mine["id"]
    ]
