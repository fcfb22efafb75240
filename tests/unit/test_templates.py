from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain.evidence_rules import advice_lines
from app.domain.reasons import ReasonCategory
from app.notify.templates import CaseFacts, case_closed, case_opened, reminder

SHANGHAI = ZoneInfo("Asia/Shanghai")


def facts(seller_timezone: str | None) -> CaseFacts:
    return CaseFacts(
        seller_name="Acme Shop",
        order_label="SO-2026-000123",
        amount="129.99 EUR",
        reason_title="Merchandise/Services Not Received",
        reason_explanation="The cardholder says they did not receive the goods.",
        reason_code="13.1",
        bank_reference="ARN42",
        case_id="cb_x",
        respond_by_local=datetime(2026, 12, 2, 23, 59, 59, 999999, tzinfo=SHANGHAI),
        timezone="Asia/Shanghai",
        working_days=3,
        case_url="http://127.0.0.1:8000/v1/chargebacks/cb_x",
        seller_timezone=seller_timezone,
    )


def test_notice_names_order_amount_reason_deadline_and_next_steps() -> None:
    body = case_opened(facts("Asia/Shanghai")).body
    for expected in (
        "SO-2026-000123",
        "129.99 EUR",
        "did not receive",
        "Wednesday 02 December 2026, 23:59 (Asia/Shanghai time)",
        "What to do next",
        "http://127.0.0.1:8000/v1/chargebacks/cb_x",
    ):
        assert expected in body
    assert "in Asia/Shanghai)" not in body  # no second time for a seller in the business time zone


def test_seller_elsewhere_also_reads_the_deadline_in_its_own_time() -> None:
    body = case_opened(facts("Europe/Berlin")).body
    assert "(Asia/Shanghai time; Wednesday 02 December 2026, 16:59 in Europe/Berlin)" in body


def test_reminder_and_closing_share_the_deadline_wording() -> None:
    assert "16:59 in America/New_York" not in reminder(facts("Europe/Berlin")).body
    assert "10:59 in America/New_York" in reminder(facts("America/New_York")).body


@pytest.mark.parametrize("outcome", ["won", "lost", "accepted", "expired"])
def test_closing_message_says_what_happened_to_the_money(outcome: str) -> None:
    rendered = case_closed(facts(None), outcome, None, datetime(2026, 12, 3, tzinfo=SHANGHAI))
    assert rendered.kind == f"chargeback_{outcome}"
    assert ("released" if outcome == "won" else "debited") in rendered.body


@pytest.mark.parametrize("category", [c.value for c in ReasonCategory])
def test_notice_and_reminder_list_the_evidence_to_gather_within_a_message(category: str) -> None:
    # A message-centre body holds at most 4,000 characters; the longest reason explanations are ~300.
    checklist = tuple(advice_lines(category))
    given = replace(
        facts("Europe/Berlin"),
        reason_explanation="x" * 400,
        checklist=checklist,
        report_url="http://127.0.0.1:8000/v1/chargebacks/cb_x/evidence-report",
    )
    for rendered in (case_opened(given), reminder(given)):
        assert all(line in rendered.body for line in checklist)
        assert given.report_url in rendered.body
        assert len(rendered.body) <= 4_000
