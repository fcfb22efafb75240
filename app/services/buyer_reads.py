"""The personal centre's reads: an account's payment accounts, orders, favourites and coupons.

As in ``reads``: each GET is an ``async def`` handler calling one function here, which runs
prebuilt Core statements on the loop reader, and rows become bodies in ``views``. The tenancy rule
of an account's reads: every statement is built by ``_owned`` with its owner column compared to the
``account_id`` parameter, and ``_page`` (the only runner) sets that parameter to the caller's
account id, so no statement can read another account's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, select

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.ids import has_prefix
from app.core.reads import AnySelect, LoopReader
from app.domain.errors import NotFound
from app.models.base import UTCDateTime
from app.models.buyer import Coupon, Favourite, PaymentAccount
from app.models.order import Order
from app.services import views
from app.services.pagination import encode_cursor, keyset, keyset_select, query_tag
from app.services.reads import with_cases

_NOW = bindparam("now", type_=UTCDateTime())
_PAYMENT_ACCOUNTS: Table = PaymentAccount.__table__  # type: ignore[attr-defined]
_FAVOURITES: Table = Favourite.__table__  # type: ignore[attr-defined]
_COUPONS: Table = Coupon.__table__  # type: ignore[attr-defined]
_ORDERS: Table = Order.__table__  # type: ignore[attr-defined]


Statements = Mapping[tuple[bool, bool], AnySelect]


def _owned(
    table: Table, owner: str, sort: str, *where: ColumnElement[bool], ascending: bool = False
) -> Statements:
    """The account's rows of ``table`` as keyset pages by (``sort``, id), or with ``changes`` by
    (updated_at, id): for each (after a cursor, changes) pair, one prebuilt statement."""
    base = select(table).where(table.c[owner] == bindparam("account_id"), *where)
    return {
        (after, changes): keyset_select(
            base,
            table.c.id,
            table.c[sort],
            table.c.updated_at,
            after=after,
            changes=changes,
            ascending=ascending,
        )
        for after in (False, True)
        for changes in (False, True)
    }


Bodies = Callable[[list[Any]], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Page:
    """What a personal-centre list was asked for."""

    limit: int = 50
    cursor: str | None = None
    updated_since: datetime | None = None


async def _page(
    reader: LoopReader,
    settings: Settings,
    name: str,
    statements: Statements,
    account_id: str,
    want: Page,
    bodies: Bodies,
    sort: str = "created_at",
    **params: Any,
) -> dict[str, Any]:
    """Run one of ``statements`` for the caller's account; a page of bodies and the next cursor."""
    changes = want.updated_since is not None
    tag = query_tag(name, want.updated_since)
    params |= keyset(settings, tag, want.limit, want.cursor, want.updated_since) | {"account_id": account_id}
    data = bodies(await reader.all(statements[bool(want.cursor), changes], params))
    next_cursor = None
    if len(data) > want.limit:
        data = data[: want.limit]
        last = data[-1]
        next_cursor = encode_cursor(last["updated_at" if changes else sort], last["id"], tag)
    return views.page(data, next_cursor)


def _each(view: Callable[[Any], dict[str, Any]]) -> Bodies:
    return lambda rows: [view(r) for r in rows]


# Payment accounts: the bound ones, newest first.
_MY_PAYMENT_ACCOUNTS = _owned(
    _PAYMENT_ACCOUNTS, "account_id", "created_at", _PAYMENT_ACCOUNTS.c.unbound_at.is_(None)
)


async def payment_accounts(
    reader: LoopReader, settings: Settings, account_id: str, want: Page
) -> dict[str, Any]:
    statements = _MY_PAYMENT_ACCOUNTS
    return await _page(
        reader, settings, "payment-accounts", statements, account_id, want, _each(views.payment_account)
    )


def _one_owned(table: Table, *where: ColumnElement[bool]) -> AnySelect:
    return select(table).where(
        table.c.id == bindparam("id"), table.c.account_id == bindparam("account_id"), *where
    )


async def _mine(
    reader: LoopReader, statement: AnySelect, account_id: str, item_id: str, prefix: str, name: str
) -> Any:
    """One row of the account's, or 404 (another account's reads as missing)."""
    params = {"id": item_id, "account_id": account_id}
    row = await reader.one(statement, params) if has_prefix(item_id, prefix) else None
    if row is None:
        raise NotFound(f"{name} {item_id} does not exist.")
    return row


# An unbound payment account is gone, as from the list.
_PAYMENT_ACCOUNT = _one_owned(_PAYMENT_ACCOUNTS, _PAYMENT_ACCOUNTS.c.unbound_at.is_(None))


async def payment_account(reader: LoopReader, account_id: str, payment_account_id: str) -> dict[str, Any]:
    row = await _mine(reader, _PAYMENT_ACCOUNT, account_id, payment_account_id, "pay", "Payment account")
    return views.payment_account(row)


_MY_FAVOURITES = _owned(_FAVOURITES, "account_id", "created_at")
_FAVOURITE = _one_owned(_FAVOURITES)


async def favourite(reader: LoopReader, account_id: str, favourite_id: str) -> dict[str, Any]:
    return views.favourite(await _mine(reader, _FAVOURITE, account_id, favourite_id, "fav", "Favourite"))


async def favourites(reader: LoopReader, settings: Settings, account_id: str, want: Page) -> dict[str, Any]:
    return await _page(
        reader, settings, "favourites", _MY_FAVOURITES, account_id, want, _each(views.favourite)
    )


# Coupons still to use, the soonest to expire first.
_MY_COUPONS = _owned(
    _COUPONS,
    "account_id",
    "expires_at",
    _COUPONS.c.used_at.is_(None),
    _COUPONS.c.expires_at > _NOW,
    ascending=True,
)


# One coupon, for the platform that issued it (no account scope: only the platform key reaches it).
_COUPON = select(_COUPONS).where(_COUPONS.c.id == bindparam("id"))


async def coupon(reader: LoopReader, coupon_id: str) -> dict[str, Any]:
    row = await reader.one(_COUPON, {"id": coupon_id}) if has_prefix(coupon_id, "cpn") else None
    if row is None:
        raise NotFound(f"Coupon {coupon_id} does not exist.")
    return views.coupon(row)


async def coupons(reader: LoopReader, settings: Settings, account_id: str, want: Page) -> dict[str, Any]:
    bodies = _each(views.coupon)
    return await _page(
        reader, settings, "coupons", _MY_COUPONS, account_id, want, bodies, sort="expires_at", now=utcnow()
    )


# The account's orders (``buyer_account_id``), newest first: the cases of an order that is the
# caller's are the caller's to see, so the join needs no scoping of its own.
_MY_ORDERS = {
    shape: with_cases(s, changes=shape[1])
    for shape, s in _owned(_ORDERS, "buyer_account_id", "created_at").items()
}


async def orders(reader: LoopReader, settings: Settings, account_id: str, want: Page) -> dict[str, Any]:
    now = utcnow()
    bodies: Bodies = lambda rows: views.buyer_orders(rows, now)  # noqa: E731
    return await _page(reader, settings, "my-orders", _MY_ORDERS, account_id, want, bodies)
