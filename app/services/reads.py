"""Every read of the API: prebuilt Core statements on the loop reader, scoped by ``readable``.

Each GET is an ``async def`` handler calling one function here. Statements are built once (a list
builds one per combination of filters, on first use); each goes through ``readable`` with the
caller, so the tenancy rule is applied inside the statement; rows become bodies in ``views``.
Writes never come here: they are services owning a ``Session`` transaction in a worker thread.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import BindParameter, and_, bindparam, func, or_, select

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.ids import has_prefix
from app.core.reads import AnySelect, LoopReader
from app.domain import case_states as cs
from app.domain.errors import FieldProblem, InvalidInput, NotFound
from app.models.account import Account, Registration
from app.models.base import UTCDateTime
from app.models.chargeback import ACROSS_SELLERS, CaseEvent, Chargeback
from app.models.evidence import Appeal, Evidence
from app.models.message import Message
from app.models.order import Order
from app.models.seller import ApiKey, Seller
from app.security.credentials import Caller, Scoped, narrowed, readable, verify
from app.services import appeals, views
from app.services.pagination import keyset, keyset_select, next_after, query_tag

_CASES = Chargeback.__table__  # type: ignore[attr-defined]
_EVENTS = CaseEvent.__table__  # type: ignore[attr-defined]
_ORDERS = Order.__table__  # type: ignore[attr-defined]
_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_SELLERS = Seller.__table__  # type: ignore[attr-defined]
_KEYS = ApiKey.__table__  # type: ignore[attr-defined]
_LIMIT: BindParameter[int] = bindparam("limit")


async def read_one(reader: LoopReader, query: Scoped, caller: Caller, **params: Any) -> Any | None:
    statement, scope = readable(query, caller)
    return await reader.one(statement, params | scope)


async def read_all(reader: LoopReader, query: Scoped, caller: Caller, **params: Any) -> list[Any]:
    statement, scope = readable(query, caller)
    rows: list[Any] = await reader.all(statement, params | scope)
    if not rows and caller.pending:
        await verify(reader, caller)  # an empty page for an unknown key would be a lie: 401
    return rows


# Chargebacks ---------------------------------------------------------------------------------

_CASE = Scoped(select(_CASES).where(_CASES.c.id == bindparam("id")), _CASES.c.seller_id)


async def chargeback(reader: LoopReader, settings: Settings, caller: Caller, case_id: str) -> dict[str, Any]:
    row = await read_one(reader, _CASE, caller, id=case_id) if has_prefix(case_id, "cb") else None
    if row is None:
        raise NotFound(f"Chargeback {case_id} does not exist.")
    return views.chargeback(row, settings, utcnow())


# The case list's orders: newest first, soonest due first.
SORT_NEWEST = "created_at"
SORT_DEADLINE = "respond_by"


@dataclass(frozen=True, slots=True)
class CaseFilter:
    seller_id: str | None = None  # the platform's filter; a seller is always scoped to itself
    status: cs.CaseStatus | None = None
    reason_category: str | None = None
    order_id: str | None = None
    respond_by_before: datetime | None = None
    received_since: datetime | None = None
    received_before: datetime | None = None
    updated_since: datetime | None = None
    sort: str = SORT_NEWEST


def _case_list(f: CaseFilter, after: bool) -> Scoped:
    c = _CASES.c
    q = select(_CASES)
    if f.status is cs.CaseStatus.EXPIRED:
        lapsed = and_(c.status == cs.CaseStatus.NEEDS_RESPONSE.value, c.respond_by < bindparam("now"))
        q = q.where(or_(c.status == cs.CaseStatus.EXPIRED.value, lapsed))
    elif f.status is cs.CaseStatus.NEEDS_RESPONSE:
        q = q.where(c.status == bindparam("status"), c.respond_by >= bindparam("now"))
    elif f.status is not None:
        q = q.where(c.status == bindparam("status"))
    if f.reason_category is not None:
        q = q.where(c.reason_category == bindparam("reason_category"))
    if f.order_id is not None:
        q = q.where(c.order_id == bindparam("order_id"))
    if f.respond_by_before is not None:
        q = q.where(c.respond_by < bindparam("respond_by_before", type_=UTCDateTime()))
    if f.received_since is not None:
        q = q.where(c.received_at >= bindparam("received_since", type_=UTCDateTime()))
    if f.received_before is not None:
        q = q.where(c.received_at < bindparam("received_before", type_=UTCDateTime()))
    if f.sort == SORT_DEADLINE:
        q = keyset_select(q, c.id, c.respond_by, c.updated_at, after=after, changes=False, ascending=True)
    else:
        q = keyset_select(
            q, c.id, c.created_at, c.updated_at, after=after, changes=f.updated_since is not None
        )
    return Scoped(q, c.seller_id, across=ACROSS_SELLERS)


_CASE_LISTS: dict[tuple[Any, ...], Scoped] = {}


def _case_list_for(f: CaseFilter, after: bool) -> Scoped:
    status = f.status if f.status in (cs.CaseStatus.EXPIRED, cs.CaseStatus.NEEDS_RESPONSE) else None
    shape = (
        status,
        f.status is not None,
        f.reason_category is not None,
        f.order_id is not None,
        f.respond_by_before is not None,
        f.received_since is not None,
        f.received_before is not None,
        f.updated_since is not None,
        f.sort,
        after,
    )
    query = _CASE_LISTS.get(shape)
    if query is None:
        query = _CASE_LISTS[shape] = _case_list(f, after)
    return query


async def chargebacks(
    reader: LoopReader, settings: Settings, caller: Caller, f: CaseFilter, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of cases, newest first or soonest due first (or oldest change first with
    ``updated_since``), by keyset."""
    if f.sort != SORT_NEWEST and f.updated_since is not None:
        raise InvalidInput(
            "updated_since lists oldest change first; it cannot be combined with another sort.",
            errors=[FieldProblem("sort", "not allowed with updated_since")],
        )
    now = utcnow()
    tag = query_tag("chargebacks", *astuple(f))
    params = keyset(settings, tag, limit, cursor, f.updated_since) | {
        "now": now,
        "status": f.status.value if f.status else None,
        "reason_category": f.reason_category,
        "order_id": f.order_id,
        "respond_by_before": f.respond_by_before,
        "received_since": f.received_since,
        "received_before": f.received_before,
    }
    query = _case_list_for(f, after=bool(cursor))
    reader_as = await narrowed(reader, caller, f.seller_id)
    if reader_as is None:
        return views.page([], None)
    rows = await read_all(reader, query, reader_as, **params)
    clock = views.CaseClock(settings, now)
    page = [views.chargeback_at(r, clock) for r in rows[:limit]]
    return views.page(page, next_after(rows, limit, f.updated_since, tag, f.sort))


def _events_page(after: bool) -> Scoped:
    ev = _EVENTS.c
    q = select(_EVENTS).where(ev.chargeback_id == bindparam("id"))
    # Events never change: oldest first by when they happened, each page after the last one's.
    page = keyset_select(q, ev.id, ev.occurred_at, ev.occurred_at, after=after, changes=False, ascending=True)
    return Scoped(page, ev.seller_id)


_EVENT_PAGES = {after: _events_page(after) for after in (False, True)}


async def chargeback_events(
    reader: LoopReader, settings: Settings, caller: Caller, case_id: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The case's audit trail, oldest first, a page at a time."""
    tag = query_tag("events", case_id)
    params = keyset(settings, tag, limit, cursor, None) | {"id": case_id}
    # A case always has its ``chargeback.created`` event, and a cursor is only given when rows
    # follow it: no rows means no such case for this caller.
    rows = (
        await read_all(reader, _EVENT_PAGES[bool(cursor)], caller, **params)
        if has_prefix(case_id, "cb")
        else []
    )
    if not rows:
        raise NotFound(f"Chargeback {case_id} does not exist.")
    return views.page(
        [views.event(r) for r in rows[:limit]], next_after(rows, limit, None, tag, "occurred_at")
    )


# Orders --------------------------------------------------------------------------------------

_ORDER = Scoped(select(_ORDERS).where(_ORDERS.c.id == bindparam("id")), _ORDERS.c.seller_id)
ORDER_CASES: AnySelect = (
    select(_CASES.c.id, _CASES.c.status, _CASES.c.respond_by, _CASES.c.amount_minor)
    .where(_CASES.c.order_id == bindparam("order_id"))
    .order_by(_CASES.c.created_at, _CASES.c.id)
)


async def order(reader: LoopReader, caller: Caller, order_id: str) -> dict[str, Any]:
    row = await read_one(reader, _ORDER, caller, id=order_id) if has_prefix(order_id, "ord") else None
    if row is None:
        raise NotFound(f"Order {order_id} does not exist.")
    # The order is the caller's, so its cases are too: no second scoping needed.
    cases = await reader.all(ORDER_CASES, {"order_id": order_id})
    return views.order(row, cases, utcnow())


@dataclass(frozen=True, slots=True)
class OrderFilter:
    seller_id: str | None = None  # the platform's filter; a seller is always scoped to itself
    external_ref: str | None = None
    buyer_account_id: str | None = None
    updated_since: datetime | None = None


def _order_list(by_ref: bool, by_buyer: bool, after: bool, changes: bool) -> Scoped:
    """A page of orders, each joined with its cases (a row per case, or one row with none).

    The tenancy rule scopes the page of orders; the cases of an order that is the caller's are the
    caller's, so the join needs no scoping of its own.
    """
    o = _ORDERS.c
    q = select(_ORDERS)
    if by_ref:
        q = q.where(o.external_ref == bindparam("external_ref"))
    if by_buyer:
        q = q.where(o.buyer_account_id == bindparam("buyer_account_id"))
    scoped = Scoped(
        keyset_select(q, o.id, o.created_at, o.updated_at, after=after, changes=changes), o.seller_id
    )
    scoped.everyone = with_cases(scoped.everyone, changes)
    scoped.one_seller = with_cases(scoped.one_seller, changes)
    scoped.key_holder = with_cases(scoped.key_holder, changes)
    return scoped


def with_cases(orders_page: AnySelect, changes: bool) -> AnySelect:
    """A page of orders, each row joined with one of its cases (or none), in the page's order."""
    page = orders_page.subquery("page")
    c = _CASES.c
    pages = (page.c.updated_at, page.c.id) if changes else (page.c.created_at.desc(), page.c.id.desc())
    cases = (c.id.label("cb_id"), c.status.label("cb_status"), c.respond_by.label("cb_respond_by"))
    amounts = (c.amount_minor.label("cb_amount_minor"), c.currency.label("cb_currency"))
    return (
        select(page, *cases, *amounts)
        .outerjoin(_CASES, c.order_id == page.c.id)
        .order_by(*pages, c.created_at, c.id)
    )


_ORDER_LISTS = {
    shape: _order_list(*shape)
    for shape in (
        (r, b, a, c)
        for r in (False, True)
        for b in (False, True)
        for a in (False, True)
        for c in (False, True)
    )
}


@dataclass(frozen=True, slots=True)
class _OrderCase:
    id: str
    status: str
    respond_by: datetime
    amount_minor: int


async def orders(
    reader: LoopReader, settings: Settings, caller: Caller, f: OrderFilter, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of orders, newest first (or oldest change first with ``updated_since``), by keyset."""
    tag = query_tag("orders", *astuple(f))
    params = keyset(settings, tag, limit, cursor, f.updated_since) | {
        "external_ref": f.external_ref,
        "buyer_account_id": f.buyer_account_id,
    }
    shape = (
        f.external_ref is not None,
        f.buyer_account_id is not None,
        bool(cursor),
        f.updated_since is not None,
    )
    reader_as = await narrowed(reader, caller, f.seller_id)
    if reader_as is None:
        return views.page([], None)
    found: dict[str, tuple[Any, list[_OrderCase]]] = {}
    for row in await read_all(reader, _ORDER_LISTS[shape], reader_as, **params):
        _order, cases = found.setdefault(row.id, (row, []))
        if row.cb_id is not None:
            cases.append(_OrderCase(row.cb_id, row.cb_status, row.cb_respond_by, row.cb_amount_minor))
    rows = [row for row, _cases in found.values()]
    now = utcnow()
    body = [views.order(row, cases, now) for row, cases in list(found.values())[:limit]]
    return views.page(body, next_after(rows, limit, f.updated_since, tag))


# Messages ------------------------------------------------------------------------------------


def _message_list(unread: bool | None, after: bool, changes: bool) -> Scoped:
    m = _MESSAGES.c
    q = select(_MESSAGES)
    if unread is True:
        q = q.where(m.read_at.is_(None))
    elif unread is False:
        q = q.where(m.read_at.is_not(None))
    return Scoped(
        keyset_select(q, m.id, m.created_at, m.updated_at, after=after, changes=changes), m.seller_id
    )


_MESSAGE_LISTS = {
    (u, a, c): _message_list(u, a, c)
    for u in (None, True, False)
    for a in (False, True)
    for c in (False, True)
}


async def messages(
    reader: LoopReader,
    settings: Settings,
    caller: Caller,
    unread: bool | None,
    limit: int,
    cursor: str | None,
    updated_since: datetime | None = None,
) -> dict[str, Any]:
    """The seller's message centre, newest first (or oldest change first with ``updated_since``)."""
    tag = query_tag("messages", unread, updated_since)
    params = keyset(settings, tag, limit, cursor, updated_since)
    rows = await read_all(
        reader, _MESSAGE_LISTS[unread, bool(cursor), updated_since is not None], caller, **params
    )
    return views.page([views.message(r) for r in rows[:limit]], next_after(rows, limit, updated_since, tag))


# Sellers and their keys (the platform; a seller would see only itself) ---------------------------

_SELLER = Scoped(select(_SELLERS).where(_SELLERS.c.id == bindparam("id")), _SELLERS.c.id)
_SELLER_KEYS = Scoped(
    select(_KEYS)
    .where(_KEYS.c.seller_id == bindparam("id"))
    .order_by(_KEYS.c.created_at.desc(), _KEYS.c.id.desc()),
    _KEYS.c.seller_id,
)


async def seller(reader: LoopReader, caller: Caller, seller_id: str) -> dict[str, Any]:
    row = await read_one(reader, _SELLER, caller, id=seller_id) if has_prefix(seller_id, "sel") else None
    if row is None:
        raise NotFound(f"Seller {seller_id} does not exist.")
    return views.seller(row)


_SELLER_KEY = Scoped(
    select(_KEYS).where(_KEYS.c.seller_id == bindparam("id"), _KEYS.c.id == bindparam("key_id")),
    _KEYS.c.seller_id,
)


async def api_key(reader: LoopReader, caller: Caller, seller_id: str, key_id: str) -> dict[str, Any]:
    is_key = has_prefix(key_id, "key")
    row = await read_one(reader, _SELLER_KEY, caller, id=seller_id, key_id=key_id) if is_key else None
    if row is None:
        raise NotFound(f"API key {key_id} of seller {seller_id} does not exist.")
    return views.api_key(row)


async def api_keys(reader: LoopReader, caller: Caller, seller_id: str) -> list[dict[str, Any]]:
    await seller(reader, caller, seller_id)
    return [views.api_key(r) for r in await read_all(reader, _SELLER_KEYS, caller, id=seller_id)]


# Evidence, its report and the appeal ------------------------------------------------------------

_EVIDENCE = Evidence.__table__  # type: ignore[attr-defined]
_APPEALS = Appeal.__table__  # type: ignore[attr-defined]
# The case with its order's address: what the report needs of both, in one statement.
_CASE_FOR_REPORT = Scoped(
    select(_CASES, _ORDERS.c.shipping_address)
    .join(_ORDERS, _ORDERS.c.id == _CASES.c.order_id)
    .where(_CASES.c.id == bindparam("id")),
    _CASES.c.seller_id,
)
_EVIDENCE_ITEM = Scoped(
    select(_EVIDENCE).where(
        _EVIDENCE.c.id == bindparam("evidence_id"), _EVIDENCE.c.chargeback_id == bindparam("id")
    ),
    _EVIDENCE.c.seller_id,
)
# The case's items, in upload order: the order of the package's index.
CASE_EVIDENCE: AnySelect = (
    select(_EVIDENCE)
    .where(_EVIDENCE.c.chargeback_id == bindparam("id"))
    .order_by(_EVIDENCE.c.created_at, _EVIDENCE.c.id)
)
_APPEAL = Scoped(select(_APPEALS).where(_APPEALS.c.chargeback_id == bindparam("id")), _APPEALS.c.seller_id)


async def _case_row(reader: LoopReader, caller: Caller, case_id: str) -> Any:
    row = await read_one(reader, _CASE_FOR_REPORT, caller, id=case_id) if has_prefix(case_id, "cb") else None
    if row is None:
        raise NotFound(f"Chargeback {case_id} does not exist.")
    return row


_CASE_EVIDENCE_BYTES: AnySelect = select(
    func.coalesce(func.sum(_EVIDENCE.c.size_bytes), 0).label("used")
).where(_EVIDENCE.c.chargeback_id == bindparam("id"))


async def case_for_upload(reader: LoopReader, caller: Caller, case_id: str) -> tuple[Any, int]:
    """The case (an evidence upload's early check) and the bytes of evidence it holds."""
    row = await _case_row(reader, caller, case_id)
    used = await reader.one(_CASE_EVIDENCE_BYTES, {"id": case_id})  # the case is the caller's: so is this
    return row, int(used.used) if used is not None else 0


def _evidence_page(after: bool, changes: bool) -> AnySelect:
    e = _EVIDENCE.c
    q = select(_EVIDENCE).where(e.chargeback_id == bindparam("id"))
    return keyset_select(q, e.id, e.created_at, e.updated_at, after=after, changes=changes)


_EVIDENCE_PAGES = {(a, c): _evidence_page(a, c) for a in (False, True) for c in (False, True)}


async def evidence_list(
    reader: LoopReader,
    settings: Settings,
    caller: Caller,
    case_id: str,
    limit: int,
    cursor: str | None,
    updated_since: datetime | None = None,
) -> dict[str, Any]:
    """The case's items, newest first (or oldest change first with ``updated_since``)."""
    await _case_row(reader, caller, case_id)
    tag = query_tag("evidence", case_id, updated_since)
    params = keyset(settings, tag, limit, cursor, updated_since) | {"id": case_id}
    # The case is the caller's: so are its items.
    rows = await reader.all(_EVIDENCE_PAGES[bool(cursor), updated_since is not None], params)
    page = [views.evidence(r, settings) for r in rows[:limit]]
    return views.page(page, next_after(rows, limit, updated_since, tag))


async def evidence_item(reader: LoopReader, caller: Caller, case_id: str, evidence_id: str) -> Any:
    row = None
    if has_prefix(case_id, "cb") and has_prefix(evidence_id, "ev"):
        row = await read_one(reader, _EVIDENCE_ITEM, caller, id=case_id, evidence_id=evidence_id)
    if row is None:
        raise NotFound(f"Evidence {evidence_id} does not exist on chargeback {case_id}.")
    return row


async def evidence_report(
    reader: LoopReader, settings: Settings, caller: Caller, case_id: str
) -> dict[str, Any]:
    case = await _case_row(reader, caller, case_id)
    items = await reader.all(CASE_EVIDENCE, {"id": case_id})
    # Laying out the package's cover to count its pages is CPU work: off the event loop.
    report = await to_thread.run_sync(appeals.report, settings, case, case.shipping_address, items, utcnow())
    return report.as_dict()


async def appeal(reader: LoopReader, caller: Caller, case_id: str) -> Any:
    row = await read_one(reader, _APPEAL, caller, id=case_id) if has_prefix(case_id, "cb") else None
    if row is None:
        await _case_row(reader, caller, case_id)  # 404 for the case itself, else for its appeal
        raise NotFound(f"Chargeback {case_id} has no appeal yet.")
    return row


# Accounts ------------------------------------------------------------------------------------

_ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
# An account reads only itself: the statement is scoped to the caller's own account id.
_OWN_ACCOUNT: AnySelect = select(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("id"))


async def account(reader: LoopReader, account_id: str) -> dict[str, Any]:
    row = await reader.one(_OWN_ACCOUNT, {"id": account_id})
    if row is None:
        raise NotFound("The account does not exist.")
    return views.account(row)


_REGISTRATIONS = Registration.__table__  # type: ignore[attr-defined]
# Anyone holding a registration's id (unguessable) may see how far it got; nothing more is shown.
_REGISTRATION: AnySelect = select(
    _REGISTRATIONS.c.id,
    _REGISTRATIONS.c.status,
    _REGISTRATIONS.c.expires_at,
    _REGISTRATIONS.c.email_code_tries,
    _REGISTRATIONS.c.phone_code_tries,
).where(_REGISTRATIONS.c.id == bindparam("id"))


async def registration(reader: LoopReader, registration_id: str) -> dict[str, Any]:
    row = (
        await reader.one(_REGISTRATION, {"id": registration_id})
        if has_prefix(registration_id, "reg")
        else None
    )
    if row is None:
        raise NotFound(f"Registration {registration_id} does not exist.")
    return views.registration(row, utcnow())
