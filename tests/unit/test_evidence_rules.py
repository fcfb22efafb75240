"""Unit tests for app.domain.evidence_rules and app.domain.evidence_facts: paths, the report, the warnings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from app.domain import evidence_facts
from app.domain.evidence_rules import (
    COLUMNS,
    EXTRA_ADVICE,
    TYPE_LABELS,
    CaseContext,
    EvidenceRulesError,
    EvidenceType,
    ItemRule,
    PathRule,
    PathStatus,
    ProvidedEvidence,
    Requirement,
    advice_lines,
    checklist,
    evaluate,
    load_paths,
    paths_for,
    primary_path,
)
from app.domain.reasons import ReasonCategory

SHIPPED = load_paths((resources.files("app.domain") / "data" / "evidence_paths.csv").read_text("utf-8"))

REQUIRED, ONE_OF = Requirement.REQUIRED, Requirement.ONE_OF
RECOMMENDED, OPTIONAL = Requirement.RECOMMENDED, Requirement.OPTIONAL

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
RECEIVED = NOW - timedelta(days=2)
RESPOND_BY = NOW + timedelta(days=1)
ORDER_ADDRESS = "1 Main Street, Springfield"

# The reference table (../shared/evidence-rules.md): path → required, one_of G1, recommended, optional.
GENERAL_PATH = {"general": ("", "refund_proof other", "order_receipt", "buyer_communication")}
REFERENCE: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "not_received": {
        "delivered": (
            "delivery_proof",
            "",
            "shipping_proof order_receipt buyer_communication",
            "item_description purchase_agreement return_policy",
        ),
        "refunded": ("refund_proof", "", "buyer_communication", ""),
        "replaced": ("replacement_proof", "", "shipping_proof buyer_communication", ""),
        "not_yet_due": ("", "item_description purchase_agreement", "buyer_communication", ""),
    },
    "fraud": {
        "cardholder_participated": (
            "delivery_proof",
            "payment_authentication customer_identity buyer_communication purchase_agreement",
            "order_receipt",
            "other",
        ),
        "refunded": ("refund_proof", "", "", "buyer_communication"),
    },
    "not_as_described": {
        "as_described": (
            "item_description order_receipt",
            "",
            "buyer_communication return_policy",
            "delivery_proof",
        ),
        "replaced": ("replacement_proof", "", "delivery_proof buyer_communication", ""),
        "refunded": ("refund_proof", "", "", "buyer_communication"),
        "buyer_did_not_return": ("", "buyer_communication return_policy", "", ""),
    },
    "credit_not_processed": {
        "refund_issued": ("refund_proof", "", "", "buyer_communication"),
        "no_refund_owed": ("purchase_agreement return_policy", "", "buyer_communication", "delivery_proof"),
    },
    "duplicate": {
        "distinct_orders": ("order_receipt", "", "", "delivery_proof buyer_communication"),
        "refunded": ("refund_proof", "", "", ""),
    },
    "processing_error": GENERAL_PATH,
    "general": GENERAL_PATH,
}

ALL_PATHS = [rule for category in ReasonCategory for rule in paths_for(category)]


def _path_id(rule: PathRule) -> str:
    return f"{rule.category}/{rule.name}"


def context(category: str = "not_received", **changes: Any) -> CaseContext:
    base = CaseContext(
        reason_category=category,
        amount_minor=5000,
        currency="EUR",
        received_at=RECEIVED,
        respond_by=RESPOND_BY,
        now=NOW,
        accepting_appeal=True,
        order_address=ORDER_ADDRESS,
        package_bytes=1_000,
        package_pages=3,
        max_package_bytes=10_000_000,
        max_package_pages=19,
    )
    return dataclasses.replace(base, **changes)


def item(evidence_type: str, evidence_id: str = "ev_1", **facts: Any) -> ProvidedEvidence:
    return ProvidedEvidence(id=evidence_id, evidence_type=evidence_type, facts=facts, pages=1, size_bytes=100)


def provide(*types: str) -> list[ProvidedEvidence]:
    return [item(t, f"ev_{n}") for n, t in enumerate(types)]


def report(category: str, *types: str, **changes: Any) -> dict[str, Any]:
    return evaluate(context(category, **changes), provide(*types)).as_dict()


def needs(rule: PathRule) -> list[str]:
    return [i.evidence_type.value for i in rule.items if i.requirement in (REQUIRED, ONE_OF)]


def path_entry(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in result["paths"] if p["name"] == name)


# The shipped table follows the reference exactly.


def test_shipped_table_is_the_module_table() -> None:
    assert {category: paths_for(category) for category in SHIPPED} == SHIPPED


@pytest.mark.parametrize("category", list(ReasonCategory))
def test_shipped_table_category_has_reference_paths_in_order(category: ReasonCategory) -> None:
    assert [rule.name for rule in paths_for(category)] == list(REFERENCE[category])
    assert primary_path(category).name == next(iter(REFERENCE[category]))


@pytest.mark.parametrize("rule", ALL_PATHS, ids=_path_id)
def test_shipped_path_has_reference_items(rule: PathRule) -> None:
    required, one_of, recommended, optional = REFERENCE[rule.category][rule.name]
    by_level = {level: [i.evidence_type.value for i in rule.at(level)] for level in Requirement}
    assert by_level[REQUIRED] == required.split()
    assert by_level[ONE_OF] == one_of.split()
    assert by_level[RECOMMENDED] == recommended.split()
    assert by_level[OPTIONAL] == optional.split()
    assert all(i.group == "G1" for i in rule.at(ONE_OF))
    assert all(i.advice.endswith(".") and i.advice.startswith("Upload") for i in rule.items)
    assert rule.title


def test_fraud_prior_undisputed_orders_is_optional_other() -> None:
    (other,) = [i for i in primary_path("fraud").items if i.evidence_type is EvidenceType.OTHER]
    assert other.requirement is OPTIONAL
    assert "Compelling Evidence 3.0" in other.advice


def test_every_evidence_type_has_a_label() -> None:
    assert set(TYPE_LABELS) == set(EvidenceType)


def test_fact_checks_use_real_evidence_types() -> None:
    assert evidence_facts.REPLACEMENT_TYPE in set(EvidenceType)
    assert set(EvidenceType) >= evidence_facts.DELIVERY_RECORD_TYPES


# Paths: satisfied, nearest, unsatisfied.


@pytest.mark.parametrize("rule", ALL_PATHS, ids=_path_id)
def test_required_and_one_of_items_provided_path_satisfied_and_nearest(rule: PathRule) -> None:
    result = report(rule.category, *needs(rule))
    entry = path_entry(result, rule.name)
    assert entry["satisfied"] is True
    assert entry["missing_required"] == []
    assert entry["missing_one_of"] == []
    assert result["nearest_path"] == rule.name
    assert result["missing_required"] == []
    assert result["ready_to_submit"] is True


ONE_OF_CHOICES = [(rule, i.evidence_type.value) for rule in ALL_PATHS for i in rule.at(ONE_OF)]


@pytest.mark.parametrize(
    ("rule", "choice"), ONE_OF_CHOICES, ids=[f"{_path_id(r)}:{c}" for r, c in ONE_OF_CHOICES]
)
def test_any_one_of_group_member_provided_group_met(rule: PathRule, choice: str) -> None:
    required = [i.evidence_type.value for i in rule.at(REQUIRED)]
    result = report(rule.category, *required, choice)
    assert path_entry(result, rule.name)["satisfied"] is True
    assert result["nearest_path"] == rule.name


REQUIRED_ITEMS = [(rule, i.evidence_type.value) for rule in ALL_PATHS for i in rule.at(REQUIRED)]


@pytest.mark.parametrize(
    ("rule", "removed"), REQUIRED_ITEMS, ids=[f"{_path_id(r)}-{t}" for r, t in REQUIRED_ITEMS]
)
def test_required_item_removed_path_unsatisfied(rule: PathRule, removed: str) -> None:
    rest = [t for t in needs(rule) if t != removed]
    entry = path_entry(report(rule.category, *rest), rule.name)
    assert entry["satisfied"] is False
    assert entry["missing_required"] == [removed]


GROUPED = [rule for rule in ALL_PATHS if rule.groups()]


@pytest.mark.parametrize("rule", GROUPED, ids=_path_id)
def test_one_of_group_removed_path_unsatisfied(rule: PathRule) -> None:
    required = [i.evidence_type.value for i in rule.at(REQUIRED)]
    entry = path_entry(report(rule.category, *required), rule.name)
    assert entry["satisfied"] is False
    assert entry["missing_one_of"] == [[i.evidence_type.value for i in rule.at(ONE_OF)]]


@pytest.mark.parametrize("category", list(ReasonCategory))
def test_fresh_case_primary_path_nothing_done(category: ReasonCategory) -> None:
    result = report(category)
    primary = primary_path(category)
    assert result["reason_category"] == category.value
    assert result["nearest_path"] == primary.name
    assert result["completeness"] == 0.0
    assert result["ready_to_submit"] is False
    assert result["missing_required"] == [i.evidence_type.value for i in primary.at(REQUIRED)]
    assert result["missing_recommended"] == [i.evidence_type.value for i in primary.at(RECOMMENDED)]
    assert [i["evidence_type"] for i in result["items"]] == [i.evidence_type.value for i in primary.items]
    assert not any(i["provided"] for i in result["items"])
    assert all(not p["satisfied"] for p in result["paths"])


def test_fresh_case_not_received_asks_for_delivery_proof() -> None:
    result = report("not_received")
    assert result["nearest_path"] == "delivered"
    assert result["missing_required"] == ["delivery_proof"]


def test_only_evidence_outside_every_path_primary_path() -> None:
    assert report("not_received", "other", "payment_authentication")["nearest_path"] == "delivered"


@pytest.mark.parametrize("category", ["lost_in_space", "", "FRAUD"])
def test_unknown_category_general_paths(category: str) -> None:
    assert paths_for(category) == paths_for("general")
    result = report(category, "other")
    assert result["reason_category"] == "general"
    assert [p["name"] for p in result["paths"]] == ["general"]
    assert result["ready_to_submit"] is True


@pytest.mark.parametrize(
    ("category", "types", "nearest"),
    [
        # Both satisfied: the one with more recommended items wins, even later in the table.
        (
            "credit_not_processed",
            ["refund_proof", "purchase_agreement", "return_policy", "buyer_communication"],
            "no_refund_owed",
        ),
        # Both satisfied, as many recommended items each: table order.
        ("credit_not_processed", ["refund_proof", "purchase_agreement", "return_policy"], "refund_issued"),
        (
            "not_received",
            ["delivery_proof", "replacement_proof", "shipping_proof", "buyer_communication"],
            "delivered",
        ),
        # A satisfied path beats an unsatisfied one with more recommended items.
        (
            "not_received",
            ["refund_proof", "shipping_proof", "order_receipt", "buyer_communication"],
            "refunded",
        ),
        # None satisfied: fewest missing required items and groups, before table order.
        ("fraud", ["order_receipt"], "refunded"),
        # None satisfied, as few missing each: the path holding most of the evidence, then table order.
        ("not_received", ["shipping_proof"], "delivered"),
        ("fraud", ["delivery_proof"], "cardholder_participated"),
        ("fraud", ["payment_authentication", "order_receipt"], "cardholder_participated"),
        ("credit_not_processed", ["purchase_agreement", "buyer_communication"], "no_refund_owed"),
        ("credit_not_processed", ["buyer_communication"], "refund_issued"),
    ],
)
def test_nearest_path_ranking_picks_expected(category: str, types: list[str], nearest: str) -> None:
    assert report(category, *types)["nearest_path"] == nearest


# Completeness.


@pytest.mark.parametrize(
    ("category", "path", "types", "expected"),
    [
        ("not_received", "delivered", [], 0.0),
        ("not_received", "delivered", ["shipping_proof"], 0.1),
        ("not_received", "delivered", ["delivery_proof"], 0.7),
        ("not_received", "delivered", ["delivery_proof", "shipping_proof"], 0.8),
        ("not_received", "delivered", ["delivery_proof", "shipping_proof", "order_receipt"], 0.9),
        (
            "not_received",
            "delivered",
            ["delivery_proof", "shipping_proof", "order_receipt", "buyer_communication"],
            1.0,
        ),
        ("not_received", "delivered", ["delivery_proof", "item_description"], 0.7),
        ("fraud", "cardholder_participated", ["payment_authentication"], 0.35),
        ("fraud", "cardholder_participated", ["payment_authentication", "order_receipt"], 0.65),
        ("fraud", "cardholder_participated", ["delivery_proof", "customer_identity", "order_receipt"], 1.0),
        ("not_as_described", "as_described", ["item_description", "return_policy"], 0.5),
        ("credit_not_processed", "no_refund_owed", ["purchase_agreement"], 0.35),
        ("duplicate", "refunded", [], 0.0),
        ("duplicate", "refunded", ["refund_proof"], 1.0),
        ("general", "general", ["other"], 0.7),
        ("general", "general", ["refund_proof", "other", "order_receipt"], 1.0),
    ],
)
def test_completeness_formula_matches(category: str, path: str, types: list[str], expected: float) -> None:
    statuses = evaluate(context(category), provide(*types)).paths
    assert next(s for s in statuses if s.rule.name == path).completeness() == expected


def test_completeness_reported_for_nearest_path() -> None:
    result = report("not_received", "delivery_proof", "shipping_proof")
    assert (result["nearest_path"], result["completeness"]) == ("delivered", 0.8)


def test_path_without_required_or_groups_need_part_counts_full() -> None:
    rule = PathRule("x", "y", "Title", (ItemRule(EvidenceType.OTHER, RECOMMENDED, None, "Upload it."),))
    assert PathStatus(rule, True, (), (), ("other",)).completeness() == 0.7
    assert PathStatus(rule, True, (), (), ()).completeness() == 1.0


# Readiness.


@pytest.mark.parametrize(
    ("changes", "ready"),
    [
        ({}, True),
        ({"now": RESPOND_BY}, True),
        ({"now": RESPOND_BY + timedelta(seconds=1)}, False),
        ({"accepting_appeal": False}, False),
    ],
)
def test_satisfied_path_ready_only_while_open_and_in_window(changes: dict[str, Any], ready: bool) -> None:
    assert report("not_received", "delivery_proof", **changes)["ready_to_submit"] is ready


def test_unsatisfied_nearest_path_not_ready() -> None:
    assert report("not_received", "shipping_proof", "order_receipt")["ready_to_submit"] is False


# Items and the report's shape.


def test_several_items_of_one_type_counted() -> None:
    result = report("not_received", "delivery_proof", "delivery_proof", "shipping_proof")
    counts = {i["evidence_type"]: (i["provided"], i["count"]) for i in result["items"]}
    assert counts["delivery_proof"] == (True, 2)
    assert counts["shipping_proof"] == (True, 1)
    assert counts["order_receipt"] == (False, 0)


def test_provided_type_outside_nearest_path_listed_optional() -> None:
    result = report("duplicate", "order_receipt", "customer_identity", "mystery")
    assert result["items"][-2:] == [
        {
            "evidence_type": "customer_identity",
            "requirement": "optional",
            "group": None,
            "provided": True,
            "count": 1,
            "advice": EXTRA_ADVICE,
        },
        {
            "evidence_type": "mystery",
            "requirement": "optional",
            "group": None,
            "provided": True,
            "count": 1,
            "advice": EXTRA_ADVICE,
        },
    ]


def test_one_of_items_carry_their_group() -> None:
    result = report("fraud")
    groups = {i["evidence_type"]: (i["requirement"], i["group"]) for i in result["items"]}
    assert groups["payment_authentication"] == ("one_of", "G1")
    assert groups["delivery_proof"] == ("required", None)


def test_report_as_dict_has_contract_shape() -> None:
    result = report("not_received", "delivery_proof", package_bytes=123, package_pages=4)
    assert list(result) == [
        "reason_category",
        "paths",
        "nearest_path",
        "items",
        "missing_required",
        "missing_recommended",
        "warnings",
        "completeness",
        "ready_to_submit",
        "respond_by",
        "package",
    ]
    assert set(result["paths"][0]) == {
        "name",
        "title",
        "satisfied",
        "missing_required",
        "missing_one_of",
        "missing_recommended",
    }
    assert set(result["items"][0]) == {"evidence_type", "requirement", "group", "provided", "count", "advice"}
    assert result["respond_by"] == RESPOND_BY
    assert result["package"] == {"size_bytes": 123, "pages": 4, "max_size_bytes": 10_000_000, "max_pages": 19}
    assert type(result["completeness"]) is float
    assert all(type(p["missing_one_of"]) is list for p in result["paths"])


# Checklist and advice lines.


@pytest.mark.parametrize("category", list(ReasonCategory))
def test_checklist_primary_path_without_optional(category: ReasonCategory) -> None:
    expected = tuple(i for i in primary_path(category).items if i.requirement is not OPTIONAL)
    assert checklist(category) == expected
    lines = advice_lines(category)
    assert len(lines) == len(expected)
    for line, rule in zip(lines, expected, strict=True):
        assert line.startswith(TYPE_LABELS[rule.evidence_type] + " (")
        assert line.endswith("): " + rule.advice)


def test_advice_lines_name_levels_in_plain_words() -> None:
    lines = advice_lines("fraud")
    assert lines[0].startswith("Proof of delivery (required): Upload the carrier's tracking record")
    assert lines[1].startswith(
        "Payment authentication (3-D Secure) (needed unless you give one of: Customer identity at purchase, "
        "Messages with the buyer, Agreement the buyer accepted): "
    )
    assert lines[-1].startswith("Order receipt (recommended): ")


def test_checklist_unknown_category_general() -> None:
    assert checklist("nonsense") == checklist("general")


# Warnings: each code triggered, and not triggered by the nearby case.

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

WarningCase = tuple[str, str, dict[str, Any], list[ProvidedEvidence], list[str]]


def case(code: str, *evidence: ProvidedEvidence, figures: Sequence[str] = (), **changes: Any) -> WarningCase:
    """One warning case: ``changes`` alter the case's context (``category`` picks its reason)."""
    category = changes.pop("category", "not_received")
    return (code, category, changes, list(evidence), list(figures))


def refund(**facts: Any) -> ProvidedEvidence:
    return item("refund_proof", **facts)


def delivery(**facts: Any) -> ProvidedEvidence:
    return item("delivery_proof", **facts)


TRIGGERED = [
    case(
        "refund_less_than_disputed",
        refund(refund_amount_minor=4000, refund_currency="EUR"),
        figures=["40.00 EUR", "50.00 EUR"],
    ),
    case(
        "refund_less_than_disputed",
        refund(refund_amount_minor=4000),
        figures=["4000 JPY", "5000 JPY"],
        currency="JPY",
    ),
    case(
        "refund_currency_differs",
        refund(refund_amount_minor=4000, refund_currency="usd"),
        figures=["USD", "EUR"],
    ),
    case(
        "refund_after_notice",
        refund(refunded_at=RECEIVED + HOUR),
        figures=["2025-03-08 13:00 UTC", "2025-03-08 12:00 UTC"],
    ),
    case(
        "delivery_after_notice",
        delivery(carrier="DHL", delivered_at=RECEIVED + HOUR),
        figures=["2025-03-08 13:00 UTC"],
    ),
    case(
        "delivery_in_future",
        delivery(delivered_at=NOW + HOUR),
        figures=["2025-03-10 13:00 UTC"],
        received_at=NOW + DAY,
    ),
    case(
        "shipped_after_delivery",
        delivery(shipped_at=RECEIVED - DAY, delivered_at=RECEIVED - 2 * DAY),
        figures=["2025-03-07 12:00 UTC", "2025-03-06 12:00 UTC"],
    ),
    case(
        "delivery_address_differs",
        delivery(delivery_address="2 Main Street"),
        figures=["2 Main Street", ORDER_ADDRESS],
    ),
    case(
        "replacement_without_delivery", item("replacement_proof", carrier="DHL"), category="not_as_described"
    ),
    case("tracking_without_carrier", delivery(tracking_number="JD0001"), figures=["JD0001"]),
    case("tracking_without_carrier", delivery(tracking_number="JD0001", carrier="  "), figures=["JD0001"]),
    case(
        "promised_date_passed",
        item("item_description", expected_delivery_at=NOW - HOUR),
        figures=["2025-03-10 11:00"],
    ),
    case("package_over_page_budget", figures=["20 pages", "19", "still built"], package_pages=20),
    case(
        "package_over_page_budget",
        figures=["11 pages", "of 10", "Mastercard"],
        package_pages=11,
        max_package_pages=10,
    ),
    case("package_near_size_limit", figures=["9000000 bytes", "10000000-byte"], package_bytes=9_000_000),
    case("package_near_size_limit", figures=["12000000 bytes"], package_bytes=12_000_000),
]


@pytest.mark.parametrize(
    ("code", "category", "changes", "evidence", "figures"),
    TRIGGERED,
    ids=[f"{t[0]}-{n}" for n, t in enumerate(TRIGGERED)],
)
def test_fact_problem_warning_raised(
    code: str, category: str, changes: dict[str, Any], evidence: list[ProvidedEvidence], figures: list[str]
) -> None:
    warnings = evaluate(context(category, **changes), evidence).as_dict()["warnings"]
    assert [w["code"] for w in warnings] == [code]
    assert warnings[0]["evidence_id"] == ("ev_1" if evidence else None)
    for figure in figures:
        assert figure in warnings[0]["message"]


def test_every_warning_code_has_a_triggering_case() -> None:
    assert {t[0] for t in TRIGGERED} == set(evidence_facts.WARNING_MESSAGES)


def test_delivery_in_future_also_after_notice() -> None:
    warnings = evaluate(context(), [delivery(delivered_at=NOW + HOUR)]).warnings
    assert [w.code for w in warnings] == ["delivery_after_notice", "delivery_in_future"]


NOT_TRIGGERED = [
    case("refund_less_than_disputed", refund(refund_amount_minor=5000, refund_currency="EUR")),
    case("refund_less_than_disputed", refund(refund_amount_minor=6000)),
    case("refund_less_than_disputed", refund(refund_amount_minor=True)),
    case("refund_currency_differs", refund(refund_amount_minor=5000, refund_currency="eur")),
    case("refund_after_notice", refund(refunded_at=RECEIVED)),
    case("refund_after_notice", refund(refunded_at="2025-03-09T00:00:00Z")),
    case("delivery_after_notice", delivery(delivered_at=RECEIVED - HOUR)),
    case("delivery_in_future", delivery(delivered_at=NOW), received_at=NOW),
    case("shipped_after_delivery", delivery(shipped_at=RECEIVED - 2 * DAY, delivered_at=RECEIVED - DAY)),
    case("shipped_after_delivery", delivery(shipped_at=RECEIVED - DAY)),
    case("delivery_address_differs", delivery(delivery_address="1  MAIN street  springfield.")),
    case("delivery_address_differs", delivery(delivery_address="\uff11 Main Street; Springfield")),
    case("delivery_address_differs", delivery(delivery_address="Elsewhere"), order_address=None),
    case("delivery_address_differs", delivery(delivery_address="")),
    case("replacement_without_delivery", item("replacement_proof", carrier="DHL", tracking_number="JD1")),
    case("replacement_without_delivery", item("replacement_proof", delivered_at=RECEIVED - DAY)),
    case("replacement_without_delivery", item("replacement_proof"), item("delivery_proof", "ev_2")),
    case("replacement_without_delivery", item("replacement_proof"), item("shipping_proof", "ev_2")),
    case("tracking_without_carrier", delivery(tracking_number="JD1", carrier="DHL")),
    case("tracking_without_carrier", delivery(carrier="DHL")),
    case("promised_date_passed", item("item_description", expected_delivery_at=NOW + DAY)),
    case("promised_date_passed", item("item_description", expected_delivery_at=NOW - DAY), category="fraud"),
    case("package_over_page_budget", package_pages=19),
    case("package_near_size_limit", package_bytes=8_999_999),
    case("package_near_size_limit", package_bytes=0, max_package_bytes=0),
]


@pytest.mark.parametrize(
    ("code", "category", "changes", "evidence", "figures"),
    NOT_TRIGGERED,
    ids=[f"{t[0]}-{n}" for n, t in enumerate(NOT_TRIGGERED)],
)
def test_fact_in_order_warning_not_raised(
    code: str, category: str, changes: dict[str, Any], evidence: list[ProvidedEvidence], figures: list[str]
) -> None:
    assert evaluate(context(category, **changes), evidence).warnings == ()


def test_warnings_follow_evidence_order_then_package() -> None:
    evidence = [
        item("delivery_proof", "ev_a", tracking_number="T1"),
        item("refund_proof", "ev_b", refund_amount_minor=100),
    ]
    warnings = evaluate(context(package_pages=30), evidence).warnings
    assert [(w.code, w.evidence_id) for w in warnings] == [
        ("tracking_without_carrier", "ev_a"),
        ("refund_less_than_disputed", "ev_b"),
        ("package_over_page_budget", None),
    ]


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("1 Main Street, Springfield", "1 main street springfield"),
        ("  1  MAIN\tStreet;Springfield. ", "1 main street springfield"),
        ("\uff11 Main Street", "1 main street"),
        ("Stra\u00dfe 5", "strasse 5"),
    ],
)
def test_address_normalised_for_comparison(address: str, normalised: str) -> None:
    assert evidence_facts.normalise_address(address) == normalised


# The loader: a malformed table stops the import.

HEADER = ",".join(COLUMNS)


def row(
    category: str = "fraud",
    path: str = "p",
    title: str = "Title",
    evidence_type: str = "refund_proof",
    requirement: str = "required",
    group: str = "",
    advice: str = "Upload it.",
) -> str:
    return ",".join([category, path, title, evidence_type, requirement, group, advice])


VALID = [row(category.value) for category in ReasonCategory]


def table(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_minimal_table_loads() -> None:
    loaded = load_paths(table(*VALID, row("fraud", "q", "Other", "other", "one_of", "G1")))
    assert set(loaded) == {c.value for c in ReasonCategory}
    assert [r.name for r in loaded["fraud"]] == ["p", "q"]
    assert loaded["fraud"][1].items == (ItemRule(EvidenceType.OTHER, ONE_OF, "G1", "Upload it."),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            table(*VALID, header="category,path,title,evidence_type,requirement,group,advice"),
            "line 1: columns must be",
        ),
        (table(*VALID, "fraud,p,Title,refund_proof,required,"), "line 9: expected 7 fields"),
        (table(*VALID, row() + ",extra"), "line 9: expected 7 fields"),
        (table(row(advice=""), *VALID), "line 2: advice is empty"),
        (table(row(title=" "), *VALID), "line 2: path_title is empty"),
        (table(row(path=" p"), *VALID), "line 2: path ' p' has surrounding spaces"),
        (table(row(category="lost"), *VALID), "line 2: unknown category 'lost'"),
        (table(row(evidence_type="video"), *VALID), "line 2: unknown evidence_type 'video'"),
        (table(row(requirement="must"), *VALID), "line 2: unknown requirement 'must'"),
        (table(row(path="Not-Snake"), *VALID), "line 2: path 'Not-Snake' must be snake_case"),
        (table(row(requirement="one_of"), *VALID), "line 2: a one_of row needs a group"),
        (table(row(requirement="one_of", group="X1"), *VALID), "line 2: a one_of row needs a group"),
        (table(row(group="G1"), *VALID), "line 2: group 'G1' is only for one_of rows, not required"),
        (table(row(requirement="optional", group="G2"), *VALID), "group 'G2' is only for one_of rows"),
        (
            table(*VALID[:1], row(), *VALID[1:]),
            "line 3: duplicate refund_proof on path fraud/p (first on line 2)",
        ),
        (
            table(*VALID, row(path="q"), row(evidence_type="other")),
            "line 10: rows of path fraud/p must be together",
        ),
        (
            table(*VALID[:1], row(title="Another", evidence_type="other"), *VALID[1:]),
            "line 3: path fraud/p has two titles",
        ),
        (
            table(*VALID, row(path="q", requirement="recommended")),
            "line 9: path fraud/q has no required or one_of item",
        ),
        (table(*VALID, row(path="q", requirement="optional")), "path fraud/q has no required or one_of item"),
        (table(*VALID[:-1]), "no paths for general"),
        (table(), "no paths for fraud, not_received"),
        (table(*VALID, 'fraud,p,"Ti"tle,other,required,,Upload it.'), "line 9:"),
    ],
)
def test_malformed_table_rejected(text: str, message: str) -> None:
    with pytest.raises(EvidenceRulesError, match=r"^evidence_paths\.csv") as caught:
        load_paths(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
