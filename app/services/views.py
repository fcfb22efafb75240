"""Rows to response bodies, in one place.

Every read and every write answers through these functions: they take a database row (a loop
reader record or an ORM object; both have the columns as attributes) and return the ``…Public``
schema's fields as a plain dict, in the schema's order, with datetimes left for the JSON encoder.
The ``…Public`` models document the shapes in the OpenAPI; a test holds these dicts to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from app.core.config import Settings
from app.domain import account_rules
from app.domain import case_states as cs
from app.models.buyer import CouponPublic, FavouritePublic, PaymentAccountPublic
from app.models.chargeback import CaseEventPublic
from app.models.seller import ApiKeyPublic, SellerPublic
from app.models.webhook import WebhookEndpointPublic


def to_json(data: Any) -> bytes:
    """The one JSON encoder of response bodies: RFC 3339 UTC timestamps with ``Z``."""
    return orjson.dumps(data, option=orjson.OPT_UTC_Z)


def json_text(data: Any) -> str:
    """``to_json`` as text, for a response stored for idempotent replays."""
    return to_json(data).decode()


Row = Any  # a record of the loop reader or an ORM object: the table's columns as attributes
_STATUS = {s.value: s for s in cs.CaseStatus}  # a lookup, not an enum call, per row of a list


class CaseClock:
    """What every case of one response is judged against: the instant, and its local date."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings, self.calendar, self.now = settings, settings.calendar, now
        self.today = self.calendar.local_date(now)


def chargeback(case: Row, settings: Settings, now: datetime) -> dict[str, Any]:
    return chargeback_at(case, CaseClock(settings, now))


def chargeback_at(case: Row, clock: CaseClock) -> dict[str, Any]:
    due = case.respond_by
    due_local = due.astimezone(clock.calendar.timezone)
    status = cs.effective_status(_STATUS[case.status], due, clock.now)
    open_ = status in cs.OPEN_STATUSES and clock.now <= due
    return {
        "id": case.id,
        "order_id": case.order_id,
        "seller_id": case.seller_id,
        "reason_code": case.reason_code,
        "network": case.network,
        "reason_category": case.reason_category,
        "reason_title": case.reason_title,
        "amount_minor": case.amount_minor,
        "currency": case.currency,
        "bank_reference": case.bank_reference,
        "status": status.value,
        "received_at": case.received_at,
        "respond_by": due,
        "respond_by_local": due_local.isoformat(),
        "business_timezone": clock.settings.business_timezone,
        "working_days_left": clock.calendar.working_days_between(clock.today, due_local.date())
        if open_
        else 0,
        "provider_due_at": case.provider_due_at,
        "appeal_id": case.appeal_id,
        "closed_at": case.closed_at,
        "ruling_note": case.ruling_note,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "version": case.version,
    }


def fund_status(frozen: int, debited: int) -> str:
    if frozen > 0:
        return "frozen"
    if debited > 0:
        return "debited"
    return "available"


def order(row: Row, cases: Iterable[Row], now: datetime) -> dict[str, Any]:
    """The order's fund details, as its cases read now.

    A case reads ``expired`` the moment its window passes, but its funds move when the sweep runs;
    until then the order shows that case's amount as debited too, so the two never disagree.
    ``cases`` are the order's cases (id, status, respond_by, amount_minor) oldest first.
    """
    cases = list(cases)
    lapsed = sum(
        c.amount_minor
        for c in cases
        if c.status == cs.CaseStatus.NEEDS_RESPONSE.value
        and cs.effective_status(cs.CaseStatus.NEEDS_RESPONSE, c.respond_by, now) is cs.CaseStatus.EXPIRED
    )
    frozen, debited = row.frozen_amount_minor - lapsed, row.debited_amount_minor + lapsed
    return {
        "id": row.id,
        "seller_id": row.seller_id,
        "buyer_account_id": row.buyer_account_id,
        "external_ref": row.external_ref,
        "amount_minor": row.amount_minor,
        "currency": row.currency,
        "description": row.description,
        "shipping_address": row.shipping_address,
        "placed_at": row.placed_at,
        "fund_status": fund_status(frozen, debited),
        "frozen_amount_minor": frozen,
        "debited_amount_minor": debited,
        "available_amount_minor": row.amount_minor - frozen - debited,
        "chargeback_ids": [c.id for c in cases],
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def message(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "chargeback_id": row.chargeback_id,
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "created_at": row.created_at,
        "read_at": row.read_at,
        "unread": row.read_at is None,
        "updated_at": row.updated_at,
    }


def evidence(row: Row, settings: Settings) -> dict[str, Any]:
    url = None
    if row.storage_key is not None:
        base = settings.public_base_url.rstrip("/")
        url = f"{base}/v1/chargebacks/{row.chargeback_id}/evidence/{row.id}/content"
    return {
        "id": row.id,
        "chargeback_id": row.chargeback_id,
        "evidence_type": row.evidence_type,
        "filename": row.filename,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "pages": row.pages,
        "text": row.text,
        "description": row.description,
        "facts": row.facts,
        "content_url": url,
        "appeal_id": row.appeal_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def appeal(row: Row, settings: Settings) -> dict[str, Any]:
    base = settings.public_base_url.rstrip("/")
    return {
        "id": row.id,
        "chargeback_id": row.chargeback_id,
        "order_id": row.order_id,
        "statement": row.statement,
        "evidence_ids": row.evidence_ids,
        "path": row.path,
        "submitted_at": row.submitted_at,
        "package_sha256": row.package_sha256,
        "package_size_bytes": row.package_size_bytes,
        "package_pages": row.package_pages,
        "package_url": f"{base}/v1/chargebacks/{row.chargeback_id}/appeal/package",
    }


def registration(row: Row, now: datetime) -> dict[str, Any]:
    tries = max(row.email_code_tries, row.phone_code_tries)
    status = account_rules.registration_status(row.status, row.expires_at, tries, now)
    return {"id": row.id, "status": status, "expires_at": row.expires_at}


def account(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "member_id": row.member_id,
        "email": row.email,
        "phone": row.phone,
        "country": row.country,
        "username": row.username,
        "status": row.status,
        "seller_id": row.seller_id,
        "created_at": row.created_at,
        "version": row.version,
    }


def _projection(schema: type[BaseModel]) -> Callable[[Row], dict[str, Any]]:
    """A body that is the row's columns under the schema's field names, in the schema's order."""
    fields = tuple(schema.model_fields)

    def project(row: Row) -> dict[str, Any]:
        return {name: getattr(row, name) for name in fields}

    return project


event = _projection(CaseEventPublic)
seller = _projection(SellerPublic)
api_key = _projection(ApiKeyPublic)
payment_account = _projection(PaymentAccountPublic)
favourite = _projection(FavouritePublic)
coupon = _projection(CouponPublic)
webhook_endpoint = _projection(WebhookEndpointPublic)


def webhook_delivery(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "payload": orjson.loads(row.payload),
        "replay_of": row.replay_of,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_attempt_at": row.last_attempt_at,
        "response_status": row.response_status,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def buyer_orders(rows: Iterable[Row], now: datetime) -> list[dict[str, Any]]:
    """A buyer's orders from rows of (order, one of its cases or none), each case as it reads now.

    The rows come order by order (newest first), each order's cases oldest first.
    """
    orders: dict[str, dict[str, Any]] = {}
    for row in rows:
        body = orders.get(row.id)
        if body is None:
            body = orders[row.id] = {
                "id": row.id,
                "seller_id": row.seller_id,
                "external_ref": row.external_ref,
                "amount_minor": row.amount_minor,
                "currency": row.currency,
                "description": row.description,
                "placed_at": row.placed_at,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "chargebacks": [],
            }
        if row.cb_id is not None:
            status = cs.effective_status(_STATUS[row.cb_status], row.cb_respond_by, now)
            body["chargebacks"].append(
                {
                    "id": row.cb_id,
                    "status": status.value,
                    "amount_minor": row.cb_amount_minor,
                    "currency": row.cb_currency,
                    "respond_by": row.cb_respond_by,
                }
            )
    return list(orders.values())


def page(data: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"data": data, "next_cursor": next_cursor}
