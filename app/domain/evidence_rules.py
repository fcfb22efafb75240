"""Which evidence wins a chargeback, per reason category, and how far a case is from it.

Each :class:`~app.domain.reasons.ReasonCategory` has one or more defence paths
(the first is its primary path); a path lists evidence types at four levels:
``required`` (the path fails without it), ``one_of`` (at least one item of each
group ``G1``, ``G2`` …), ``recommended`` (lowers completeness when missing) and
``optional`` (counted, never asked for). The table is the data file
``data/evidence_paths.csv`` (columns :data:`COLUMNS`), read and validated once at
import by :func:`load_paths`; :func:`evaluate` reports a case against it. Sources:

* Visa Dispute Management Guidelines: 13.1 (proof of receipt, or the expected
  delivery date not yet passed, or a credit issued), 13.3 (a return attempt),
  13.7 (a limited policy counts only if disclosed and accepted at sale) and
  10.4 Compelling Evidence 3.0 (two prior undisputed orders on the same card).
* Mastercard Chargeback Guide: an evidence package of at most 19 pages.
* Adyen Disputes API ``requirementLevel`` and defence reasons; WooPayments'
  provided / expected-missing / optional-missing evidence fields.
* The platform's seven recommended evidence types: proof of delivery, the item
  description, refund proof, replacement proof, communication with the buyer,
  the purchase agreement and the return policy.

Decisions, in one place:

* An unknown category gets the ``general`` paths and is reported as ``general``.
* Nearest path: the satisfied one with most recommended items provided, else
  the one with fewest missing required items and one-of groups, then the one
  holding most of the provided evidence types; table order breaks ties. While no provided evidence
  belongs to any of the category's paths, it is the primary path.
* ``items`` lists the nearest path's items, then any other provided type as
  ``optional`` with :data:`EXTRA_ADVICE`.
* Fact warnings come from :mod:`app.domain.evidence_facts`, whose inputs
  (:class:`CaseContext`, :class:`ProvidedEvidence`) are re-exported here;
  ``promised_date_passed`` only for categories with a ``not_yet_due`` path.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeVar

# Re-exported: callers take the whole evidence API from this module.
from app.domain.evidence_facts import CaseContext as CaseContext
from app.domain.evidence_facts import EvidenceWarning as EvidenceWarning
from app.domain.evidence_facts import ProvidedEvidence as ProvidedEvidence
from app.domain.evidence_facts import fact_warnings
from app.domain.reasons import ReasonCategory

COLUMNS = ("category", "path", "path_title", "evidence_type", "requirement", "group", "advice")
EXTRA_ADVICE = "Counted as supporting evidence."


class EvidenceType(StrEnum):
    """The kinds of evidence a seller can upload (the contract's evidence types)."""

    DELIVERY_PROOF = "delivery_proof"
    ITEM_DESCRIPTION = "item_description"
    REFUND_PROOF = "refund_proof"
    REPLACEMENT_PROOF = "replacement_proof"
    BUYER_COMMUNICATION = "buyer_communication"
    PURCHASE_AGREEMENT = "purchase_agreement"
    RETURN_POLICY = "return_policy"
    ORDER_RECEIPT = "order_receipt"
    SHIPPING_PROOF = "shipping_proof"
    PAYMENT_AUTHENTICATION = "payment_authentication"
    CUSTOMER_IDENTITY = "customer_identity"
    OTHER = "other"


class Requirement(StrEnum):
    """How much a path needs an evidence type."""

    REQUIRED = "required"
    ONE_OF = "one_of"
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"


TYPE_LABELS: Mapping[EvidenceType, str] = MappingProxyType(
    {
        EvidenceType.DELIVERY_PROOF: "Proof of delivery",
        EvidenceType.ITEM_DESCRIPTION: "Original listing (item description)",
        EvidenceType.REFUND_PROOF: "Refund proof",
        EvidenceType.REPLACEMENT_PROOF: "Proof of a replacement sent",
        EvidenceType.BUYER_COMMUNICATION: "Messages with the buyer",
        EvidenceType.PURCHASE_AGREEMENT: "Agreement the buyer accepted",
        EvidenceType.RETURN_POLICY: "Return policy shown to the buyer",
        EvidenceType.ORDER_RECEIPT: "Order receipt",
        EvidenceType.SHIPPING_PROOF: "Proof of shipping",
        EvidenceType.PAYMENT_AUTHENTICATION: "Payment authentication (3-D Secure)",
        EvidenceType.CUSTOMER_IDENTITY: "Customer identity at purchase",
        EvidenceType.OTHER: "Other document or written rebuttal",
    }
)


class EvidenceRulesError(ValueError):
    """The evidence table is malformed; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class ItemRule:
    """One evidence type on a path, with its level, its one-of group and what to upload."""

    evidence_type: EvidenceType
    requirement: Requirement
    group: str | None
    advice: str


@dataclass(frozen=True, slots=True)
class PathRule:
    """One way to defend a category: a name, a plain title and its items in table order."""

    category: str
    name: str
    title: str
    items: tuple[ItemRule, ...]

    def at(self, requirement: Requirement) -> tuple[ItemRule, ...]:
        return tuple(item for item in self.items if item.requirement is requirement)

    def groups(self) -> dict[str, tuple[EvidenceType, ...]]:
        groups: dict[str, list[EvidenceType]] = {}
        for item in self.at(Requirement.ONE_OF):
            groups.setdefault(item.group or "", []).append(item.evidence_type)
        return {name: tuple(types) for name, types in groups.items()}


_E = TypeVar("_E", bound=StrEnum)
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_GROUP = re.compile(r"G[1-9][0-9]*")


def _member(enum: type[_E], value: str, column: str, where: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        expected = ", ".join(enum)
        raise EvidenceRulesError(
            f"{where}: unknown {column} {value!r} (expected one of {expected})"
        ) from None


def load_paths(text: str, source: str = "evidence_paths.csv") -> dict[str, tuple[PathRule, ...]]:
    """Read the evidence table from CSV ``text`` and check it: category → its paths in table order.

    Business rule: a seller must never be told a case is ready, or be asked for
    the wrong thing, because of a typo in the table, so a malformed table stops
    the service at start-up. Raises :class:`EvidenceRulesError`, naming
    ``source`` and the line, for columns other than :data:`COLUMNS`, a row with
    missing or extra fields, an empty (except ``group``) or space-padded field,
    an unknown category, evidence type or requirement, a path name that is not
    snake_case, a ``one_of`` row without a group ``G<n>`` or a group on another
    level, a path whose rows are not together or disagree on its title, the
    same (category, path, evidence type) twice, a path without a required item
    or one-of group, and a table without paths for every reason category.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        return _parse(reader, source)
    except csv.Error as exc:
        raise EvidenceRulesError(f"{source}, line {reader.reader.line_num}: {exc}") from exc


def _parse(reader: csv.DictReader[str], source: str) -> dict[str, tuple[PathRule, ...]]:
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        raise EvidenceRulesError(f"{source}, line 1: columns must be {', '.join(COLUMNS)}; got {header!r}")
    paths: dict[tuple[str, str], tuple[str, list[ItemRule], int]] = {}
    first_seen: dict[tuple[str, str, str], int] = {}
    previous: tuple[str, str] | None = None
    for row in reader:
        where = f"{source}, line {reader.line_num}"
        if None in row or None in row.values():
            raise EvidenceRulesError(f"{where}: expected {len(COLUMNS)} fields, got {row!r}")
        for column in COLUMNS:
            if column != "group" and not row[column].strip():
                raise EvidenceRulesError(f"{where}: {column} is empty")
            if row[column] != row[column].strip():
                raise EvidenceRulesError(f"{where}: {column} {row[column]!r} has surrounding spaces")
        category = _member(ReasonCategory, row["category"], "category", where).value
        evidence_type = _member(EvidenceType, row["evidence_type"], "evidence_type", where)
        requirement = _member(Requirement, row["requirement"], "requirement", where)
        name, group = row["path"], row["group"] or None
        if not _NAME.fullmatch(name):
            raise EvidenceRulesError(f"{where}: path {name!r} must be snake_case")
        if requirement is Requirement.ONE_OF and (group is None or not _GROUP.fullmatch(group)):
            raise EvidenceRulesError(f"{where}: a one_of row needs a group G1, G2 …; got {group!r}")
        if requirement is not Requirement.ONE_OF and group is not None:
            raise EvidenceRulesError(f"{where}: group {group!r} is only for one_of rows, not {requirement}")
        key = (category, name)
        if key in paths and previous != key:
            raise EvidenceRulesError(f"{where}: rows of path {category}/{name} must be together")
        triple = (category, name, evidence_type.value)
        if triple in first_seen:
            raise EvidenceRulesError(
                f"{where}: duplicate {evidence_type} on path {category}/{name}"
                f" (first on line {first_seen[triple]})"
            )
        first_seen[triple] = reader.line_num
        title, items, _ = paths.setdefault(key, (row["path_title"], [], reader.line_num))
        if row["path_title"] != title:
            raise EvidenceRulesError(
                f"{where}: path {category}/{name} has two titles: {title!r}, {row['path_title']!r}"
            )
        items.append(ItemRule(evidence_type, requirement, group, row["advice"]))
        previous = key
    table: dict[str, list[PathRule]] = {}
    for (category, name), (title, items, line) in paths.items():
        if not any(item.requirement in (Requirement.REQUIRED, Requirement.ONE_OF) for item in items):
            raise EvidenceRulesError(
                f"{source}, line {line}: path {category}/{name} has no required or one_of item"
            )
        table.setdefault(category, []).append(PathRule(category, name, title, tuple(items)))
    missing = [category.value for category in ReasonCategory if category.value not in table]
    if missing:
        raise EvidenceRulesError(f"{source}: no paths for {', '.join(missing)}")
    return {category: tuple(rules) for category, rules in table.items()}


_DATA_FILE = resources.files("app.domain") / "data" / "evidence_paths.csv"
_PATHS = load_paths(_DATA_FILE.read_text(encoding="utf-8"), source="app/domain/data/evidence_paths.csv")


def paths_for(category: str) -> tuple[PathRule, ...]:
    """The defence paths of a reason category in table order; an unknown category gets ``general``'s."""
    return _PATHS.get(category, _PATHS[ReasonCategory.GENERAL.value])


def primary_path(category: str) -> PathRule:
    """The category's first path: what a seller is asked for before any evidence arrives."""
    return paths_for(category)[0]


def checklist(category: str) -> tuple[ItemRule, ...]:
    """The primary path's required, one-of and recommended items: what the opening email asks for."""
    return tuple(
        item for item in primary_path(category).items if item.requirement is not Requirement.OPTIONAL
    )


def advice_lines(category: str) -> list[str]:
    """One plain-words line per checklist item, e.g. ``"Proof of delivery (required): Upload …"``."""
    groups = primary_path(category).groups()
    lines = []
    for item in checklist(category):
        if item.group is not None:
            others = [TYPE_LABELS[t] for t in groups[item.group] if t is not item.evidence_type]
            level = "needed unless you give one of: " + ", ".join(others) if others else "needed"
        else:
            level = item.requirement.value
        lines.append(f"{TYPE_LABELS[item.evidence_type]} ({level}): {item.advice}")
    return lines


@dataclass(frozen=True, slots=True)
class PathStatus:
    """How far the provided evidence goes along one path."""

    rule: PathRule
    satisfied: bool
    missing_required: tuple[str, ...]
    missing_one_of: tuple[tuple[str, ...], ...]
    missing_recommended: tuple[str, ...]

    def recommended_provided(self) -> int:
        return len(self.rule.at(Requirement.RECOMMENDED)) - len(self.missing_recommended)

    def completeness(self) -> float:
        """Required items and one-of groups weigh 0.7 and recommended items 0.3 (all 1.0 without those)."""
        need_total = len(self.rule.at(Requirement.REQUIRED)) + len(self.rule.groups())
        need_met = need_total - len(self.missing_required) - len(self.missing_one_of)
        need = need_met / need_total if need_total else 1.0
        rec_total = len(self.rule.at(Requirement.RECOMMENDED))
        if not rec_total:
            return round(need, 2)
        return round(0.7 * need + 0.3 * self.recommended_provided() / rec_total, 2)


@dataclass(frozen=True, slots=True)
class ItemStatus:
    """One line of the report's item list."""

    evidence_type: str
    requirement: Requirement
    group: str | None
    count: int
    advice: str


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """The case's evidence against its category's paths, as the evidence-report endpoint returns it."""

    reason_category: str
    paths: tuple[PathStatus, ...]
    nearest: PathStatus
    items: tuple[ItemStatus, ...]
    warnings: tuple[EvidenceWarning, ...]
    ready_to_submit: bool
    respond_by: datetime
    package: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON shape in plain values (``respond_by`` stays a datetime)."""
        return {
            "reason_category": self.reason_category,
            "paths": [
                {
                    "name": path.rule.name,
                    "title": path.rule.title,
                    "satisfied": path.satisfied,
                    "missing_required": list(path.missing_required),
                    "missing_one_of": [list(group) for group in path.missing_one_of],
                    "missing_recommended": list(path.missing_recommended),
                }
                for path in self.paths
            ],
            "nearest_path": self.nearest.rule.name,
            "items": [
                {
                    "evidence_type": item.evidence_type,
                    "requirement": item.requirement.value,
                    "group": item.group,
                    "provided": item.count > 0,
                    "count": item.count,
                    "advice": item.advice,
                }
                for item in self.items
            ],
            "missing_required": list(self.nearest.missing_required),
            "missing_recommended": list(self.nearest.missing_recommended),
            "warnings": [
                {"code": w.code, "message": w.message, "evidence_id": w.evidence_id} for w in self.warnings
            ],
            "completeness": self.nearest.completeness(),
            "ready_to_submit": self.ready_to_submit,
            "respond_by": self.respond_by,
            "package": dict(self.package),
        }


def _assess(rule: PathRule, counts: Counter[str]) -> PathStatus:
    def missing(requirement: Requirement) -> tuple[str, ...]:
        return tuple(
            item.evidence_type.value for item in rule.at(requirement) if not counts[item.evidence_type]
        )

    unmet = tuple(
        tuple(t.value for t in types) for types in rule.groups().values() if not any(counts[t] for t in types)
    )
    required = missing(Requirement.REQUIRED)
    return PathStatus(rule, not required and not unmet, required, unmet, missing(Requirement.RECOMMENDED))


def _nearest(statuses: tuple[PathStatus, ...], fresh: bool, counts: Counter[str]) -> PathStatus:
    if fresh:
        return statuses[0]
    satisfied = [status for status in statuses if status.satisfied]
    # min and max return the first of equals: table order breaks every tie.
    if satisfied:
        return max(satisfied, key=PathStatus.recommended_provided)
    # Fewest gaps; among equals the path with most of the seller's evidence on it, not the shortest one.
    return min(
        statuses,
        key=lambda s: (
            len(s.missing_required) + len(s.missing_one_of),
            -sum(1 for item in s.rule.items if counts[item.evidence_type.value]),
        ),
    )


def evaluate(context: CaseContext, evidence: Sequence[ProvidedEvidence]) -> EvidenceReport:
    """Report the case's evidence against every path of its category, with warnings and readiness.

    Business rule: a case is ready when one defence path has every required
    item and one item of each one-of group (Adyen's defence reasons), the case
    is open to an appeal and its deadline has not passed; facts that a bank
    would reject are warned about, never silently accepted.
    """
    paths = paths_for(context.reason_category)
    counts = Counter(item.evidence_type for item in evidence)
    statuses = tuple(_assess(rule, counts) for rule in paths)
    in_paths = {item.evidence_type.value for rule in paths for item in rule.items}
    nearest = _nearest(statuses, fresh=not in_paths & counts.keys(), counts=counts)
    listed = {item.evidence_type.value for item in nearest.rule.items}
    items = [
        ItemStatus(i.evidence_type.value, i.requirement, i.group, counts[i.evidence_type], i.advice)
        for i in nearest.rule.items
    ]
    items += [
        ItemStatus(t, Requirement.OPTIONAL, None, n, EXTRA_ADVICE)
        for t, n in counts.items()
        if t not in listed
    ]
    return EvidenceReport(
        reason_category=paths[0].category,
        paths=statuses,
        nearest=nearest,
        items=tuple(items),
        warnings=fact_warnings(
            context, evidence, promise_matters=any(r.name == "not_yet_due" for r in paths)
        ),
        ready_to_submit=nearest.satisfied and context.accepting_appeal and context.now <= context.respond_by,
        respond_by=context.respond_by,
        package={
            "size_bytes": context.package_bytes,
            "pages": context.package_pages,
            "max_size_bytes": context.max_package_bytes,
            "max_pages": context.max_package_pages,
        },
    )
