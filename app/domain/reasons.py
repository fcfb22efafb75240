"""Chargeback reason codes and the category we file each one under.

Card networks and payment providers each send their own reason codes: Visa
(Visa Claims Resolution, in the Visa Dispute Management Guidelines), Mastercard
(Chargeback Guide message reason codes), American Express and Discover (their
merchant dispute rules), Stripe (``dispute.reason``) and PayPal (the Disputes
API ``reason``). :func:`classify` maps any of them to one of our
:class:`ReasonCategory` values, with a short title and a plain-words
explanation a seller can read in an email.

Decisions, in one place:

* Lookup is case-insensitive; the code is reported in its canonical spelling
  (``"Fraudulent"`` becomes ``"fraudulent"``, ``"c08"`` becomes ``"C08"``).
* Our own category names are codes too (``"not_received"``; network ``None``).
* A name that exists in several tables (``duplicate``, ``general`` and
  ``credit_not_processed`` are Stripe names and our own; the last is also a
  PayPal name) resolves to the entry of the given network; without a network
  (or with one that has no such entry) an exact spelling match wins, then our
  own entry. ``"CREDIT_NOT_PROCESSED"`` is PayPal's, ``"duplicate"`` is ours.
* A network that contradicts a known code does not hide it: ``"4837"`` sent
  with network ``"visa"`` is still Mastercard 4837.
* Unknown codes are not an error: they are ``GENERAL`` with ``known=False``,
  the code kept as sent (stripped) and the network as given (``None`` when the
  given network is not one we know). We do not guess a network for them.
* Mastercard 4853 "Cardholder Dispute" now covers not-received, not-as-
  described, counterfeit, credit-not-processed and recurring disputes; we file
  it under ``NOT_AS_DESCRIBED``, its most common meaning. The legacy codes it
  replaced keep their narrower meaning (4855 not received, 4860 and 4841
  credit not processed).
* Legacy Mastercard codes still sent by some acquirers (4807, 4812, 4831, 4840,
  4841, 4842, 4846, 4854, 4855, 4859, 4860, 4862, 4863) are in the table.
* Discover is covered by its two-letter / ``UA`` dispute codes only; the
  numeric Discover codes some processors send (e.g. 4863 "Authorization
  Non-Compliance") collide with Mastercard codes and are left out.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import FieldProblem, InvalidInput

MAX_CODE_LENGTH = 64

UNKNOWN_TITLE = "Unrecognised reason code"
UNKNOWN_EXPLANATION = (
    "The bank or payment provider sent a reason code we do not recognise. "
    "Check the dispute details from the provider to see what the buyer claims."
)


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


_C = ReasonCategory

# (network, canonical code, category, title, explanation)
_Row = tuple[str | None, str, ReasonCategory, str, str]

_OWN_ROWS: tuple[_Row, ...] = (
    (None, "fraud", _C.FRAUD, "Fraud", "The buyer says they did not make or authorise this payment."),
    (
        None,
        "not_received",
        _C.NOT_RECEIVED,
        "Not received",
        "The buyer says they paid but never received the goods or service.",
    ),
    (
        None,
        "not_as_described",
        _C.NOT_AS_DESCRIBED,
        "Not as described",
        "The buyer says what they received was defective, counterfeit or not as described.",
    ),
    (
        None,
        "credit_not_processed",
        _C.CREDIT_NOT_PROCESSED,
        "Credit not processed",
        "The buyer says they cancelled or returned the purchase and are owed a refund they did not get.",
    ),
    (
        None,
        "duplicate",
        _C.DUPLICATE,
        "Duplicate",
        "The buyer says they were charged twice, or already paid for this purchase another way.",
    ),
    (
        None,
        "processing_error",
        _C.PROCESSING_ERROR,
        "Processing error",
        "The bank says the payment was processed incorrectly, for example without a valid "
        "authorisation or with a wrong amount or currency.",
    ),
    (
        None,
        "general",
        _C.GENERAL,
        "General",
        "The dispute does not fit a specific category; check the buyer's message for details.",
    ),
)

# Visa Claims Resolution reason codes (Visa Dispute Management Guidelines / Visa Core Rules).
_VISA_ROWS: tuple[_Row, ...] = (
    (
        "visa",
        "10.1",
        _C.FRAUD,
        "EMV Liability Shift Counterfeit Fraud",
        "The cardholder says a counterfeit copy of their chip card was used, and the payment "
        "was not processed as a chip transaction.",
    ),
    (
        "visa",
        "10.2",
        _C.FRAUD,
        "EMV Liability Shift Non-Counterfeit Fraud",
        "The cardholder says a lost or stolen chip card was used without their permission at a "
        "terminal that did not read the chip and PIN.",
    ),
    (
        "visa",
        "10.3",
        _C.FRAUD,
        "Other Fraud \N{EN DASH} Card-Present Environment",
        "The cardholder says they did not authorise or take part in this in-person payment.",
    ),
    (
        "visa",
        "10.4",
        _C.FRAUD,
        "Other Fraud \N{EN DASH} Card-Absent Environment",
        "The cardholder says they did not authorise or take part in this online, phone or "
        "mail-order payment.",
    ),
    (
        "visa",
        "10.5",
        _C.FRAUD,
        "Visa Fraud Monitoring Program",
        "Visa identified the payment as fraud under its fraud monitoring programme for this merchant.",
    ),
    (
        "visa",
        "11.1",
        _C.PROCESSING_ERROR,
        "Card Recovery Bulletin",
        "The bank says the card was listed as lost, stolen or blocked and the payment was taken "
        "without a valid authorisation.",
    ),
    (
        "visa",
        "11.2",
        _C.PROCESSING_ERROR,
        "Declined Authorization",
        "The bank says it declined the authorisation but the payment was completed anyway.",
    ),
    (
        "visa",
        "11.3",
        _C.PROCESSING_ERROR,
        "No Authorization",
        "The bank says the payment was completed without the authorisation it required.",
    ),
    (
        "visa",
        "12.1",
        _C.PROCESSING_ERROR,
        "Late Presentment",
        "The bank says the payment was submitted for settlement after the allowed time.",
    ),
    (
        "visa",
        "12.2",
        _C.PROCESSING_ERROR,
        "Incorrect Transaction Code",
        "The bank says the payment was processed with the wrong transaction type, for example a "
        "charge instead of a refund.",
    ),
    (
        "visa",
        "12.3",
        _C.PROCESSING_ERROR,
        "Incorrect Currency",
        "The bank says the payment was processed in a different currency from the one agreed.",
    ),
    (
        "visa",
        "12.4",
        _C.PROCESSING_ERROR,
        "Incorrect Account Number",
        "The bank says the payment was charged to the wrong card number.",
    ),
    (
        "visa",
        "12.5",
        _C.PROCESSING_ERROR,
        "Incorrect Amount",
        "The cardholder says they were charged a different amount from the one they agreed to.",
    ),
    (
        "visa",
        "12.6",
        _C.DUPLICATE,
        "Duplicate Processing/Paid by Other Means",
        "The cardholder says they were charged more than once, or already paid for this purchase "
        "another way.",
    ),
    (
        "visa",
        "12.6.1",
        _C.DUPLICATE,
        "Duplicate Processing",
        "The cardholder says they were charged more than once for the same purchase.",
    ),
    (
        "visa",
        "12.6.2",
        _C.DUPLICATE,
        "Paid by Other Means",
        "The cardholder says they already paid for this purchase another way, such as cash or another card.",
    ),
    (
        "visa",
        "12.7",
        _C.PROCESSING_ERROR,
        "Invalid Data",
        "The bank says the authorisation was obtained with invalid or incorrect data.",
    ),
    (
        "visa",
        "13.1",
        _C.NOT_RECEIVED,
        "Merchandise/Services Not Received",
        "The cardholder says they did not receive the goods or services they paid for.",
    ),
    (
        "visa",
        "13.2",
        _C.CREDIT_NOT_PROCESSED,
        "Cancelled Recurring Transaction",
        "The cardholder says they cancelled a subscription or recurring payment but were charged again.",
    ),
    (
        "visa",
        "13.3",
        _C.NOT_AS_DESCRIBED,
        "Not as Described or Defective Merchandise/Services",
        "The cardholder says what they received was damaged, defective or different from what was described.",
    ),
    (
        "visa",
        "13.4",
        _C.NOT_AS_DESCRIBED,
        "Counterfeit Merchandise",
        "The cardholder says the goods they received are counterfeit.",
    ),
    (
        "visa",
        "13.5",
        _C.NOT_AS_DESCRIBED,
        "Misrepresentation",
        "The cardholder says the terms of the sale, or the goods or services, were misrepresented to them.",
    ),
    (
        "visa",
        "13.6",
        _C.CREDIT_NOT_PROCESSED,
        "Credit Not Processed",
        "The cardholder says they were promised a refund or credit that they never received.",
    ),
    (
        "visa",
        "13.7",
        _C.CREDIT_NOT_PROCESSED,
        "Cancelled Merchandise/Services",
        "The cardholder says they cancelled the order or returned the goods but were not refunded.",
    ),
    (
        "visa",
        "13.8",
        _C.GENERAL,
        "Original Credit Transaction Not Accepted",
        "The cardholder says they did not accept a credit (a payout) sent to their card.",
    ),
    (
        "visa",
        "13.9",
        _C.NOT_RECEIVED,
        "Non-Receipt of Cash or Load Transaction Value",
        "The cardholder says they did not receive all of the cash or prepaid card value they paid for.",
    ),
)

# Mastercard Chargeback Guide message reason codes. Current codes: 4808, 4834, 4837,
# 4849, 4850, 4853, 4870, 4871, 4999; the others are legacy codes still sent by some acquirers.
_MASTERCARD_ROWS: tuple[_Row, ...] = (
    (
        "mastercard",
        "4807",
        _C.PROCESSING_ERROR,
        "Warning Bulletin File",
        "The bank says the card was listed in a warning bulletin and the payment was taken "
        "without a valid authorisation.",
    ),
    (
        "mastercard",
        "4808",
        _C.PROCESSING_ERROR,
        "Authorization-Related Chargeback",
        "The bank says the payment was completed without a valid authorisation, or after it "
        "had been declined.",
    ),
    (
        "mastercard",
        "4812",
        _C.PROCESSING_ERROR,
        "Account Number Not on File",
        "The bank says the card number used for the payment does not exist in its records.",
    ),
    (
        "mastercard",
        "4831",
        _C.PROCESSING_ERROR,
        "Transaction Amount Differs",
        "The cardholder says they were charged a different amount from the one they agreed to.",
    ),
    (
        "mastercard",
        "4834",
        _C.PROCESSING_ERROR,
        "Point-of-Interaction Error",
        "The cardholder or bank says the payment was processed incorrectly, for example charged "
        "twice, for the wrong amount or currency, or submitted late.",
    ),
    (
        "mastercard",
        "4837",
        _C.FRAUD,
        "No Cardholder Authorization",
        "The cardholder says they did not make or authorise this payment.",
    ),
    (
        "mastercard",
        "4840",
        _C.FRAUD,
        "Fraudulent Processing of Transactions",
        "The cardholder says an extra, unauthorised payment was taken while they still had their card.",
    ),
    (
        "mastercard",
        "4841",
        _C.CREDIT_NOT_PROCESSED,
        "Cancelled Recurring or Digital Goods Transactions",
        "The cardholder says they cancelled a recurring payment or did not agree to a digital "
        "goods purchase but were still charged.",
    ),
    (
        "mastercard",
        "4842",
        _C.PROCESSING_ERROR,
        "Late Presentment",
        "The bank says the payment was submitted for settlement after the allowed time.",
    ),
    (
        "mastercard",
        "4846",
        _C.PROCESSING_ERROR,
        "Correct Transaction Currency Code Not Provided",
        "The bank says the payment was processed in the wrong currency.",
    ),
    (
        "mastercard",
        "4849",
        _C.FRAUD,
        "Questionable Merchant Activity",
        "Mastercard flagged the payment under one of its fraud or merchant audit programmes.",
    ),
    (
        "mastercard",
        "4850",
        _C.PROCESSING_ERROR,
        "Installment Billing Dispute (Participating Countries Only)",
        "The cardholder says the instalment payments were billed incorrectly.",
    ),
    (
        "mastercard",
        "4853",
        _C.NOT_AS_DESCRIBED,
        "Cardholder Dispute",
        "The cardholder disputes the purchase itself, most often because the goods or services "
        "were defective, not as described or not provided.",
    ),
    (
        "mastercard",
        "4854",
        _C.GENERAL,
        "Cardholder Dispute \N{EM DASH} Not Elsewhere Classified (U.S. Region Only)",
        "The cardholder has a dispute with the merchant that does not fit another reason code.",
    ),
    (
        "mastercard",
        "4855",
        _C.NOT_RECEIVED,
        "Goods or Services Not Provided",
        "The cardholder says they did not receive the goods or services they paid for.",
    ),
    (
        "mastercard",
        "4859",
        _C.GENERAL,
        "Addendum, No-Show, or ATM Dispute",
        "The cardholder disputes an extra charge added after the purchase, a no-show charge, "
        "or cash not dispensed by an ATM.",
    ),
    (
        "mastercard",
        "4860",
        _C.CREDIT_NOT_PROCESSED,
        "Credit Not Processed",
        "The cardholder says they were promised a refund or credit that they never received.",
    ),
    (
        "mastercard",
        "4862",
        _C.FRAUD,
        "Counterfeit Transaction Magnetic Stripe POS Fraud",
        "The cardholder says a counterfeit copy of their card's magnetic stripe was used.",
    ),
    (
        "mastercard",
        "4863",
        _C.FRAUD,
        "Cardholder Does Not Recognize \N{EM DASH} Potential Fraud",
        "The cardholder does not recognise this payment on their statement and suspects fraud.",
    ),
    (
        "mastercard",
        "4870",
        _C.FRAUD,
        "Chip Liability Shift",
        "The cardholder says a counterfeit copy of their chip card was used, and the payment "
        "was not processed as a chip transaction.",
    ),
    (
        "mastercard",
        "4871",
        _C.FRAUD,
        "Chip/PIN Liability Shift",
        "The cardholder says a lost or stolen chip card was used without their permission at a "
        "terminal that did not verify the PIN.",
    ),
    (
        "mastercard",
        "4999",
        _C.GENERAL,
        "Domestic Chargeback Dispute (Europe Region Only)",
        "The bank raised a dispute under domestic rules in its country; check the dispute details.",
    ),
)

# American Express dispute reason codes (American Express Merchant Regulations).
_AMEX_ROWS: tuple[_Row, ...] = (
    (
        "amex",
        "A01",
        _C.PROCESSING_ERROR,
        "Charge Amount Exceeds Authorization Amount",
        "American Express says the amount charged is higher than the amount that was authorised.",
    ),
    (
        "amex",
        "A02",
        _C.PROCESSING_ERROR,
        "No Valid Authorization",
        "American Express says the charge was completed without a valid authorisation.",
    ),
    (
        "amex",
        "A08",
        _C.PROCESSING_ERROR,
        "Authorization Approval Expired",
        "American Express says the charge was submitted after its authorisation had expired.",
    ),
    (
        "amex",
        "C02",
        _C.CREDIT_NOT_PROCESSED,
        "Credit Not Processed",
        "The card member says they were promised a refund or credit that they never received.",
    ),
    (
        "amex",
        "C04",
        _C.CREDIT_NOT_PROCESSED,
        "Goods/Services Returned or Refused",
        "The card member says they returned or refused the goods or services but were not refunded.",
    ),
    (
        "amex",
        "C05",
        _C.CREDIT_NOT_PROCESSED,
        "Goods/Services Cancelled",
        "The card member says they cancelled the order but were not refunded.",
    ),
    (
        "amex",
        "C08",
        _C.NOT_RECEIVED,
        "Goods/Services Not Received or Only Partially Received",
        "The card member says they did not receive all of the goods or services they paid for.",
    ),
    (
        "amex",
        "C14",
        _C.DUPLICATE,
        "Paid by Other Means",
        "The card member says they already paid for this purchase another way.",
    ),
    (
        "amex",
        "C18",
        _C.CREDIT_NOT_PROCESSED,
        '"No Show" or CARDeposit Cancelled',
        "The card member says they cancelled a reservation or deposit and should not have been charged.",
    ),
    (
        "amex",
        "C28",
        _C.CREDIT_NOT_PROCESSED,
        "Cancelled Recurring Billing",
        "The card member says they cancelled a subscription or recurring payment but were charged again.",
    ),
    (
        "amex",
        "C31",
        _C.NOT_AS_DESCRIBED,
        "Goods/Services Not as Described",
        "The card member says what they received was different from what was described.",
    ),
    (
        "amex",
        "C32",
        _C.NOT_AS_DESCRIBED,
        "Goods/Services Damaged or Defective",
        "The card member says what they received was damaged or defective.",
    ),
    (
        "amex",
        "F10",
        _C.FRAUD,
        "Missing Imprint",
        "The card member says they did not make this in-person payment, and the card was not "
        "imprinted or read.",
    ),
    (
        "amex",
        "F14",
        _C.FRAUD,
        "Missing Signature",
        "The card member says they did not make this in-person payment, and no signature was obtained.",
    ),
    (
        "amex",
        "F24",
        _C.FRAUD,
        "No Card Member Authorization",
        "The card member says they did not make or authorise this payment.",
    ),
    (
        "amex",
        "F29",
        _C.FRAUD,
        "Card Not Present",
        "The card member says they did not make or authorise this online, phone or mail-order payment.",
    ),
    (
        "amex",
        "F30",
        _C.FRAUD,
        "EMV Counterfeit",
        "The card member says a counterfeit copy of their chip card was used at a terminal that "
        "did not read the chip.",
    ),
    (
        "amex",
        "F31",
        _C.FRAUD,
        "EMV Lost/Stolen/Non-Received",
        "The card member says a lost, stolen or never-received chip card was used without their "
        "permission at a terminal that did not read the chip.",
    ),
    (
        "amex",
        "FR2",
        _C.FRAUD,
        "Fraud Full Recourse Program",
        "The card member says the payment was fraud, and American Express charged it back under "
        "its fraud full recourse programme.",
    ),
    (
        "amex",
        "FR4",
        _C.GENERAL,
        "Immediate Chargeback Program",
        "American Express charged the payment back straight away under its immediate chargeback "
        "programme; check the card member's claim in the dispute details.",
    ),
    (
        "amex",
        "FR6",
        _C.GENERAL,
        "Partial Immediate Chargeback Program",
        "American Express charged the payment back under its partial immediate chargeback "
        "programme; check the card member's claim in the dispute details.",
    ),
    (
        "amex",
        "M01",
        _C.GENERAL,
        "Chargeback Authorization",
        "American Express says the merchant agreed to this chargeback.",
    ),
    (
        "amex",
        "M10",
        _C.GENERAL,
        "Vehicle Rental \N{EN DASH} Capital Damages",
        "The card member disputes a charge for damage to a rental vehicle.",
    ),
    (
        "amex",
        "M49",
        _C.GENERAL,
        "Vehicle Rental \N{EN DASH} Theft or Loss of Use",
        "The card member disputes a charge for the theft or loss of use of a rental vehicle.",
    ),
    (
        "amex",
        "P01",
        _C.PROCESSING_ERROR,
        "Unassigned Card Number",
        "American Express says the card number used for the charge does not exist.",
    ),
    (
        "amex",
        "P03",
        _C.PROCESSING_ERROR,
        "Credit Processed as Charge",
        "The card member says a refund was processed as a charge.",
    ),
    (
        "amex",
        "P04",
        _C.PROCESSING_ERROR,
        "Charge Processed as Credit",
        "American Express says a charge was processed as a refund.",
    ),
    (
        "amex",
        "P05",
        _C.PROCESSING_ERROR,
        "Incorrect Charge Amount",
        "The card member says they were charged a different amount from the one they agreed to.",
    ),
    (
        "amex",
        "P07",
        _C.PROCESSING_ERROR,
        "Late Submission",
        "American Express says the charge was submitted after the allowed time.",
    ),
    (
        "amex",
        "P08",
        _C.DUPLICATE,
        "Duplicate Charge",
        "The card member says they were charged more than once for the same purchase.",
    ),
    (
        "amex",
        "P22",
        _C.PROCESSING_ERROR,
        "Non-Matching Card Number",
        "American Express says the card number charged does not match the one that was authorised.",
    ),
    (
        "amex",
        "P23",
        _C.PROCESSING_ERROR,
        "Currency Discrepancy",
        "The card member says they were charged in a different currency from the one agreed.",
    ),
    (
        "amex",
        "R03",
        _C.GENERAL,
        "Insufficient Reply",
        "American Express asked for information about the payment and says the reply did not "
        "answer the card member's question.",
    ),
    (
        "amex",
        "R13",
        _C.GENERAL,
        "No Reply",
        "American Express asked for information about the payment and says no reply was received in time.",
    ),
)

# Discover Network dispute reason codes (Discover Dispute Rules Manual).
_DISCOVER_ROWS: tuple[_Row, ...] = (
    (
        "discover",
        "AA",
        _C.FRAUD,
        "Does Not Recognize",
        "The cardholder does not recognise this payment on their statement.",
    ),
    (
        "discover",
        "UA01",
        _C.FRAUD,
        "Fraud \N{EN DASH} Card Present Transaction",
        "The cardholder says they did not authorise or take part in this in-person payment.",
    ),
    (
        "discover",
        "UA02",
        _C.FRAUD,
        "Fraud \N{EN DASH} Card Not Present Transaction",
        "The cardholder says they did not authorise or take part in this online, phone or "
        "mail-order payment.",
    ),
    (
        "discover",
        "UA05",
        _C.FRAUD,
        "Fraud \N{EN DASH} Chip Card Counterfeit Transaction",
        "The cardholder says a counterfeit copy of their chip card was used.",
    ),
    (
        "discover",
        "UA06",
        _C.FRAUD,
        "Fraud \N{EN DASH} Chip Card and PIN Transaction",
        "The cardholder says a lost or stolen chip card was used without their permission.",
    ),
    (
        "discover",
        "UA10",
        _C.FRAUD,
        "Request Transaction Receipt (Swiped Card Transactions)",
        "The cardholder says this in-person payment was fraud and asks for the signed receipt.",
    ),
    (
        "discover",
        "UA11",
        _C.FRAUD,
        "Cardholder Claims Fraud (Swiped Transaction, No Signature Provided)",
        "The cardholder says this in-person payment was fraud and no signature was obtained.",
    ),
    (
        "discover",
        "AT",
        _C.PROCESSING_ERROR,
        "Authorization Non-Compliance",
        "The bank says the payment was not authorised as Discover's rules require.",
    ),
    (
        "discover",
        "DA",
        _C.PROCESSING_ERROR,
        "Declined Authorization",
        "The bank says it declined the authorisation but the payment was completed anyway.",
    ),
    (
        "discover",
        "NA",
        _C.PROCESSING_ERROR,
        "No Authorization",
        "The bank says the payment was completed without an authorisation.",
    ),
    (
        "discover",
        "EX",
        _C.PROCESSING_ERROR,
        "Expired Card",
        "The bank says the payment was taken on a card that had already expired.",
    ),
    (
        "discover",
        "LP",
        _C.PROCESSING_ERROR,
        "Late Presentation",
        "The bank says the payment was submitted for settlement after the allowed time.",
    ),
    (
        "discover",
        "CD",
        _C.PROCESSING_ERROR,
        "Credit Posted as Card Sale",
        "The cardholder says a refund was processed as a charge.",
    ),
    (
        "discover",
        "IN",
        _C.PROCESSING_ERROR,
        "Invalid Card Number",
        "The bank says the card number used for the payment does not exist in its records.",
    ),
    (
        "discover",
        "AW",
        _C.PROCESSING_ERROR,
        "Altered Amount",
        "The cardholder says the amount charged differs from the amount they agreed to.",
    ),
    (
        "discover",
        "IC",
        _C.PROCESSING_ERROR,
        "Illegible Sales Data",
        "The bank says the sales receipt provided for the payment cannot be read.",
    ),
    (
        "discover",
        "DP",
        _C.DUPLICATE,
        "Duplicate Processing",
        "The cardholder says they were charged more than once for the same purchase.",
    ),
    (
        "discover",
        "PM",
        _C.DUPLICATE,
        "Paid by Other Means",
        "The cardholder says they already paid for this purchase another way.",
    ),
    (
        "discover",
        "RG",
        _C.NOT_RECEIVED,
        "Non-Receipt of Goods or Services",
        "The cardholder says they did not receive the goods or services they paid for.",
    ),
    (
        "discover",
        "NF",
        _C.NOT_RECEIVED,
        "Non-Receipt of Cash from ATM",
        "The cardholder says the ATM did not give them all of the cash they were charged for.",
    ),
    (
        "discover",
        "RM",
        _C.NOT_AS_DESCRIBED,
        "Quality Discrepancy",
        "The cardholder says what they received was damaged, defective or different from what was described.",
    ),
    (
        "discover",
        "AP",
        _C.CREDIT_NOT_PROCESSED,
        "Cancelled Recurring Billing",
        "The cardholder says they cancelled a subscription or recurring payment but were charged again.",
    ),
    (
        "discover",
        "RN2",
        _C.CREDIT_NOT_PROCESSED,
        "Credit Not Received",
        "The cardholder says they were promised a refund or credit that they never received.",
    ),
    (
        "discover",
        "NC",
        _C.GENERAL,
        "Not Classified",
        "The cardholder disputes the payment for a reason that does not fit another reason code.",
    ),
)

# Stripe ``dispute.reason`` values (Stripe API reference, Disputes).
_STRIPE_ROWS: tuple[_Row, ...] = (
    (
        "stripe",
        "bank_cannot_process",
        _C.PROCESSING_ERROR,
        "Bank cannot process",
        "The customer's bank says it cannot process this payment.",
    ),
    (
        "stripe",
        "check_returned",
        _C.PROCESSING_ERROR,
        "Check returned",
        "The customer's bank returned the cheque used for this payment.",
    ),
    (
        "stripe",
        "credit_not_processed",
        _C.CREDIT_NOT_PROCESSED,
        "Credit not processed",
        "The customer says they returned the purchase or cancelled it and have not been refunded.",
    ),
    (
        "stripe",
        "customer_initiated",
        _C.GENERAL,
        "Customer initiated",
        "The customer asked their bank to reverse the payment; ask the customer why.",
    ),
    (
        "stripe",
        "debit_not_authorized",
        _C.FRAUD,
        "Debit not authorized",
        "The customer's bank says the customer did not authorise this bank debit.",
    ),
    (
        "stripe",
        "duplicate",
        _C.DUPLICATE,
        "Duplicate",
        "The customer says they were charged more than once for the same purchase.",
    ),
    (
        "stripe",
        "fraudulent",
        _C.FRAUD,
        "Fraudulent",
        "The cardholder says they did not make or authorise this payment.",
    ),
    (
        "stripe",
        "general",
        _C.GENERAL,
        "General",
        "The dispute is uncategorised; ask the customer why they disputed the payment.",
    ),
    (
        "stripe",
        "incorrect_account_details",
        _C.PROCESSING_ERROR,
        "Incorrect account details",
        "The customer's bank says the account details used for the payment are wrong.",
    ),
    (
        "stripe",
        "insufficient_funds",
        _C.PROCESSING_ERROR,
        "Insufficient funds",
        "The customer's bank says the account did not have enough money for this payment.",
    ),
    (
        "stripe",
        "noncompliant",
        _C.PROCESSING_ERROR,
        "Noncompliant",
        "The card issuer says the payment did not follow the card network's rules.",
    ),
    (
        "stripe",
        "product_not_received",
        _C.NOT_RECEIVED,
        "Product not received",
        "The customer says they did not receive the goods or services they paid for.",
    ),
    (
        "stripe",
        "product_unacceptable",
        _C.NOT_AS_DESCRIBED,
        "Product unacceptable",
        "The customer says what they received was defective, damaged or not as described.",
    ),
    (
        "stripe",
        "subscription_canceled",
        _C.CREDIT_NOT_PROCESSED,
        "Subscription canceled",
        "The customer says they cancelled their subscription but were charged again.",
    ),
    (
        "stripe",
        "unrecognized",
        _C.FRAUD,
        "Unrecognized",
        "The customer does not recognise this payment on their statement.",
    ),
)

# PayPal Disputes API ``reason`` values; ITEM_NOT_RECEIVED is an older name still seen.
_PAYPAL_ROWS: tuple[_Row, ...] = (
    (
        "paypal",
        "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        _C.NOT_RECEIVED,
        "Merchandise or service not received",
        "The buyer says they did not receive the item or service they paid for.",
    ),
    (
        "paypal",
        "ITEM_NOT_RECEIVED",
        _C.NOT_RECEIVED,
        "Item not received",
        "The buyer says they did not receive the item they paid for.",
    ),
    (
        "paypal",
        "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
        _C.NOT_AS_DESCRIBED,
        "Merchandise or service not as described",
        "The buyer says the item or service they received was significantly different from its description.",
    ),
    (
        "paypal",
        "UNAUTHORISED",
        _C.FRAUD,
        "Unauthorised",
        "The buyer says they did not make or authorise this payment.",
    ),
    (
        "paypal",
        "CREDIT_NOT_PROCESSED",
        _C.CREDIT_NOT_PROCESSED,
        "Credit not processed",
        "The buyer says they were promised a refund that they never received.",
    ),
    (
        "paypal",
        "DUPLICATE_TRANSACTION",
        _C.DUPLICATE,
        "Duplicate transaction",
        "The buyer says they were charged more than once for the same purchase.",
    ),
    (
        "paypal",
        "INCORRECT_AMOUNT",
        _C.PROCESSING_ERROR,
        "Incorrect amount",
        "The buyer says they were charged a different amount from the one they agreed to.",
    ),
    (
        "paypal",
        "PAYMENT_BY_OTHER_MEANS",
        _C.DUPLICATE,
        "Payment by other means",
        "The buyer says they already paid for this purchase another way.",
    ),
    (
        "paypal",
        "CANCELED_RECURRING_BILLING",
        _C.CREDIT_NOT_PROCESSED,
        "Canceled recurring billing",
        "The buyer says they cancelled a subscription or recurring payment but were charged again.",
    ),
    (
        "paypal",
        "PROBLEM_WITH_REMITTANCE",
        _C.GENERAL,
        "Problem with remittance",
        "The buyer reports a problem with a money transfer; check the dispute details for what went wrong.",
    ),
    (
        "paypal",
        "OTHER",
        _C.GENERAL,
        "Other",
        "The buyer disputes the payment for a reason PayPal does not categorise; check their message.",
    ),
)

_TABLE: tuple[ReasonInfo, ...] = tuple(
    ReasonInfo(
        code=code, network=network, category=category, title=title, explanation=explanation, known=True
    )
    for network, code, category, title, explanation in (
        *_OWN_ROWS,
        *_VISA_ROWS,
        *_MASTERCARD_ROWS,
        *_AMEX_ROWS,
        *_DISCOVER_ROWS,
        *_STRIPE_ROWS,
        *_PAYPAL_ROWS,
    )
)


def _build_index(table: tuple[ReasonInfo, ...]) -> dict[str, tuple[ReasonInfo, ...]]:
    index: dict[str, list[ReasonInfo]] = {}
    for info in table:
        bucket = index.setdefault(info.code.lower(), [])
        if any(other.network == info.network for other in bucket):
            raise RuntimeError(f"duplicate reason code {info.code!r} for network {info.network!r}")
        bucket.append(info)
    return {key: tuple(bucket) for key, bucket in index.items()}


_INDEX = _build_index(_TABLE)

NETWORKS: frozenset[str] = frozenset({"visa", "mastercard", "amex", "discover", "stripe", "paypal"})

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
    so sellers get the same guidance whatever the source. The table follows the
    Visa Dispute Management Guidelines (Visa Claims Resolution codes 10.x-13.x,
    including 12.6.1/12.6.2), the Mastercard Chargeback Guide (current and
    still-sent legacy message reason codes), the American Express and Discover
    dispute reason codes, Stripe's ``dispute.reason`` values and PayPal's dispute
    reasons; our own category names are accepted as codes too. Lookup ignores
    surrounding whitespace and letter case; ``network`` (case-insensitive, e.g.
    ``"Visa"``, ``"MC"``) only chooses between entries sharing a code, and a
    network that contradicts a known code is overridden by the code. Unknown
    codes give ``known=False`` and ``GENERAL``. Raises :class:`InvalidInput`
    (field ``reason_code``) for a blank code, one over 64 characters, or one
    containing control or invisible formatting characters.
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


def category_names() -> list[str]:
    """List our reason category names in their declared order.

    Business rule: these are the only categories a dispute can be filed under
    (our own grouping, modelled on the dispute categories Stripe and the card
    networks' Visa Claims Resolution / Mastercard Chargeback Guide groupings
    use); they are also accepted as reason codes by :func:`classify`.
    """
    return [category.value for category in ReasonCategory]


def known_reasons() -> tuple[ReasonInfo, ...]:
    """Return every reason code in our table, in table order.

    Business rule: the table is the single source for classification (Visa
    Claims Resolution, Mastercard Chargeback Guide, American Express, Discover,
    Stripe and PayPal dispute reasons, plus our own category names); listing it
    lets an API or a report show sellers which codes we understand.
    """
    return _TABLE
