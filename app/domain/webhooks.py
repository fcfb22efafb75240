"""Webhook rules (Standard Webhooks): event types, thin payloads, the retry schedule, and which
endpoint URLs and addresses a delivery may reach.

Sources: the Standard Webhooks specification (https://www.standardwebhooks.com/: ``webhook-id``,
``webhook-timestamp``, ``webhook-signature``, the retry schedule "immediately, 5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 10 h"), RFC 9110 §10.2.3 (``Retry-After``) and the IANA special-purpose address
registries (what is not globally reachable, so a webhook could be turned against our own network).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

# What a case change is called in the audit trail → the event type sent to endpoints.
_AUDIT_TO_EVENT = {
    "chargeback.created": "chargeback.created",
    "chargeback.reminder_sent": "chargeback.reminder",
    "chargeback.won": "chargeback.won",
    "chargeback.lost": "chargeback.lost",
    "chargeback.accepted": "chargeback.accepted",
    "chargeback.expired": "chargeback.expired",
    "chargeback.evidence_added": "chargeback.evidence_added",
    "chargeback.evidence_removed": "chargeback.evidence_removed",
    "chargeback.appealed": "chargeback.appealed",
}
EVENT_TYPES: tuple[str, ...] = tuple(_AUDIT_TO_EVENT.values())

# Standard Webhooks' schedule: the wait before attempt n + 2 after attempt n + 1 failed.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.1  # each wait is spread by up to ±10 %, so failed deliveries do not return in lockstep
MAX_RETRY_AFTER = timedelta(hours=24)  # a receiver may slow us down, not park a message for ever
ROTATION_OVERLAP = timedelta(hours=24)  # the old secret keeps signing this long after a rotation
MAX_URL_LENGTH = 2000
MAX_ENDPOINTS_PER_SELLER = 20  # every event is sent once per endpoint: a bound on that fan-out
DELIVERY_TIMEOUT_SECONDS = 10.0


def event_type(audit_type: str) -> str | None:
    """The webhook event type of an audit-trail entry, or None if endpoints are not told of it."""
    return _AUDIT_TO_EVENT.get(audit_type)


def unknown_event_types(requested: list[str]) -> list[str]:
    """The names in ``requested`` that are not event types (in request order, once each)."""
    return list(dict.fromkeys(name for name in requested if name not in _AUDIT_TO_EVENT.values()))


def event_data(case_id: str, order_id: str, seller_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A thin payload's ``data``: the case's ids and the status this change left it in.

    Events that do not move the status (a reminder, evidence added or removed) only happen to open
    cases, so their status is ``needs_response``. The receiver fetches the case for the rest.
    """
    status = changes.get("status")
    data: dict[str, Any] = {
        "id": case_id,
        "order_id": order_id,
        "seller_id": seller_id,
        "status": status[1] if isinstance(status, list) and len(status) == 2 else "needs_response",
    }
    if "evidence_id" in changes:
        data["evidence_id"] = changes["evidence_id"]
    appeal = changes.get("appeal_id")
    if isinstance(appeal, list) and len(appeal) == 2:
        data["appeal_id"] = appeal[1]
    respond_by = changes.get("respond_by")
    if isinstance(respond_by, list) and len(respond_by) == 2:
        data["respond_by"] = respond_by[1]
    return data


def retry_delay(attempts: int, jitter: float, retry_after: timedelta | None = None) -> timedelta | None:
    """How long to wait after the ``attempts``-th attempt failed; None when no attempt is left.

    ``jitter`` in [0, 1) spreads the wait by ±``JITTER``. A receiver's ``Retry-After`` (a 429 or
    503 asking us to come back later) lengthens the wait, up to ``MAX_RETRY_AFTER``; it never
    shortens the schedule.
    """
    if attempts < 1 or attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_SCHEDULE[attempts - 1] * (1 + JITTER * (2 * jitter - 1))
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_AFTER)
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a wait: delay-seconds or an HTTP-date (RFC 9110); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=min(int(value), int(MAX_RETRY_AFTER.total_seconds())))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def should_disable(last_success_at: datetime | None, failing_since: datetime) -> bool:
    """A delivery that used up every attempt disables its endpoint when nothing reached the endpoint
    since that delivery began (so the endpoint has failed for the whole schedule, about 28 hours);
    one payload refused by an otherwise working endpoint disables nothing."""
    return last_success_at is None or last_success_at < failing_since


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def address_refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why a delivery may not connect to ``address``, or None when it may.

    Only globally reachable unicast addresses are allowed: loopback, private (RFC 1918, unique
    local), link-local (cloud metadata services live there), shared CGNAT space, and the
    IPv4-mapped form of any of them would let an endpoint reach inside our network. With
    ``allow_private`` (tests, local development) those are allowed; addresses that can never be a
    receiver (unspecified, multicast, reserved) are refused always.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_refusal(address.ipv4_mapped, allow_private)
    if address.is_unspecified:
        return "is the unspecified address"
    if address.is_multicast:
        return "is a multicast address"
    inside = None
    if address.is_loopback:
        inside = "is a loopback address"
    elif address.is_reserved:
        return "is a reserved address"
    elif address.is_link_local:
        inside = "is a link-local address"
    elif isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        inside = "is in the shared (CGNAT) address space"
    elif address.is_private:
        inside = "is a private address"
    if inside is not None:
        return None if allow_private else inside
    if not address.is_global and not allow_private:
        return "is not a globally reachable address"
    return None


def url_problems(url: str, allow_private: bool) -> list[str]:
    """What is wrong with an endpoint URL by its text alone (its addresses are checked separately)."""
    if len(url) > MAX_URL_LENGTH:
        return [f"is longer than {MAX_URL_LENGTH} characters"]
    if not url.isascii():
        return ["must be ASCII: percent-encode other characters, write a host in its xn-- form"]
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        return ["must not contain spaces or control characters"]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ["is not a valid URL"]
    problems = []
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        problems.append("must use https" if not allow_private else "must use https or http")
    if not parts.hostname:
        problems.append("must name a host")
    if parts.username is not None or parts.password is not None:
        problems.append("must not carry credentials (user:password@)")
    if parts.fragment:
        problems.append("must not have a fragment (#…)")
    if port == 0:
        problems.append("must not use port 0")
    return problems


def literal_address(host: str) -> IPAddress | None:
    """The host as an IP address when it is one (``[::1]`` without brackets), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
