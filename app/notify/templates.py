"""What the seller reads: message-centre entries and emails, written for a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class CaseFacts:
    seller_name: str
    order_label: str  # the marketplace's order number, else our id
    amount: str  # "129.99 EUR"
    reason_title: str
    reason_explanation: str
    reason_code: str
    bank_reference: str
    case_id: str
    respond_by_local: datetime
    timezone: str
    working_days: int
    case_url: str
    seller_timezone: str | None = None
    checklist: tuple[str, ...] = ()  # what the rule module asks for, one plain line each
    report_url: str = ""


@dataclass(frozen=True, slots=True)
class Rendered:
    kind: str
    title: str
    body: str


def format_amount(amount_minor: int, currency: str, exponent: int = 2) -> str:
    if exponent == 0:
        return f"{amount_minor} {currency}"
    whole, frac = divmod(amount_minor, 10**exponent)
    return f"{whole}.{frac:0{exponent}d} {currency}"


def _deadline(f: CaseFacts) -> str:
    where = f"{f.timezone} time"
    if f.seller_timezone and f.seller_timezone != f.timezone:
        # A seller elsewhere reads the deadline in its own time too.
        own = f.respond_by_local.astimezone(ZoneInfo(f.seller_timezone))
        where += f"; {own:%A %d %B %Y, %H:%M} in {f.seller_timezone}"
    return f.respond_by_local.strftime("%A %d %B %Y, %H:%M") + f" ({where})"


def _checklist(f: CaseFacts) -> str:
    return "\n".join(f"     - {line}" for line in f.checklist) or "     - any document that answers the claim"


def case_opened(f: CaseFacts) -> Rendered:
    title = f"Chargeback on order {f.order_label}: respond by {f.respond_by_local:%d %b %Y}"
    body = f"""Hello {f.seller_name},

a buyer's bank has disputed a payment, and {f.amount} of order {f.order_label} is now frozen.

What the bank says: {f.reason_title} (reason code {f.reason_code}).
{f.reason_explanation}

You have until {_deadline(f)} to appeal: {f.working_days} working days, counting today.

What to do next:
  1. Open the case: {f.case_url}
  2. Upload your evidence. For this reason the bank needs:
{_checklist(f)}
     The evidence report shows what is still missing: {f.report_url}
  3. Submit one appeal with a short statement before the deadline.

If you do not appeal in time, the chargeback stands and the frozen amount is debited.
If the buyer is right, you can accept the chargeback instead.

Case {f.case_id} · bank reference {f.bank_reference}
"""
    return Rendered("chargeback_received", title, body)


def reminder(f: CaseFacts) -> Rendered:
    title = f"Reminder: appeal the chargeback on order {f.order_label} by {f.respond_by_local:%d %b %Y}"
    body = f"""Hello {f.seller_name},

the appeal window for the chargeback on order {f.order_label} ({f.amount}) closes in less than
24 hours: {_deadline(f)}.

Reason: {f.reason_title} (reason code {f.reason_code}).

Evidence the bank needs for this reason:
{_checklist(f)}
See what is still missing: {f.report_url}

Open the case, add your evidence and submit your appeal: {f.case_url}
Without an appeal the chargeback stands and the frozen amount is debited.

Case {f.case_id} · bank reference {f.bank_reference}
"""
    return Rendered("appeal_reminder", title, body)


_OUTCOMES = {
    "won": ("You won the chargeback", "The bank ruled in your favour. The frozen amount is released to you."),
    "lost": ("You lost the chargeback", "The bank ruled for the buyer. The frozen amount has been debited."),
    "accepted": ("Chargeback accepted", "You accepted the chargeback. The frozen amount has been debited."),
    "expired": (
        "Appeal window closed",
        "The appeal window closed without an appeal, so the chargeback stands. "
        "The frozen amount has been debited.",
    ),
}


def case_closed(f: CaseFacts, outcome: str, note: str | None, at: datetime) -> Rendered:
    headline, meaning = _OUTCOMES[outcome]
    title = f"{headline}: order {f.order_label}"
    extra = f"\nThe bank's note: {note}\n" if note else ""
    body = f"""Hello {f.seller_name},

{headline.lower()} on order {f.order_label} ({f.amount}), decided {at:%d %b %Y}.
{meaning}
{extra}
Reason disputed: {f.reason_title} (reason code {f.reason_code}).
Case: {f.case_url}

Case {f.case_id} · bank reference {f.bank_reference}
"""
    return Rendered(f"chargeback_{outcome}", title, body)


def appeal_submitted(f: CaseFacts, appeal_id: str, pages: int) -> Rendered:
    title = f"Appeal submitted: order {f.order_label}"
    body = f"""Hello {f.seller_name},

your appeal of the chargeback on order {f.order_label} ({f.amount}) has been submitted.
The package ({pages} pages) went to the bank's dispute team; your evidence is now frozen with it.
The bank usually decides within 30 to 75 days; we will tell you its ruling.

Appeal {appeal_id} · case {f.case_id} · {f.case_url}
"""
    return Rendered("appeal_submitted", title, body)


def appeal_mail(f: CaseFacts, statement: str, package_sha256: str, pages: int) -> str:
    """The email that carries the package to the appeal mailbox."""
    return f"""Chargeback response for order {f.order_label}

Seller: {f.seller_name}
Case: {f.case_id}
Bank reference: {f.bank_reference}
Reason: {f.reason_title} (reason code {f.reason_code})
Amount disputed: {f.amount}

Seller's statement:
{statement}

The attached PDF ({pages} pages, SHA-256 {package_sha256}) holds the cover page with the evidence
index and every evidence item.
"""


def webhook_disabled(seller_name: str, endpoint_id: str, url: str, reason: str, base_url: str) -> Rendered:
    """The seller's webhook endpoint stopped receiving events."""
    title = "Webhook endpoint disabled: events are no longer sent to it"
    body = f"""Hello {seller_name},

we have stopped sending events to your webhook endpoint {url}:
{reason}.

Events that happen while it is disabled are not queued for it. Once your receiver works again,
enable the endpoint (POST {base_url}/v1/webhook-endpoints/{endpoint_id}/enable), and replay what it
missed from its delivery log (GET {base_url}/v1/webhook-endpoints/{endpoint_id}/deliveries?status=failed).

Endpoint {endpoint_id}
"""
    return Rendered("webhook_endpoint_disabled", title, body)
