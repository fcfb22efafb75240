"""Unit tests for app.domain.webhooks: event types and payloads, the retry schedule, Retry-After,
when an endpoint is disabled, and which URLs and addresses a webhook may reach."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.webhooks import (
    EVENT_TYPES,
    JITTER,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER,
    RETRY_SCHEDULE,
    address_refusal,
    event_data,
    event_type,
    parse_retry_after,
    retry_delay,
    should_disable,
    unknown_event_types,
    url_problems,
)

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
_ASCII = "must be ASCII: percent-encode other characters, write a host in its xn-- form"


@pytest.mark.parametrize(
    ("audit", "sent"),
    [
        ("chargeback.created", "chargeback.created"),
        ("chargeback.reminder_sent", "chargeback.reminder"),
        ("chargeback.won", "chargeback.won"),
        ("chargeback.lost", "chargeback.lost"),
        ("chargeback.accepted", "chargeback.accepted"),
        ("chargeback.expired", "chargeback.expired"),
        ("chargeback.evidence_added", "chargeback.evidence_added"),
        ("chargeback.evidence_removed", "chargeback.evidence_removed"),
        ("chargeback.appealed", "chargeback.appealed"),
        ("chargeback.something_internal", None),
    ],
)
def test_audit_entries_map_to_event_types(audit: str, sent: str | None) -> None:
    assert event_type(audit) == sent


def test_unknown_event_types_are_named_once_in_request_order() -> None:
    asked = ["chargeback.won", "case.won", "chargeback.exploded", "case.won"]
    assert unknown_event_types(asked) == ["case.won", "chargeback.exploded"]
    assert unknown_event_types(list(EVENT_TYPES)) == []


def test_event_data_is_thin_and_carries_the_status_the_change_left() -> None:
    ids = ("cb_1", "ord_1", "sel_1")
    base = {"id": "cb_1", "order_id": "ord_1", "seller_id": "sel_1"}
    created = {"status": [None, "needs_response"], "respond_by": [None, "2026-12-03T15:59:59.999999Z"]}
    assert event_data(*ids, created) == base | {
        "status": "needs_response",
        "respond_by": "2026-12-03T15:59:59.999999Z",
    }
    appealed = {"status": ["needs_response", "under_review"], "appeal_id": [None, "apl_1"], "sha": "x"}
    assert event_data(*ids, appealed) == base | {"status": "under_review", "appeal_id": "apl_1"}
    evidence = {"evidence_id": "ev_1", "evidence_type": "delivery_proof"}
    assert event_data(*ids, evidence) == base | {"status": "needs_response", "evidence_id": "ev_1"}
    assert event_data(*ids, {"reminded_at": [None, "…"]}) == base | {"status": "needs_response"}


def test_retry_schedule_is_standard_webhooks() -> None:
    assert [d.total_seconds() for d in RETRY_SCHEDULE] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert MAX_ATTEMPTS == 8


@pytest.mark.parametrize("attempts", range(1, MAX_ATTEMPTS))
def test_retry_delay_follows_the_schedule_within_the_jitter(attempts: int) -> None:
    step = RETRY_SCHEDULE[attempts - 1]
    assert retry_delay(attempts, 0.5) == step
    assert retry_delay(attempts, 0.0) == step * (1 - JITTER)
    low, high = retry_delay(attempts, 0.0), retry_delay(attempts, 0.999)
    assert low is not None
    assert high is not None
    assert step * (1 - JITTER) <= low < high < step * (1 + JITTER)


def test_no_retry_after_the_last_attempt() -> None:
    assert retry_delay(MAX_ATTEMPTS, 0.5) is None
    assert retry_delay(0, 0.5) is None


def test_retry_after_lengthens_the_wait_but_never_shortens_it() -> None:
    assert retry_delay(1, 0.5, timedelta(minutes=2)) == timedelta(minutes=2)
    assert retry_delay(2, 0.5, timedelta(seconds=1)) == timedelta(minutes=5)
    assert retry_delay(1, 0.5, timedelta(days=9)) == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Mon, 30 Nov 2026 02:10:00 GMT", timedelta(minutes=10)),
        ("Mon, 30 Nov 2026 01:00:00 GMT", timedelta(0)),  # in the past: no extra wait
        ("99999999999", MAX_RETRY_AFTER),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, wait: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == wait


def test_an_endpoint_is_disabled_only_when_nothing_reached_it_since_the_failed_delivery_began() -> None:
    began = NOW - timedelta(hours=28)
    assert should_disable(None, began)
    assert should_disable(began - timedelta(seconds=1), began)
    assert not should_disable(began + timedelta(hours=1), began)


@pytest.mark.parametrize(
    ("address", "strict", "relaxed"),
    [
        ("93.184.215.14", None, None),
        ("2606:4700:4700::1111", None, None),
        ("127.0.0.1", "is a loopback address", None),
        ("::1", "is a loopback address", None),
        ("10.0.0.1", "is a private address", None),
        ("172.16.5.4", "is a private address", None),
        ("192.168.1.1", "is a private address", None),
        ("fd12:3456::1", "is a private address", None),
        ("169.254.169.254", "is a link-local address", None),
        ("fe80::1", "is a link-local address", None),
        ("100.64.0.1", "is in the shared (CGNAT) address space", None),
        ("::ffff:127.0.0.1", "is a loopback address", None),
        ("::ffff:10.0.0.1", "is a private address", None),
        ("::ffff:93.184.215.14", None, None),
        ("0.0.0.0", "is the unspecified address", "is the unspecified address"),
        ("::", "is the unspecified address", "is the unspecified address"),
        ("224.0.0.1", "is a multicast address", "is a multicast address"),
        ("ff02::1", "is a multicast address", "is a multicast address"),
        ("240.0.0.1", "is a reserved address", "is a reserved address"),
        ("192.0.2.1", "is a private address", None),  # documentation range (TEST-NET-1)
    ],
)
def test_only_public_unicast_addresses_are_reachable(
    address: str, strict: str | None, relaxed: str | None
) -> None:
    ip = ipaddress.ip_address(address)
    assert address_refusal(ip, allow_private=False) == strict
    assert address_refusal(ip, allow_private=True) == relaxed


@pytest.mark.parametrize(
    ("url", "strict", "relaxed"),
    [
        ("https://erp.example/hooks", [], []),
        ("http://erp.example/hooks", ["must use https"], []),
        ("ftp://erp.example/hooks", ["must use https"], ["must use https or http"]),
        (
            "https://erp.example/" + "a" * 2000,
            ["is longer than 2000 characters"],
            ["is longer than 2000 characters"],
        ),
        (
            "https://user:pw@erp.example/",
            ["must not carry credentials (user:password@)"],
            ["must not carry credentials (user:password@)"],
        ),
        ("https://erp.example/#x", ["must not have a fragment (#…)"], ["must not have a fragment (#…)"]),
        ("https://erp.example:0/", ["must not use port 0"], ["must not use port 0"]),
        ("https://erp.example:99999/", ["is not a valid URL"], ["is not a valid URL"]),
        ("https:///hooks", ["must name a host"], ["must name a host"]),
        (
            "https://erp.example/a b",
            ["must not contain spaces or control characters"],
            ["must not contain spaces or control characters"],
        ),
        ("https://[::1/", ["is not a valid URL"], ["is not a valid URL"]),
        ("https://bücher.example/", [_ASCII], [_ASCII]),
        ("https://erp.example/\ud800", [_ASCII], [_ASCII]),
    ],
)
def test_url_problems(url: str, strict: list[str], relaxed: list[str]) -> None:
    assert url_problems(url, allow_private=False) == strict
    assert url_problems(url, allow_private=True) == relaxed
