"""Unit tests for app.domain.reasons: reason-code classification."""

from __future__ import annotations

from importlib import resources

import pytest

from app.domain.errors import FieldProblem, InvalidInput
from app.domain.reasons import (
    NETWORKS,
    UNKNOWN_EXPLANATION,
    UNKNOWN_TITLE,
    ReasonCategory,
    ReasonInfo,
    ReasonTableError,
    classify,
    parse_reason_table,
)

SHIPPED = parse_reason_table((resources.files("app.domain") / "data" / "reason_codes.csv").read_text("utf-8"))

FRAUD = ReasonCategory.FRAUD
NOT_RECEIVED = ReasonCategory.NOT_RECEIVED
NOT_AS_DESCRIBED = ReasonCategory.NOT_AS_DESCRIBED
CREDIT_NOT_PROCESSED = ReasonCategory.CREDIT_NOT_PROCESSED
DUPLICATE = ReasonCategory.DUPLICATE
PROCESSING_ERROR = ReasonCategory.PROCESSING_ERROR
GENERAL = ReasonCategory.GENERAL

EN = "\N{EN DASH}"
EM = "\N{EM DASH}"

VISA = [
    ("10.1", FRAUD, "EMV Liability Shift Counterfeit Fraud"),
    ("10.2", FRAUD, "EMV Liability Shift Non-Counterfeit Fraud"),
    ("10.3", FRAUD, f"Other Fraud {EN} Card-Present Environment"),
    ("10.4", FRAUD, f"Other Fraud {EN} Card-Absent Environment"),
    ("10.5", FRAUD, "Visa Fraud Monitoring Program"),
    ("11.1", PROCESSING_ERROR, "Card Recovery Bulletin"),
    ("11.2", PROCESSING_ERROR, "Declined Authorization"),
    ("11.3", PROCESSING_ERROR, "No Authorization"),
    ("12.1", PROCESSING_ERROR, "Late Presentment"),
    ("12.2", PROCESSING_ERROR, "Incorrect Transaction Code"),
    ("12.3", PROCESSING_ERROR, "Incorrect Currency"),
    ("12.4", PROCESSING_ERROR, "Incorrect Account Number"),
    ("12.5", PROCESSING_ERROR, "Incorrect Amount"),
    ("12.6", DUPLICATE, "Duplicate Processing/Paid by Other Means"),
    ("12.6.1", DUPLICATE, "Duplicate Processing"),
    ("12.6.2", DUPLICATE, "Paid by Other Means"),
    ("12.7", PROCESSING_ERROR, "Invalid Data"),
    ("13.1", NOT_RECEIVED, "Merchandise/Services Not Received"),
    ("13.2", CREDIT_NOT_PROCESSED, "Cancelled Recurring Transaction"),
    ("13.3", NOT_AS_DESCRIBED, "Not as Described or Defective Merchandise/Services"),
    ("13.4", NOT_AS_DESCRIBED, "Counterfeit Merchandise"),
    ("13.5", NOT_AS_DESCRIBED, "Misrepresentation"),
    ("13.6", CREDIT_NOT_PROCESSED, "Credit Not Processed"),
    ("13.7", CREDIT_NOT_PROCESSED, "Cancelled Merchandise/Services"),
    ("13.8", GENERAL, "Original Credit Transaction Not Accepted"),
    ("13.9", NOT_RECEIVED, "Non-Receipt of Cash or Load Transaction Value"),
]

MASTERCARD = [
    ("4807", PROCESSING_ERROR, "Warning Bulletin File"),
    ("4808", PROCESSING_ERROR, "Authorization-Related Chargeback"),
    ("4812", PROCESSING_ERROR, "Account Number Not on File"),
    ("4831", PROCESSING_ERROR, "Transaction Amount Differs"),
    ("4834", DUPLICATE, "Point-of-Interaction Error"),  # filed as duplicate, as evidence-rules.md does
    ("4837", FRAUD, "No Cardholder Authorization"),
    ("4840", FRAUD, "Fraudulent Processing of Transactions"),
    ("4841", CREDIT_NOT_PROCESSED, "Cancelled Recurring or Digital Goods Transactions"),
    ("4842", PROCESSING_ERROR, "Late Presentment"),
    ("4846", PROCESSING_ERROR, "Correct Transaction Currency Code Not Provided"),
    ("4849", FRAUD, "Questionable Merchant Activity"),
    ("4850", PROCESSING_ERROR, "Installment Billing Dispute (Participating Countries Only)"),
    ("4853", NOT_AS_DESCRIBED, "Cardholder Dispute"),
    ("4854", GENERAL, f"Cardholder Dispute {EM} Not Elsewhere Classified (U.S. Region Only)"),
    ("4855", NOT_RECEIVED, "Goods or Services Not Provided"),
    ("4859", GENERAL, "Addendum, No-Show, or ATM Dispute"),
    ("4860", CREDIT_NOT_PROCESSED, "Credit Not Processed"),
    ("4862", FRAUD, "Counterfeit Transaction Magnetic Stripe POS Fraud"),
    ("4863", FRAUD, f"Cardholder Does Not Recognize {EM} Potential Fraud"),
    ("4870", FRAUD, "Chip Liability Shift"),
    ("4871", FRAUD, "Chip/PIN Liability Shift"),
    ("4999", GENERAL, "Domestic Chargeback Dispute (Europe Region Only)"),
]

AMEX = [
    ("A01", PROCESSING_ERROR, "Charge Amount Exceeds Authorization Amount"),
    ("A02", PROCESSING_ERROR, "No Valid Authorization"),
    ("A08", PROCESSING_ERROR, "Authorization Approval Expired"),
    ("C02", CREDIT_NOT_PROCESSED, "Credit Not Processed"),
    ("C04", CREDIT_NOT_PROCESSED, "Goods/Services Returned or Refused"),
    ("C05", CREDIT_NOT_PROCESSED, "Goods/Services Cancelled"),
    ("C08", NOT_RECEIVED, "Goods/Services Not Received or Only Partially Received"),
    ("C14", DUPLICATE, "Paid by Other Means"),
    ("C18", CREDIT_NOT_PROCESSED, '"No Show" or CARDeposit Cancelled'),
    ("C28", CREDIT_NOT_PROCESSED, "Cancelled Recurring Billing"),
    ("C31", NOT_AS_DESCRIBED, "Goods/Services Not as Described"),
    ("C32", NOT_AS_DESCRIBED, "Goods/Services Damaged or Defective"),
    ("F10", FRAUD, "Missing Imprint"),
    ("F14", FRAUD, "Missing Signature"),
    ("F24", FRAUD, "No Card Member Authorization"),
    ("F29", FRAUD, "Card Not Present"),
    ("F30", FRAUD, "EMV Counterfeit"),
    ("F31", FRAUD, "EMV Lost/Stolen/Non-Received"),
    ("FR2", FRAUD, "Fraud Full Recourse Program"),
    ("FR4", GENERAL, "Immediate Chargeback Program"),
    ("FR6", GENERAL, "Partial Immediate Chargeback Program"),
    ("M01", GENERAL, "Chargeback Authorization"),
    ("M10", GENERAL, f"Vehicle Rental {EN} Capital Damages"),
    ("M49", GENERAL, f"Vehicle Rental {EN} Theft or Loss of Use"),
    ("P01", PROCESSING_ERROR, "Unassigned Card Number"),
    ("P03", PROCESSING_ERROR, "Credit Processed as Charge"),
    ("P04", PROCESSING_ERROR, "Charge Processed as Credit"),
    ("P05", PROCESSING_ERROR, "Incorrect Charge Amount"),
    ("P07", PROCESSING_ERROR, "Late Submission"),
    ("P08", DUPLICATE, "Duplicate Charge"),
    ("P22", PROCESSING_ERROR, "Non-Matching Card Number"),
    ("P23", PROCESSING_ERROR, "Currency Discrepancy"),
    ("R03", GENERAL, "Insufficient Reply"),
    ("R13", GENERAL, "No Reply"),
]

DISCOVER = [
    ("AA", FRAUD, "Does Not Recognize"),
    ("UA01", FRAUD, f"Fraud {EN} Card Present Transaction"),
    ("UA02", FRAUD, f"Fraud {EN} Card Not Present Transaction"),
    ("UA05", FRAUD, f"Fraud {EN} Chip Card Counterfeit Transaction"),
    ("UA06", FRAUD, f"Fraud {EN} Chip Card and PIN Transaction"),
    ("UA10", FRAUD, "Request Transaction Receipt (Swiped Card Transactions)"),
    ("UA11", FRAUD, "Cardholder Claims Fraud (Swiped Transaction, No Signature Provided)"),
    ("AT", PROCESSING_ERROR, "Authorization Non-Compliance"),
    ("DA", PROCESSING_ERROR, "Declined Authorization"),
    ("NA", PROCESSING_ERROR, "No Authorization"),
    ("EX", PROCESSING_ERROR, "Expired Card"),
    ("LP", PROCESSING_ERROR, "Late Presentation"),
    ("CD", PROCESSING_ERROR, "Credit Posted as Card Sale"),
    ("IN", PROCESSING_ERROR, "Invalid Card Number"),
    ("AW", PROCESSING_ERROR, "Altered Amount"),
    ("IC", PROCESSING_ERROR, "Illegible Sales Data"),
    ("DP", DUPLICATE, "Duplicate Processing"),
    ("PM", DUPLICATE, "Paid by Other Means"),
    ("RG", NOT_RECEIVED, "Non-Receipt of Goods or Services"),
    ("NF", NOT_RECEIVED, "Non-Receipt of Cash from ATM"),
    ("RM", NOT_AS_DESCRIBED, "Quality Discrepancy"),
    ("AP", CREDIT_NOT_PROCESSED, "Cancelled Recurring Billing"),
    ("RN2", CREDIT_NOT_PROCESSED, "Credit Not Received"),
    ("NC", GENERAL, "Not Classified"),
]

STRIPE = [
    ("bank_cannot_process", PROCESSING_ERROR),
    ("check_returned", PROCESSING_ERROR),
    ("credit_not_processed", CREDIT_NOT_PROCESSED),
    ("customer_initiated", GENERAL),
    ("debit_not_authorized", FRAUD),
    ("duplicate", DUPLICATE),
    ("fraudulent", FRAUD),
    ("general", GENERAL),
    ("incorrect_account_details", PROCESSING_ERROR),
    ("insufficient_funds", PROCESSING_ERROR),
    ("noncompliant", PROCESSING_ERROR),
    ("product_not_received", NOT_RECEIVED),
    ("product_unacceptable", NOT_AS_DESCRIBED),
    ("subscription_canceled", CREDIT_NOT_PROCESSED),
    ("unrecognized", FRAUD),
]

PAYPAL = [
    ("MERCHANDISE_OR_SERVICE_NOT_RECEIVED", NOT_RECEIVED),
    ("ITEM_NOT_RECEIVED", NOT_RECEIVED),
    ("MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", NOT_AS_DESCRIBED),
    ("UNAUTHORISED", FRAUD),
    ("CREDIT_NOT_PROCESSED", CREDIT_NOT_PROCESSED),
    ("DUPLICATE_TRANSACTION", DUPLICATE),
    ("INCORRECT_AMOUNT", PROCESSING_ERROR),
    ("PAYMENT_BY_OTHER_MEANS", DUPLICATE),
    ("CANCELED_RECURRING_BILLING", CREDIT_NOT_PROCESSED),
    ("PROBLEM_WITH_REMITTANCE", GENERAL),
    ("OTHER", GENERAL),
]

CARD_NETWORK_TABLES = [
    pytest.param("visa", VISA, id="visa"),
    pytest.param("mastercard", MASTERCARD, id="mastercard"),
    pytest.param("amex", AMEX, id="amex"),
    pytest.param("discover", DISCOVER, id="discover"),
]


def _card_cases(network: str, rows: list[tuple[str, ReasonCategory, str]]) -> list[object]:
    return [
        pytest.param(network, code, category, title, id=f"{network}-{code}") for code, category, title in rows
    ]


CARD_CASES = (
    _card_cases("visa", VISA)
    + _card_cases("mastercard", MASTERCARD)
    + _card_cases("amex", AMEX)
    + _card_cases("discover", DISCOVER)
)


def _expect_invalid(reason_code: str, message: str) -> None:
    with pytest.raises(InvalidInput) as exc_info:
        classify(reason_code)
    assert exc_info.type is InvalidInput
    assert exc_info.value.code == "validation_error"
    assert exc_info.value.errors == [FieldProblem("reason_code", message)]


# Card network codes -----------------------------------------------------------


@pytest.mark.parametrize(("network", "code", "category", "title"), CARD_CASES)
def test_card_network_code_without_network_classified_with_official_title(
    network: str, code: str, category: ReasonCategory, title: str
) -> None:
    info = classify(code)
    assert info == ReasonInfo(
        code=code, network=network, category=category, title=title, explanation=info.explanation, known=True
    )
    assert info.explanation


@pytest.mark.parametrize(("network", "code", "category", "title"), CARD_CASES)
def test_card_network_code_with_its_network_classified_same(
    network: str, code: str, category: ReasonCategory, title: str
) -> None:
    info = classify(code, network)
    assert (info.code, info.network, info.category, info.title, info.known) == (
        code,
        network,
        category,
        title,
        True,
    )


@pytest.mark.parametrize(("network", "rows"), CARD_NETWORK_TABLES)
def test_network_table_holds_exactly_the_expected_codes(
    network: str, rows: list[tuple[str, ReasonCategory, str]]
) -> None:
    in_table = {info.code for info in SHIPPED if info.network == network}
    assert in_table == {code for code, _, _ in rows}


@pytest.mark.parametrize(
    ("code", "category"),
    [
        pytest.param("10.4", FRAUD, id="visa-card-absent-fraud"),
        pytest.param("13.1", NOT_RECEIVED, id="visa-not-received"),
        pytest.param("13.3", NOT_AS_DESCRIBED, id="visa-not-as-described"),
        pytest.param("13.6", CREDIT_NOT_PROCESSED, id="visa-credit-not-processed"),
        pytest.param("12.6.1", DUPLICATE, id="visa-duplicate-processing"),
        pytest.param("12.6.2", DUPLICATE, id="visa-paid-by-other-means"),
        pytest.param("11.3", PROCESSING_ERROR, id="visa-no-authorisation"),
        pytest.param("4837", FRAUD, id="mc-no-cardholder-authorisation"),
        pytest.param("4853", NOT_AS_DESCRIBED, id="mc-cardholder-dispute"),
        pytest.param("4855", NOT_RECEIVED, id="mc-not-provided"),
        pytest.param("C08", NOT_RECEIVED, id="amex-not-received"),
        pytest.param("RG", NOT_RECEIVED, id="discover-not-received"),
    ],
)
def test_headline_code_maps_to_contract_category(code: str, category: ReasonCategory) -> None:
    assert classify(code).category is category


# Provider reason names --------------------------------------------------------


@pytest.mark.parametrize(("name", "category"), [pytest.param(n, c, id=n) for n, c in STRIPE])
def test_stripe_reason_with_stripe_network_classified(name: str, category: ReasonCategory) -> None:
    info = classify(name, "stripe")
    assert (info.code, info.network, info.category, info.known) == (name, "stripe", category, True)
    assert info.title
    assert info.explanation


@pytest.mark.parametrize(("name", "category"), [pytest.param(n, c, id=n) for n, c in PAYPAL])
def test_paypal_reason_with_paypal_network_classified(name: str, category: ReasonCategory) -> None:
    info = classify(name, "paypal")
    assert (info.code, info.network, info.category, info.known) == (name, "paypal", category, True)
    assert info.title
    assert info.explanation


@pytest.mark.parametrize(
    ("name", "category"),
    [
        pytest.param(n, c, id=n)
        for n, c in STRIPE
        if n not in {"duplicate", "general", "credit_not_processed"}
    ],
)
def test_stripe_only_reason_without_network_classified_as_stripe(name: str, category: ReasonCategory) -> None:
    info = classify(name)
    assert (info.network, info.category) == ("stripe", category)


@pytest.mark.parametrize(("name", "category"), [pytest.param(n, c, id=n) for n, c in PAYPAL])
def test_paypal_reason_without_network_classified_as_paypal(name: str, category: ReasonCategory) -> None:
    info = classify(name)
    assert (info.code, info.network, info.category) == (name, "paypal", category)


@pytest.mark.parametrize("category", [pytest.param(c, id=c.value) for c in ReasonCategory])
def test_own_category_name_without_network_maps_to_itself(category: ReasonCategory) -> None:
    info = classify(category.value)
    assert (info.code, info.network, info.category, info.known) == (category.value, None, category, True)


# Normalisation and disambiguation ----------------------------------------------


@pytest.mark.parametrize(
    ("sent", "network", "code", "expected_network"),
    [
        pytest.param(" 10.4 ", None, "10.4", "visa", id="visa-padded"),
        pytest.param("\t4837\n", None, "4837", "mastercard", id="mc-tabs-newline"),
        pytest.param("c08", None, "C08", "amex", id="amex-lowercase"),
        pytest.param("fr2", None, "FR2", "amex", id="amex-program-lowercase"),
        pytest.param("ua02", None, "UA02", "discover", id="discover-lowercase"),
        pytest.param("Fraudulent", None, "fraudulent", "stripe", id="stripe-titlecase"),
        pytest.param("FRAUDULENT", None, "fraudulent", "stripe", id="stripe-uppercase"),
        pytest.param("Product_Not_Received", None, "product_not_received", "stripe", id="stripe-mixed"),
        pytest.param("unauthorised", None, "UNAUTHORISED", "paypal", id="paypal-lowercase"),
        pytest.param(" Item_Not_Received ", None, "ITEM_NOT_RECEIVED", "paypal", id="paypal-mixed-padded"),
        pytest.param("NOT_RECEIVED", None, "not_received", None, id="own-uppercase"),
    ],
)
def test_code_in_other_spelling_normalised_to_canonical(
    sent: str, network: str | None, code: str, expected_network: str | None
) -> None:
    info = classify(sent, network)
    assert (info.code, info.network, info.known) == (code, expected_network, True)


@pytest.mark.parametrize(
    ("sent", "network", "expected_network", "category"),
    [
        pytest.param("duplicate", None, None, DUPLICATE, id="duplicate-no-network-own"),
        pytest.param("duplicate", "stripe", "stripe", DUPLICATE, id="duplicate-stripe"),
        pytest.param("general", None, None, GENERAL, id="general-no-network-own"),
        pytest.param("general", "stripe", "stripe", GENERAL, id="general-stripe"),
        pytest.param("credit_not_processed", None, None, CREDIT_NOT_PROCESSED, id="cnp-lower-own"),
        pytest.param("CREDIT_NOT_PROCESSED", None, "paypal", CREDIT_NOT_PROCESSED, id="cnp-upper-paypal"),
        pytest.param("Credit_Not_Processed", None, None, CREDIT_NOT_PROCESSED, id="cnp-mixed-own"),
        pytest.param("credit_not_processed", "stripe", "stripe", CREDIT_NOT_PROCESSED, id="cnp-stripe"),
        pytest.param("credit_not_processed", "paypal", "paypal", CREDIT_NOT_PROCESSED, id="cnp-paypal"),
        pytest.param("CREDIT_NOT_PROCESSED", "visa", "paypal", CREDIT_NOT_PROCESSED, id="cnp-foreign-net"),
        pytest.param("credit_not_processed", "visa", None, CREDIT_NOT_PROCESSED, id="cnp-lower-foreign-net"),
        pytest.param("4837", "visa", "mastercard", FRAUD, id="mc-code-visa-network"),
        pytest.param("C08", "mastercard", "amex", NOT_RECEIVED, id="amex-code-mc-network"),
        pytest.param("10.4", "paypal", "visa", FRAUD, id="visa-code-paypal-network"),
        pytest.param("fraudulent", "paypal", "stripe", FRAUD, id="stripe-name-paypal-network"),
    ],
)
def test_shared_or_contradicted_code_resolved_by_network_then_spelling(
    sent: str, network: str | None, expected_network: str | None, category: ReasonCategory
) -> None:
    info = classify(sent, network)
    assert (info.network, info.category, info.known) == (expected_network, category, True)


@pytest.mark.parametrize(
    "network",
    [
        pytest.param("Stripe", id="titlecase"),
        pytest.param(" STRIPE ", id="uppercase-padded"),
    ],
)
def test_network_in_other_spelling_still_disambiguates(network: str) -> None:
    assert classify("duplicate", network).network == "stripe"


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        pytest.param("MC", "mastercard", id="mc"),
        pytest.param("Master Card", "mastercard", id="master-card"),
        pytest.param("American Express", "amex", id="american-express"),
        pytest.param("american_express", "amex", id="american-express-snake"),
        pytest.param("Discover", "discover", id="discover"),
        pytest.param("jcb", None, id="unknown-network"),
        pytest.param("", None, id="empty-network"),
        pytest.param(None, None, id="no-network"),
    ],
)
def test_unknown_code_reports_normalised_network_or_none(network: str | None, expected: str | None) -> None:
    assert classify("ZZ99", network).network == expected


# Unknown codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("13.10", "13.10", id="visa-like-not-in-table"),
        pytest.param("10.4.1", "10.4.1", id="visa-subcode-not-in-table"),
        pytest.param("4899", "4899", id="mc-like-not-in-table"),
        pytest.param("1040", "1040", id="visa-without-dot"),
        pytest.param("MC4837", "MC4837", id="mc-prefixed"),
        pytest.param("  Weird Reason  ", "Weird Reason", id="free-text-padded"),
        pytest.param("fraud_claim", "fraud_claim", id="near-miss-name"),
    ],
)
def test_unknown_code_general_unknown_and_kept_as_sent(sent: str, kept: str) -> None:
    assert classify(sent) == ReasonInfo(
        code=kept,
        network=None,
        category=GENERAL,
        title=UNKNOWN_TITLE,
        explanation=UNKNOWN_EXPLANATION,
        known=False,
    )


def test_unknown_code_title_is_unrecognised_reason_code() -> None:
    assert classify("??").title == "Unrecognised reason code"


def test_code_of_exactly_64_characters_accepted() -> None:
    info = classify("x" * 64)
    assert (info.code, info.known) == ("x" * 64, False)


def test_padded_code_within_limit_after_stripping_accepted() -> None:
    assert classify("  " + "x" * 64 + "  ").code == "x" * 64


# Rejected input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("\t\r\n", id="whitespace-controls"),
        pytest.param("\u3000", id="ideographic-space"),
    ],
)
def test_blank_code_rejected_as_blank(sent: str) -> None:
    _expect_invalid(sent, "must not be blank")


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("x" * 65, id="65-chars"),
        pytest.param("10.4" * 100, id="400-chars"),
    ],
)
def test_code_over_64_characters_rejected_as_too_long(sent: str) -> None:
    _expect_invalid(sent, "must be at most 64 characters")


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("10\x00.4", id="nul"),
        pytest.param("10.\x1b[31m4", id="ansi-escape"),
        pytest.param("48\n37", id="inner-newline"),
        pytest.param("\x7f4837", id="delete"),
        pytest.param("\u200b10.4", id="zero-width-space"),
        pytest.param("10.4\u202e", id="bidi-override"),
    ],
)
def test_code_with_control_character_rejected(sent: str) -> None:
    _expect_invalid(sent, "must not contain control characters")


# Categories and table integrity ---------------------------------------------------


def test_categories_listed_in_declared_order() -> None:
    assert [category.value for category in ReasonCategory] == [
        "fraud",
        "not_received",
        "not_as_described",
        "credit_not_processed",
        "duplicate",
        "processing_error",
        "general",
    ]


def test_every_table_entry_found_again_by_its_code_and_network() -> None:
    for info in SHIPPED:
        assert classify(info.code, info.network) == info, info


def test_every_unshared_table_entry_found_in_any_case_and_padding() -> None:
    keys = [info.code.lower() for info in SHIPPED]
    for info in SHIPPED:
        if keys.count(info.code.lower()) == 1:
            assert classify(f" {info.code.swapcase()} ") == info, info


def test_every_table_entry_known_with_listed_network() -> None:
    for info in SHIPPED:
        assert info.known, info
        assert info.network is None or info.network in NETWORKS, info


def test_every_table_entry_has_short_title_and_one_or_two_sentence_explanation() -> None:
    for info in SHIPPED:
        assert info.title.strip() == info.title != "", info
        assert info.explanation.endswith("."), info
        assert 20 <= len(info.explanation) <= 200, info
        assert info.explanation.count(". ") <= 1, info


def test_table_has_no_code_twice_within_a_network() -> None:
    keys = [(info.network, info.code.lower()) for info in SHIPPED]
    assert len(keys) == len(set(keys))


def test_table_covers_every_provider_name() -> None:
    by_network = {
        network: {info.code for info in SHIPPED if info.network == network}
        for network in ("stripe", "paypal")
    }
    assert by_network == {"stripe": {n for n, _ in STRIPE}, "paypal": {n for n, _ in PAYPAL}}


# Loading the table ----------------------------------------------------------------

HEADER = "code,network,category,title,explanation"
OWN_LINES = [f"{c.value},ours,{c.value},Own {c.value},Ours." for c in ReasonCategory]  # lines 2-8
NETWORK_LINES = [  # lines 9-14
    "10.4,visa,fraud,Card-Absent Fraud,Not authorised.",
    "4837,mastercard,fraud,No Cardholder Authorization,Not authorised.",
    "C08,amex,not_received,Not Received,Not received.",
    "RG,discover,not_received,Non-Receipt,Not received.",
    "fraudulent,stripe,fraud,Fraudulent,Not authorised.",
    "UNAUTHORISED,paypal,fraud,Unauthorised,Not authorised.",
]


def _table(*extra: str, header: str = HEADER, drop: str | None = None) -> str:
    lines = [header, *OWN_LINES, *NETWORK_LINES, *extra]
    return "\n".join(line for line in lines if drop is None or not line.startswith(drop)) + "\n"


def test_valid_table_parsed_in_file_order_with_own_rows_networkless() -> None:
    table = parse_reason_table(_table())
    assert [(info.code, info.network) for info in table] == [
        *((c.value, None) for c in ReasonCategory),
        ("10.4", "visa"),
        ("4837", "mastercard"),
        ("C08", "amex"),
        ("RG", "discover"),
        ("fraudulent", "stripe"),
        ("UNAUTHORISED", "paypal"),
    ]
    assert table[7] == ReasonInfo("10.4", "visa", FRAUD, "Card-Absent Fraud", "Not authorised.", known=True)


def test_same_code_in_two_networks_accepted() -> None:
    table = parse_reason_table(_table("fraudulent,paypal,fraud,Fraudulent,Not authorised."))
    assert [info.network for info in table if info.code == "fraudulent"] == ["stripe", "paypal"]


def test_quoted_field_with_comma_and_quotes_kept_whole() -> None:
    table = parse_reason_table(_table('C18,amex,credit_not_processed,"""No Show"" or Cancelled","A, b."'))
    assert (table[-1].title, table[-1].explanation) == ('"No Show" or Cancelled', "A, b.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            _table("10.4,visa,fraud,Again,Again."),
            "t.csv, line 15: duplicate code '10.4' for network 'visa' (first on line 9)",
            id="duplicate-code-and-network",
        ),
        pytest.param(
            _table("Fraudulent,stripe,fraud,Again,Again."),
            "t.csv, line 15: duplicate code 'Fraudulent' for network 'stripe' (first on line 13)",
            id="duplicate-in-other-case",
        ),
        pytest.param(
            _table("fraud,ours,fraud,Again,Again."),
            "t.csv, line 15: duplicate code 'fraud' for network 'ours' (first on line 2)",
            id="duplicate-own-row",
        ),
        pytest.param(
            _table("10.9,visa,theft,Theft,Stolen."),
            "t.csv, line 15: unknown category 'theft' (expected one of fraud, not_received,",
            id="unknown-category",
        ),
        pytest.param(
            _table("10.9,Visa,fraud,Fraud,Fraud."),
            "t.csv, line 15: unknown network 'Visa' (expected one of amex, discover,",
            id="unknown-network-spelling",
        ),
        pytest.param(
            _table("J1,jcb,fraud,Fraud,Fraud."),
            "t.csv, line 15: unknown network 'jcb'",
            id="unknown-network",
        ),
        pytest.param(_table("10.9,visa,fraud,,Fraud."), "t.csv, line 15: title is empty", id="empty-title"),
        pytest.param(_table(",visa,fraud,Fraud,Fraud."), "t.csv, line 15: code is empty", id="empty-code"),
        pytest.param(
            _table("10.9,,fraud,Fraud,Fraud."), "t.csv, line 15: network is empty", id="empty-network"
        ),
        pytest.param(
            _table("10.9,visa,fraud,Fraud,  "), "t.csv, line 15: explanation is empty", id="blank-explanation"
        ),
        pytest.param(
            _table(" 10.9,visa,fraud,Fraud,Fraud."),
            "t.csv, line 15: code ' 10.9' has surrounding spaces",
            id="padded-code",
        ),
        pytest.param(
            _table("10.9,visa,fraud,Fraud"), "t.csv, line 15: expected 5 fields", id="missing-field"
        ),
        pytest.param(
            _table("10.9,visa,fraud,Fraud,Fraud.,extra"),
            "t.csv, line 15: expected 5 fields",
            id="extra-field",
        ),
        pytest.param(
            _table("fraudulent,ours,fraud,Fraud,Fraud."),
            "t.csv, line 15: our own code 'fraudulent' must be its category's name 'fraud'",
            id="own-code-not-category-name",
        ),
        pytest.param(
            _table(header="code,network,category,title"),
            "t.csv, line 1: columns must be code, network, category, title, explanation;",
            id="missing-column",
        ),
        pytest.param(
            _table(header="network,code,category,title,explanation"),
            "t.csv, line 1: columns must be",
            id="columns-out-of-order",
        ),
        pytest.param(_table(drop="C08,amex"), "t.csv: no rows for amex", id="network-not-covered"),
        pytest.param(
            _table(drop="general,ours"), "t.csv: no rows for ours general", id="own-category-not-covered"
        ),
        pytest.param("", "t.csv, line 1: columns must be", id="empty-file"),
        pytest.param(
            _table('10.9,visa,fraud,"Fraud,Fraud.'), "t.csv, line 15: unexpected end of data", id="open-quote"
        ),
    ],
)
def test_malformed_table_refused_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ReasonTableError) as exc_info:
        parse_reason_table(text, source="t.csv")
    assert str(exc_info.value).startswith(message)


def test_table_error_is_a_value_error() -> None:
    assert issubclass(ReasonTableError, ValueError)
