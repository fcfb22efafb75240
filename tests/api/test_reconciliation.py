"""``updated_since`` on every list, the same way: oldest change first, only changes older than the
reconcile lag, a cursor that continues the walk, and the same refusals (a future or malformed
instant, a cursor from another query). Chargebacks and messages have their own, deeper tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient
from time_machine import TimeMachineFixture

from app.worker import Dispatcher
from tests.api.conftest import (
    PLATFORM,
    Mailbox,
    SmsGateway,
    World,
    assert_problem,
    make_case,
    make_order,
)
from tests.api.test_accounts import T0, _frozen_clock, make_account, settings  # noqa: F401
from tests.api.test_personal_centre import coupon, fresh_token, issue

SETTLED = timedelta(seconds=5)  # RECONCILE_LAG_SECONDS
LISTS = [
    "chargebacks",
    "messages",
    "orders",
    "evidence",
    "my-orders",
    "favourites",
    "payment-accounts",
    "coupons",
]


def z(at: Any) -> str:
    return str(at.isoformat().replace("+00:00", "Z"))


@dataclass
class Listing:
    path: str
    headers: Callable[[], dict[str, str]]  # asked for afresh: an access token outlives no long wait
    add: Callable[[], str]  # one new item of the list; its id

    def get(self, client: TestClient, **params: Any) -> Any:
        return client.get(self.path, params=params, headers=self.headers())


def _buyer(client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms: SmsGateway) -> str:
    return str(make_account(client, dispatcher, mailbox, sms, email="mia@example.com")["id"])


@pytest.fixture(params=LISTS)
def listing(
    request: pytest.FixtureRequest,
    client: TestClient,
    world: World,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
) -> Listing:
    n = count(1)
    seller = world.seller["id"]
    if request.param == "chargebacks":
        return Listing("/v1/chargebacks", lambda: world.seller_headers, lambda: new_case(client, seller))
    if request.param == "messages":

        def add_message() -> str:  # a notice leaves the seller a message
            new_case(client, seller)
            r = client.get("/v1/messages", params={"limit": 1}, headers=world.seller_headers)
            return str(r.json()["data"][0]["id"])

        return Listing("/v1/messages", lambda: world.seller_headers, add_message)
    if request.param == "orders":
        return Listing("/v1/orders", lambda: world.seller_headers, lambda: make_order(client, seller)["id"])
    if request.param == "evidence":
        case = make_case(client, world.order["id"])["id"]

        def add_evidence() -> str:
            data = {"evidence_type": "shipping_proof", "text": f"Tracking JD{next(n):06d}"}
            r = client.post(f"/v1/chargebacks/{case}/evidence", data=data, headers=world.seller_headers)
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        return Listing(f"/v1/chargebacks/{case}/evidence", lambda: world.seller_headers, add_evidence)
    buyer = _buyer(client, dispatcher, mailbox, sms_gateway)

    def mia() -> dict[str, str]:
        return fresh_token(client, "mia@example.com")

    def created(path: str, body: dict[str, Any]) -> str:
        r = client.post(path, json=body, headers=mia())
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    adders: dict[str, Callable[[], str]] = {
        "my-orders": lambda: make_order(client, seller, buyer_account_id=buyer)["id"],
        "favourites": lambda: created("/v1/me/favourites", {"product_ref": f"sku-{next(n)}"}),
        "payment-accounts": lambda: created(
            "/v1/me/payment-accounts", {"provider": "alipay", "account_ref": f"mia{next(n)}@example.com"}
        ),
        "coupons": lambda: issue(client, coupon(buyer, code=f"CODE{next(n)}"))["id"],
    }
    return Listing(f"/v1/me/{request.param.removeprefix('my-')}", mia, adders[request.param])


def new_case(client: TestClient, seller: str) -> str:
    return str(make_case(client, make_order(client, seller)["id"])["id"])


def ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["data"]]


def test_updated_since_lists_changes_oldest_first_after_the_lag(
    client: TestClient, listing: Listing, time_machine: TimeMachineFixture
) -> None:
    start = T0 + timedelta(minutes=1)
    time_machine.move_to(start, tick=False)
    first = listing.add()
    time_machine.shift(timedelta(seconds=30))
    second = listing.add()
    time_machine.shift(timedelta(seconds=30))
    third = listing.add()
    # Younger than the lag: an older change might still commit, so it waits.
    assert third not in ids(listing.get(client, updated_since=z(start)))
    time_machine.shift(SETTLED)

    page = listing.get(client, updated_since=z(start), limit=2)
    assert ids(page) == [first, second]
    rest = listing.get(client, updated_since=z(start), limit=2, cursor=page.json()["next_cursor"])
    assert ids(rest) == [third]
    assert rest.json()["next_cursor"] is None
    assert ids(listing.get(client, updated_since=z(start + timedelta(seconds=30)))) == [second, third]
    # Every item says when it last changed: what the client keeps for its next call.
    assert [i["updated_at"] for i in page.json()["data"]] == [z(start), z(start + timedelta(seconds=30))]


def test_a_future_or_malformed_instant_and_a_cursor_from_another_query_are_refused(
    client: TestClient, listing: Listing, time_machine: TimeMachineFixture
) -> None:
    listing.add()
    listing.add()
    time_machine.shift(timedelta(minutes=1))
    ahead = z(T0 + timedelta(minutes=2))
    for value in (ahead, "yesterday", "2026-12-01T02:00:00"):  # the last one has no offset
        assert_problem(listing.get(client, updated_since=value), 422, "validation_error", "updated_since")

    newest_first = listing.get(client, limit=1).json()["next_cursor"]
    changes = listing.get(client, limit=1, updated_since=z(T0)).json()["next_cursor"]
    assert newest_first
    assert changes
    refused = [
        listing.get(client, limit=1, updated_since=z(T0), cursor=newest_first),
        listing.get(client, limit=1, cursor=changes),
        listing.get(client, limit=1, updated_since=z(T0 + timedelta(seconds=1)), cursor=changes),
    ]
    for r in refused:
        assert_problem(r, 422, "cursor_mismatch", "cursor")
    assert ids(listing.get(client, limit=1, updated_since=z(T0), cursor=changes))  # its own query: fine


def test_an_orders_cursor_is_not_a_chargebacks_cursor(client: TestClient, world: World) -> None:
    make_order(client, world.seller["id"])
    cursor = client.get("/v1/orders", params={"limit": 1}, headers=world.seller_headers).json()["next_cursor"]
    r = client.get("/v1/chargebacks", params={"cursor": cursor}, headers=world.seller_headers)
    assert_problem(r, 422, "cursor_mismatch", "cursor")


def test_orders_list_is_scoped_filtered_and_moves_an_order_when_its_funds_move(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    other_seller = client.post(
        "/v1/sellers", json={"name": "Other", "email": "o@other.example", "country": "DE"}, headers=PLATFORM
    ).json()["id"]
    theirs = make_order(client, other_seller, external_ref="SO-9")["id"]
    time_machine.shift(timedelta(minutes=1))
    late = make_order(client, world.seller["id"], external_ref="SO-2")["id"]
    mine = ids(client.get("/v1/orders", headers=world.seller_headers))
    assert mine == [late, world.order["id"]]  # newest first; the other seller's order unseen
    by_ref = client.get("/v1/orders", params={"external_ref": "SO-9"}, headers=world.seller_headers)
    assert ids(by_ref) == []
    platform = client.get("/v1/orders", params={"seller_id": other_seller}, headers=PLATFORM)
    assert ids(platform) == [theirs]

    time_machine.shift(timedelta(minutes=1))
    make_case(client, world.order["id"])  # freezes the order's funds: a change of the order
    time_machine.shift(SETTLED)
    changed = client.get("/v1/orders", params={"updated_since": z(T0)}, headers=world.seller_headers)
    assert ids(changed) == [late, world.order["id"]]
    body = changed.json()["data"][1]
    assert body["fund_status"] == "frozen"
    assert len(body["chargeback_ids"]) == 1
