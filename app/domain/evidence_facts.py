"""The facts a seller gives with evidence, checked against the case: warnings, never silent acceptance.

An evidence item may carry facts (all optional; datetimes are aware
``datetime`` objects parsed by the caller): ``carrier``, ``tracking_number``,
``shipped_at``, ``delivered_at``, ``delivery_address``, ``signed``,
``refund_id``, ``refund_amount_minor``, ``refund_currency``, ``refunded_at``,
``expected_delivery_at``. :func:`fact_warnings` reports the ones a bank would
reject or discount, and the package budget, each under a stable code in
:data:`WARNING_MESSAGES`. Sources: Visa 13.1 (a refund or delivery after the
notice, the expected delivery date), the Mastercard Chargeback Guide (at most
19 pages per package).

Decisions: a fact is checked on every item that carries it, whatever the
item's type; a fact of the wrong type (or a blank string) counts as absent; a
refund without a currency is taken to be in the case's currency.
:mod:`app.domain.evidence_rules` re-exports the public names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from app.domain.money import minor_units

NEAR_SIZE_LIMIT = Decimal("0.9")
REPLACEMENT_TYPE = "replacement_proof"
DELIVERY_RECORD_TYPES = frozenset({"delivery_proof", "shipping_proof"})
"""Evidence types (values of ``EvidenceType``) that the replacement check looks for."""


@dataclass(frozen=True, slots=True)
class ProvidedEvidence:
    """One uploaded evidence item; ``facts`` holds the optional checked facts (datetimes aware)."""

    id: str
    evidence_type: str
    facts: Mapping[str, Any]
    pages: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class CaseContext:
    """What the evaluation needs to know about the case; the caller computes ``accepting_appeal``."""

    reason_category: str
    amount_minor: int
    currency: str
    received_at: datetime
    respond_by: datetime
    now: datetime
    accepting_appeal: bool
    order_address: str | None
    package_bytes: int
    package_pages: int
    max_package_bytes: int
    max_package_pages: int


@dataclass(frozen=True, slots=True)
class EvidenceWarning:
    """A fact or package problem; ``code`` is stable, ``message`` is for the seller."""

    code: str
    message: str
    evidence_id: str | None = None


WARNING_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "refund_currency_differs": (
            "The refund is in {refund_currency} but the disputed payment is in {currency}; the bank may"
            " not count it as a full refund."
        ),
        "refund_less_than_disputed": (
            "The refund of {refund} is less than the disputed {disputed}; the bank may keep the "
            "chargeback for the difference."
        ),
        "refund_after_notice": (
            "The refund is dated {refunded_at}, after the chargeback notice of {received_at}; it may "
            "not count."
        ),
        "delivery_after_notice": (
            "The delivery is dated {delivered_at}, after the chargeback notice of {received_at}; the "
            "bank may not count it."
        ),
        "delivery_in_future": (
            "The delivery is dated {delivered_at}, which is later than now ({now}); check the date."
        ),
        "shipped_after_delivery": (
            "The parcel is shown shipped on {shipped_at}, after its delivery on {delivered_at}; check "
            "both dates."
        ),
        "delivery_address_differs": (
            "The delivery address ({address}) differs from the order's address ({order}); the bank may "
            "not accept the delivery."
        ),
        "replacement_without_delivery": (
            "The replacement has no tracking number or delivery date, and no proof of delivery or "
            "shipping is uploaded; add the replacement's own delivery record."
        ),
        "tracking_without_carrier": (
            "The tracking number {tracking} has no carrier; name the carrier so the bank can check it."
        ),
        "promised_date_passed": (
            "The promised delivery date {expected} has passed, so you can no longer argue that delivery"
            " is not yet due."
        ),
        "package_over_page_budget": (
            "The package has {pages} pages, over its budget of {max_pages} (Mastercard accepts at most "
            "19 and charges for pages beyond); it is still built, but consider trimming it."
        ),
        "package_near_size_limit": (
            "The package is {size} bytes, at least 90 % of its {max_size}-byte limit; keep further "
            "uploads small."
        ),
    }
)
"""Every warning code and its message template: codes are stable, messages name the figures."""


def _fact(facts: Mapping[str, Any], key: str, kind: type[Any]) -> Any:
    value = facts.get(key)
    if isinstance(value, str):
        value = value.strip() or None
    # bool is an int: a True amount is no amount.
    return value if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool) else None


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _money(amount_minor: int, currency: str) -> str:
    places = minor_units(currency)
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f} {currency}"


def normalise_address(address: str) -> str:
    """An address compared loosely: NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", address).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def _warning(code: str, evidence_id: str | None = None, **figures: object) -> EvidenceWarning:
    return EvidenceWarning(code, WARNING_MESSAGES[code].format(**figures), evidence_id)


def _item_warnings(
    context: CaseContext, item: ProvidedEvidence, has_delivery_record: bool
) -> Iterator[EvidenceWarning]:
    facts, currency, received_at = item.facts, context.currency.upper(), _when(context.received_at)
    refund_currency = (_fact(facts, "refund_currency", str) or currency).upper()
    refund = _fact(facts, "refund_amount_minor", int)
    if refund_currency != currency:
        yield _warning("refund_currency_differs", item.id, refund_currency=refund_currency, currency=currency)
    elif refund is not None and refund < context.amount_minor:
        disputed = _money(context.amount_minor, currency)
        yield _warning(
            "refund_less_than_disputed", item.id, refund=_money(refund, currency), disputed=disputed
        )
    refunded_at = _fact(facts, "refunded_at", datetime)
    if refunded_at is not None and refunded_at > context.received_at:
        yield _warning(
            "refund_after_notice", item.id, refunded_at=_when(refunded_at), received_at=received_at
        )
    delivered_at = _fact(facts, "delivered_at", datetime)
    shipped_at = _fact(facts, "shipped_at", datetime)
    if delivered_at is not None and delivered_at > context.received_at:
        yield _warning(
            "delivery_after_notice", item.id, delivered_at=_when(delivered_at), received_at=received_at
        )
    if delivered_at is not None and delivered_at > context.now:
        yield _warning(
            "delivery_in_future", item.id, delivered_at=_when(delivered_at), now=_when(context.now)
        )
    if delivered_at is not None and shipped_at is not None and shipped_at > delivered_at:
        yield _warning(
            "shipped_after_delivery", item.id, shipped_at=_when(shipped_at), delivered_at=_when(delivered_at)
        )
    address, order = _fact(facts, "delivery_address", str), context.order_address
    if address and order and normalise_address(address) != normalise_address(order):
        yield _warning("delivery_address_differs", item.id, address=address, order=order)
    tracking = _fact(facts, "tracking_number", str)
    if item.evidence_type == REPLACEMENT_TYPE and not (tracking or delivered_at or has_delivery_record):
        yield _warning("replacement_without_delivery", item.id)
    if tracking and not _fact(facts, "carrier", str):
        yield _warning("tracking_without_carrier", item.id, tracking=tracking)


def fact_warnings(
    context: CaseContext, evidence: Sequence[ProvidedEvidence], *, promise_matters: bool
) -> tuple[EvidenceWarning, ...]:
    """The case's warnings: each item's fact problems in evidence order, then the package's.

    Business rule: a refund smaller than the disputed amount or dated after
    the notice, a delivery after the notice or in the future, a delivery
    address other than the order's and a replacement without its own delivery
    record may all lose the appeal (Visa 13.1). ``promise_matters`` asks for
    ``promised_date_passed`` (a category that can argue delivery is not yet
    due). A package over its page budget (the Mastercard 19-page cap) or at
    90 % of its size limit is warned about while there is time to trim it.
    """
    return tuple(_warnings(context, evidence, promise_matters))


def _warnings(
    context: CaseContext, evidence: Sequence[ProvidedEvidence], promise_matters: bool
) -> Iterator[EvidenceWarning]:
    has_delivery_record = any(item.evidence_type in DELIVERY_RECORD_TYPES for item in evidence)
    for item in evidence:
        yield from _item_warnings(context, item, has_delivery_record)
        expected = _fact(item.facts, "expected_delivery_at", datetime)
        if promise_matters and expected is not None and expected < context.now:
            yield _warning("promised_date_passed", item.id, expected=_when(expected))
    if context.package_pages > context.max_package_pages:
        yield _warning(
            "package_over_page_budget", pages=context.package_pages, max_pages=context.max_package_pages
        )
    if context.max_package_bytes > 0 and context.package_bytes >= NEAR_SIZE_LIMIT * context.max_package_bytes:
        yield _warning(
            "package_near_size_limit", size=context.package_bytes, max_size=context.max_package_bytes
        )
