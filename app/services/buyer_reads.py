"""The personal centre's reads: an account's payment accounts, orders, favourites and coupons.

As in ``reads``: each GET is an ``async def`` handler calling one function here, which runs
prebuilt Core statements on the loop reader, and rows become bodies in ``views``. The tenancy rule
of an account's reads: every statement is built by ``_owned`` with its owner column compared to the
``account_id`` parameter, and ``_page`` (the only runner) sets that parameter to the caller's
account id, so no statement can read another account's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Table, bindparam, select, tuple_

from app.core.clock import utcnow
from app.core.reads import AnySelect, LoopReader
from app.models.base import UTCDateTime
from app.models.buyer import Coupon, Favourite, PaymentAccount
from app.models.chargeback import Chargeback
from app.models.order import Order
from app.services import views
from app.services.pagination import decode_cursor, encode_cursor

_LIMIT: BindParameter[int] = bindparam("limit")
_NOW = bindparam("now", type_=UTCDateTime())
_PAYMENT_ACCOUNTS: Table = PaymentAccount.__table__  # type: ignore[attr-defined]
_FAVOURITES: Table = Favourite.__table__  # type: ignore[attr-defined]
_COUPONS: Table = Coupon.__table__  # type: ignore[attr-defined]
_ORDERS: Table = Order.__table__  # type: ignore[attr-defined]
_CASES: Table = Chargeback.__table__  # type: ignore[attr-defined]


def _owned(
    table: Table, owner: str, sort: str, *where: ColumnElement[bool], ascending: bool = False
) -> dict[bool, AnySelect]:
    """A page of the account's rows of ``table`` by (``sort``, id): the first (False), one after a cursor."""
    key = tuple_(table.c[sort], table.c.id)
    base = select(table).where(table.c[owner] == bindparam("account_id"), *where)
    order = (
        (table.c[sort].asc(), table.c.id.asc()) if ascending else (table.c[sort].desc(), table.c.id.desc())
    )
    last = tuple_(bindparam("at", type_=UTCDateTime()), bindparam("last"))
    after = base.where(key > last if ascending else key < last)
    return {False: base.order_by(*order).limit(_LIMIT), True: after.order_by(*order).limit(_LIMIT)}


Bodies = Callable[[list[Any]], list[dict[str, Any]]]


async def _page(
    reader: LoopReader,
    statements: Mapping[bool, AnySelect],
    account_id: str,
    limit: int,
    cursor: str | None,
    bodies: Bodies,
    sort: str = "created_at",
    **params: Any,
) -> dict[str, Any]:
    """Run one of ``statements`` for the caller's account; a page of bodies and the next cursor."""
    params |= {"account_id": account_id, "limit": limit + 1}
    if cursor:
        params["at"], params["last"] = decode_cursor(cursor)
    data = bodies(await reader.all(statements[bool(cursor)], params))
    next_cursor = None
    if len(data) > limit:
        data = data[:limit]
        next_cursor = encode_cursor(data[-1][sort], data[-1]["id"])
    return views.page(data, next_cursor)


def _each(view: Callable[[Any], dict[str, Any]]) -> Bodies:
    return lambda rows: [view(r) for r in rows]


# Payment accounts: the bound ones, newest first.
_MY_PAYMENT_ACCOUNTS = _owned(
    _PAYMENT_ACCOUNTS, "account_id", "created_at", _PAYMENT_ACCOUNTS.c.unbound_at.is_(None)
)


async def payment_accounts(
    reader: LoopReader, account_id: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    return await _page(reader, _MY_PAYMENT_ACCOUNTS, account_id, limit, cursor, _each(views.payment_account))


_MY_FAVOURITES = _owned(_FAVOURITES, "account_id", "created_at")


async def favourites(reader: LoopReader, account_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    return await _page(reader, _MY_FAVOURITES, account_id, limit, cursor, _each(views.favourite))


# Coupons still to use, the soonest to expire first.
_MY_COUPONS = _owned(
    _COUPONS,
    "account_id",
    "expires_at",
    _COUPONS.c.used_at.is_(None),
    _COUPONS.c.expires_at > _NOW,
    ascending=True,
)


async def coupons(reader: LoopReader, account_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    return await _page(
        reader, _MY_COUPONS, account_id, limit, cursor, _each(views.coupon), sort="expires_at", now=utcnow()
    )


def _with_cases(orders_page: AnySelect) -> AnySelect:
    """A page of orders, each joined with its cases (a row per case, or one row with none)."""
    page = orders_page.subquery("page")
    c = _CASES.c
    return (
        select(
            page.c.id,
            page.c.seller_id,
            page.c.external_ref,
            page.c.amount_minor,
            page.c.currency,
            page.c.description,
            page.c.placed_at,
            page.c.created_at,
            c.id.label("cb_id"),
            c.status.label("cb_status"),
            c.amount_minor.label("cb_amount_minor"),
            c.currency.label("cb_currency"),
            c.respond_by.label("cb_respond_by"),
        )
        .outerjoin(_CASES, c.order_id == page.c.id)
        .order_by(page.c.created_at.desc(), page.c.id.desc(), c.created_at, c.id)
    )


# The account's orders (``buyer_account_id``), newest first: the cases of an order that is the
# caller's are the caller's to see, so the join needs no scoping of its own.
_MY_ORDERS = {after: _with_cases(s) for after, s in _owned(_ORDERS, "buyer_account_id", "created_at").items()}


async def orders(reader: LoopReader, account_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    now = utcnow()
    return await _page(
        reader, _MY_ORDERS, account_id, limit, cursor, lambda rows: views.buyer_orders(rows, now)
    )
