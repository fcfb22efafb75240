"""Chargeback reason codes and the category we file each one under.

Card networks and payment providers each send their own reason codes.
:func:`classify` maps any of them to one of our :class:`ReasonCategory` values,
with a short title and a plain-words explanation a seller can read in an email.
The table is the data file ``data/reason_codes.csv`` (columns ``code``,
``network``, ``category``, ``title``, ``explanation``), read and validated once
at import by :func:`parse_reason_table`. Its sources:

* Visa: Visa Claims Resolution reason codes (Visa Dispute Management
  Guidelines, Visa Core Rules), including 12.6.1 and 12.6.2.
* Mastercard: Chargeback Guide message reason codes.
* American Express: Merchant Regulations dispute reason codes.
* Discover: Dispute Rules Manual dispute reason codes.
* Stripe: API reference, Disputes, ``dispute.reason``.
* PayPal: Disputes API ``reason``.

Decisions, in one place:

* Lookup is case-insensitive; the code is reported in its canonical spelling
  (``"Fraudulent"`` becomes ``"fraudulent"``, ``"c08"`` becomes ``"C08"``).
* Our own category names are codes too (``"not_received"``; network ``None``,
  written ``ours`` in the data file so that no field is left empty).
* A name that exists in several tables (``duplicate``, ``general`` and
  ``credit_not_processed`` are Stripe names and our own; the last is also a
  PayPal name) resolves to the entry of the given network; without a network
  (or with one that has no such entry) an exact spelling match wins, then our
  own entry. ``"CREDIT_NOT_PROCESSED"`` is PayPal's, ``"duplicate"`` is ours.
* A network that contradicts a known code does not hide it: ``"4837"`` sent
  with network ``"visa"`` is still Mastercard 4837.
* Mastercard 4834 (Point-of-Interaction Error) is filed as ``duplicate``, as the
  evidence rules file it: its common cases are a double charge and a purchase
  paid by other means, whose defence is the order receipts or a refund.
* Unknown codes are not an error: they are ``GENERAL`` with ``known=False``,
  the code kept as sent (stripped) and the network as given (``None`` when the
  given network is not one we know). We do not guess a network for them.
* Mastercard 4853 "Cardholder Dispute" now covers not-received, not-as-
  described, counterfeit, credit-not-processed and recurring disputes; we file
  it under ``NOT_AS_DESCRIBED``, its most common meaning. The legacy codes it
  replaced keep their narrower meaning (4855 not received, 4860 and 4841
  credit not processed).
* Legacy Mastercard codes still sent by some acquirers (4807, 4812, 4831, 4840,
  4841, 4842, 4846, 4854, 4855, 4859, 4860, 4862, 4863) are in the table, as
  is PayPal's older ``ITEM_NOT_RECEIVED``.
* Discover is covered by its two-letter / ``UA`` dispute codes only; the
  numeric Discover codes some processors send (e.g. 4863 "Authorization
  Non-Compliance") collide with Mastercard codes and are left out.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

from app.domain.errors import FieldProblem, InvalidInput

MAX_CODE_LENGTH = 64

UNKNOWN_TITLE = "Unrecognised reason code"
UNKNOWN_EXPLANATION = (
    "The bank or payment provider sent a reason code we do not recognise. "
    "Check the dispute details from the provider to see what the buyer claims."
)

NETWORKS: frozenset[str] = frozenset({"visa", "mastercard", "amex", "discover", "stripe", "paypal"})

OWN_NETWORK = "ours"
"""The data file's network for our own category names (``ReasonInfo.network`` is ``None`` for them)."""

COLUMNS = ("code", "network", "category", "title", "explanation")


class ReasonCategory(StrEnum):
    """Our own grouping of chargeback reasons, one per kind of claim and evidence."""

    FRAUD = "fraud"
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    CREDIT_NOT_PROCESSED = "credit_not_processed"
    DUPLICATE = "duplicate"
    PROCESSING_ERROR = "processing_error"
    GENERAL = "general"


@dataclass(frozen=True)
class ReasonInfo:
    """What a reason code means: its category, a title and a plain-words explanation."""

    code: str
    network: str | None
    category: ReasonCategory
    title: str
    explanation: str
    known: bool


class ReasonTableError(ValueError):
    """The reason-code table is malformed; the message names the file and the line."""


def parse_reason_table(text: str, source: str = "reason_codes.csv") -> tuple[ReasonInfo, ...]:
    """Read the reason-code table from CSV ``text`` and check it, keeping the file's row order.

    Business rule: every code we accept means one thing per network, so a code
    that is ambiguous or misfiled must stop the service at start-up rather than
    mislead a seller later. Raises :class:`ReasonTableError`, naming ``source``
    and the line, for columns other than :data:`COLUMNS`, a row with missing or
    extra fields, an empty or space-padded field, a network outside
    :data:`NETWORKS` and ``ours``, a category outside :class:`ReasonCategory`,
    the same code twice in one network (ignoring case, as lookup does), an own
    row whose code is not its category's name, and a table without rows for
    every network and every one of our category names.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        return _parse(reader, source)
    except csv.Error as exc:
        # The inner reader's count includes the line that failed; DictReader's stops before it.
        raise ReasonTableError(f"{source}, line {reader.reader.line_num}: {exc}") from exc


def _parse(reader: csv.DictReader[str], source: str) -> tuple[ReasonInfo, ...]:
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        raise ReasonTableError(f"{source}, line 1: columns must be {', '.join(COLUMNS)}; got {header!r}")
    table: list[ReasonInfo] = []
    first_seen: dict[tuple[str | None, str], int] = {}
    for row in reader:
        where = f"{source}, line {reader.line_num}"
        if None in row or None in row.values():
            raise ReasonTableError(f"{where}: expected {len(COLUMNS)} fields, got {row!r}")
        for column in COLUMNS:
            value = row[column]
            if not value.strip():
                raise ReasonTableError(f"{where}: {column} is empty")
            if value != value.strip():
                raise ReasonTableError(f"{where}: {column} {value!r} has surrounding spaces")
        code, network = row["code"], row["network"]
        if network != OWN_NETWORK and network not in NETWORKS:
            expected = ", ".join(sorted(NETWORKS | {OWN_NETWORK}))
            raise ReasonTableError(f"{where}: unknown network {network!r} (expected one of {expected})")
        try:
            category = ReasonCategory(row["category"])
        except ValueError:
            expected = ", ".join(ReasonCategory)
            raise ReasonTableError(
                f"{where}: unknown category {row['category']!r} (expected one of {expected})"
            ) from None
        if network == OWN_NETWORK and code != category.value:
            raise ReasonTableError(
                f"{where}: our own code {code!r} must be its category's name {category.value!r}"
            )
        key = (None if network == OWN_NETWORK else network, code.lower())
        if key in first_seen:
            raise ReasonTableError(
                f"{where}: duplicate code {code!r} for network {network!r} (first on line {first_seen[key]})"
            )
        first_seen[key] = reader.line_num
        table.append(
            ReasonInfo(
                code=code,
                network=key[0],
                category=category,
                title=row["title"],
                explanation=row["explanation"],
                known=True,
            )
        )
    missing = sorted(NETWORKS - {network for network, _ in first_seen})
    missing += [f"{OWN_NETWORK} {c.value}" for c in ReasonCategory if (None, c.value) not in first_seen]
    if missing:
        raise ReasonTableError(f"{source}: no rows for {', '.join(missing)}")
    return tuple(table)


def _index(table: tuple[ReasonInfo, ...]) -> dict[str, tuple[ReasonInfo, ...]]:
    index: dict[str, list[ReasonInfo]] = {}
    for info in table:
        index.setdefault(info.code.lower(), []).append(info)
    return {key: tuple(bucket) for key, bucket in index.items()}


_DATA_FILE = resources.files("app.domain") / "data" / "reason_codes.csv"
_TABLE = parse_reason_table(_DATA_FILE.read_text(encoding="utf-8"), source="app/domain/data/reason_codes.csv")
_INDEX = _index(_TABLE)

_NETWORK_ALIASES: dict[str, str] = {
    "mc": "mastercard",
    "master card": "mastercard",
    "american express": "amex",
    "american_express": "amex",
    "americanexpress": "amex",
}


def _normalise_network(network: str | None) -> str | None:
    if network is None:
        return None
    name = " ".join(network.split()).lower()
    name = _NETWORK_ALIASES.get(name, name)
    return name if name in NETWORKS else None


def _validated_code(reason_code: str) -> str:
    code = reason_code.strip()
    problem: str | None = None
    if not code:
        problem = "must not be blank"
    elif len(code) > MAX_CODE_LENGTH:
        problem = f"must be at most {MAX_CODE_LENGTH} characters"
    elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in code):
        problem = "must not contain control characters"
    if problem is not None:
        raise InvalidInput(
            f"Invalid reason code: {problem}.",
            errors=[FieldProblem("reason_code", problem)],
        )
    return code


def classify(reason_code: str, network: str | None = None) -> ReasonInfo:
    """Map a chargeback reason code to our category, title and plain-words explanation.

    Business rule: every dispute we receive is filed under one :class:`ReasonCategory`
    so sellers get the same guidance whatever the source; our own category names
    are accepted as codes too. Lookup ignores surrounding whitespace and letter
    case; ``network`` (case-insensitive, e.g. ``"Visa"``, ``"MC"``) only chooses
    between entries sharing a code, and a network that contradicts a known code
    is overridden by the code. Unknown codes give ``known=False`` and
    ``GENERAL``. Raises :class:`InvalidInput` (field ``reason_code``) for a blank
    code, one over 64 characters, or one containing control or invisible
    formatting characters.
    """
    code = _validated_code(reason_code)
    wanted = _normalise_network(network)
    candidates = _INDEX.get(code.lower(), ())
    if not candidates:
        return ReasonInfo(
            code=code,
            network=wanted,
            category=ReasonCategory.GENERAL,
            title=UNKNOWN_TITLE,
            explanation=UNKNOWN_EXPLANATION,
            known=False,
        )
    if wanted is not None:
        for info in candidates:
            if info.network == wanted:
                return info
    # No network, or none of the candidates belongs to it: exact spelling first, then our own entry.
    return min(candidates, key=lambda info: (info.code != code, info.network is not None))
