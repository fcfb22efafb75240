"""The personal centre: an account's orders with their chargebacks' status, its favourites, and its
coupons still to use (issued by the platform); each account sees only its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from time_machine import TimeMachineFixture

from app.worker import Dispatcher
from tests.api.conftest import (
    PLATFORM,
    Mailbox,
    SmsGateway,
    assert_problem,
    make_case,
    make_key,
    make_order,
    make_seller,
)

# The clock frozen at T0 and the SMS receiver in the settings: test_accounts' fixtures.
from tests.api.test_accounts import T0, _frozen_clock, bearer, login, make_account, settings  # noqa: F401


class Buyers:
    """Two logged-in accounts: ``mia`` and ``leo`` (their account and bearer header)."""

    def __init__(self, client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms: SmsGateway) -> None:
        self.mia, self.mia_auth = self._make(client, dispatcher, mailbox, sms, "mia@example.com")
        self.leo, self.leo_auth = self._make(client, dispatcher, mailbox, sms, "leo@example.com")

    @staticmethod
    def _make(
        client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms: SmsGateway, email: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        return make_account(client, dispatcher, mailbox, sms, email=email), fresh_token(client, email)


@pytest.fixture
def buyers(client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway) -> Buyers:
    return Buyers(client, dispatcher, mailbox, sms_gateway)


def fresh_token(client: TestClient, email: str) -> dict[str, str]:
    """A new login's header, after the clock has moved past the first access token's life."""
    r = login(client, email)
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def coupon(account_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "account_id": account_id,
        "code": "WELCOME10",
        "amount_minor": 500,
        "currency": "EUR",
        "expires_at": "2026-12-31T16:00:00Z",
    }
    return {k: v for k, v in (body | overrides).items() if v is not None}


def issue(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/coupons", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    return dict(r.json())


# Orders --------------------------------------------------------------------------------------------


def test_my_orders_lists_only_mine_newest_first_with_case_status(
    client: TestClient, buyers: Buyers, time_machine: TimeMachineFixture
) -> None:
    seller = make_seller(client)
    first = make_order(client, seller["id"], buyer_account_id=buyers.mia["id"], external_ref="SO-1")
    make_order(client, seller["id"], buyer_account_id=buyers.leo["id"], external_ref="SO-2")
    make_order(client, seller["id"], external_ref="SO-3")
    time_machine.move_to(T0 + timedelta(minutes=1), tick=False)
    second = make_order(client, seller["id"], 20_000, buyer_account_id=buyers.mia["id"], external_ref="SO-4")
    case = make_case(client, second["id"], 3_000)

    r = client.get("/v1/me/orders", headers=buyers.mia_auth)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [o["id"] for o in page["data"]] == [second["id"], first["id"]]
    assert page["next_cursor"] is None
    newest = page["data"][0]
    assert (newest["external_ref"], newest["amount_minor"], newest["currency"]) == ("SO-4", 20_000, "EUR")
    assert newest["chargebacks"] == [
        {
            "id": case["id"],
            "status": "needs_response",
            "amount_minor": 3_000,
            "currency": "EUR",
            "respond_by": case["respond_by"],
        }
    ]
    assert page["data"][1]["chargebacks"] == []

    # Past the deadline the case reads expired at once, before any sweep has run.
    time_machine.move_to(datetime.fromisoformat(case["respond_by"]) + timedelta(seconds=1), tick=False)
    r = client.get("/v1/me/orders", headers=fresh_token(client, "mia@example.com"))
    assert r.json()["data"][0]["chargebacks"][0]["status"] == "expired"

    leo = client.get("/v1/me/orders", headers=fresh_token(client, "leo@example.com")).json()["data"]
    assert [o["external_ref"] for o in leo] == ["SO-2"]


def test_an_order_for_an_unknown_buyer_account_is_404_and_not_created(client: TestClient) -> None:
    seller = make_seller(client)
    body = {"seller_id": seller["id"], "amount_minor": 1000, "currency": "EUR", "external_ref": "SO-X"}
    r = client.post("/v1/orders", json=body | {"buyer_account_id": "acct_nonexistent"}, headers=PLATFORM)
    assert_problem(r, 404, "not_found", "buyer_account_id")
    # Nothing was half-created: the same external reference is still free.
    assert client.post("/v1/orders", json=body, headers=PLATFORM).status_code == 201


def test_my_orders_pages_by_cursor(
    client: TestClient, buyers: Buyers, time_machine: TimeMachineFixture
) -> None:
    seller = make_seller(client)
    made = []
    for i in range(3):
        time_machine.move_to(T0 + timedelta(minutes=i), tick=False)
        order = make_order(client, seller["id"], buyer_account_id=buyers.mia["id"])
        make_case(client, order["id"], 1_000)
        make_case(client, order["id"], 1_000)  # two cases: two joined rows, still one order
        made.append(order["id"])
    r = client.get("/v1/me/orders", params={"limit": 2}, headers=buyers.mia_auth)
    assert r.status_code == 200, r.text
    first = r.json()
    assert [o["id"] for o in first["data"]] == made[:0:-1]
    assert [len(o["chargebacks"]) for o in first["data"]] == [2, 2]
    r = client.get(
        "/v1/me/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=buyers.mia_auth
    )
    rest = r.json()
    assert [o["id"] for o in rest["data"]] == made[:1]
    assert rest["next_cursor"] is None


def test_the_personal_centre_needs_an_account_token(client: TestClient) -> None:
    seller = make_seller(client)
    for path in ("/v1/me/orders", "/v1/me/favourites", "/v1/me/coupons"):
        assert_problem(client.get(path, headers=make_key(client, seller["id"])), 403, "forbidden")
        assert_problem(client.get(path), 401, "invalid_credential")


# Favourites ----------------------------------------------------------------------------------------


def test_favourites_add_list_remove(client: TestClient, buyers: Buyers) -> None:
    mia = buyers.mia_auth
    r = client.post("/v1/me/favourites", json={"product_ref": "sku-1", "note": "for mum"}, headers=mia)
    assert r.status_code == 201, r.text
    teapot = r.json()
    assert teapot["id"].startswith("fav_")
    assert r.headers["location"] == f"/v1/me/favourites/{teapot['id']}"
    assert (teapot["product_ref"], teapot["note"]) == ("sku-1", "for mum")
    r = client.post("/v1/me/favourites", json={"product_ref": "sku-2"}, headers=mia)
    assert r.status_code == 201, r.text
    cup = r.json()
    assert cup["note"] is None

    assert client.get("/v1/me/favourites", headers=mia).json() == {"data": [cup, teapot], "next_cursor": None}
    assert client.get(f"/v1/me/favourites/{teapot['id']}", headers=mia).json() == teapot  # its Location
    assert_problem(client.get(f"/v1/me/favourites/{teapot['id']}", headers=buyers.leo_auth), 404, "not_found")
    r = client.delete(f"/v1/me/favourites/{teapot['id']}", headers=mia)
    assert r.status_code == 204, r.text
    assert_problem(client.get(f"/v1/me/favourites/{teapot['id']}", headers=mia), 404, "not_found")
    assert client.get("/v1/me/favourites", headers=mia).json()["data"] == [cup]
    assert_problem(client.delete(f"/v1/me/favourites/{teapot['id']}", headers=mia), 404, "not_found")
    # Removed, it may be added again.
    assert client.post("/v1/me/favourites", json={"product_ref": "sku-1"}, headers=mia).status_code == 201


def test_same_product_twice_is_409_but_another_account_may_add_it(client: TestClient, buyers: Buyers) -> None:
    body = {"product_ref": "sku-1"}
    assert client.post("/v1/me/favourites", json=body, headers=buyers.mia_auth).status_code == 201
    r = client.post("/v1/me/favourites", json=body | {"note": "again"}, headers=buyers.mia_auth)
    assert_problem(r, 409, "favourite_exists", "product_ref")
    assert client.post("/v1/me/favourites", json=body, headers=buyers.leo_auth).status_code == 201
    assert len(client.get("/v1/me/favourites", headers=buyers.mia_auth).json()["data"]) == 1


def test_favourite_retry_with_its_idempotency_key_replays(client: TestClient, buyers: Buyers) -> None:
    headers = buyers.mia_auth | {"Idempotency-Key": "fav-1"}
    first = client.post("/v1/me/favourites", json={"product_ref": "sku-1"}, headers=headers)
    again = client.post("/v1/me/favourites", json={"product_ref": "sku-1"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


def test_another_accounts_favourite_is_404(client: TestClient, buyers: Buyers) -> None:
    fav = client.post("/v1/me/favourites", json={"product_ref": "sku-1"}, headers=buyers.mia_auth).json()
    assert_problem(client.delete(f"/v1/me/favourites/{fav['id']}", headers=buyers.leo_auth), 404, "not_found")
    assert client.get("/v1/me/favourites", headers=buyers.leo_auth).json()["data"] == []
    assert client.get("/v1/me/favourites", headers=buyers.mia_auth).json()["data"] == [fav]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "product_ref"),
        ({"product_ref": ""}, "product_ref"),
        ({"product_ref": "a\nb"}, "product_ref"),
        ({"product_ref": "x" * 101}, "product_ref"),
        ({"product_ref": "sku-1", "note": "n" * 501}, "note"),
        ({"product_ref": "sku-1", "account_id": "acct_x"}, "account_id"),
    ],
)
def test_invalid_favourite_is_422(
    client: TestClient, buyers: Buyers, body: dict[str, Any], field: str
) -> None:
    r = client.post("/v1/me/favourites", json=body, headers=buyers.mia_auth)
    assert_problem(r, 422, "validation_error", field)


# Coupons -------------------------------------------------------------------------------------------


def test_my_coupons_lists_only_unused_unexpired_soonest_first(
    client: TestClient, buyers: Buyers, time_machine: TimeMachineFixture
) -> None:
    mia = buyers.mia["id"]
    later = issue(client, coupon(mia, code="later", expires_at="2027-03-01T00:00:00Z"))
    assert later["code"] == "LATER"
    soon = issue(client, coupon(mia, code="SOON", expires_at="2026-12-02T00:00:00Z"))
    used = issue(client, coupon(mia, code="USED", amount_minor=None, currency=None, percent_off=15))
    assert (used["percent_off"], used["amount_minor"], used["currency"]) == (15, None, None)
    issue(client, coupon(buyers.leo["id"], code="LEOS"))
    r = client.post(f"/v1/coupons/{used['id']}/redeem", headers=PLATFORM)
    assert r.status_code == 200, r.text
    assert r.json()["used_at"] == "2026-12-01T02:00:00Z"
    assert_problem(
        client.post(f"/v1/coupons/{used['id']}/redeem", headers=PLATFORM), 409, "coupon_not_redeemable"
    )

    r = client.get("/v1/me/coupons", headers=buyers.mia_auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [soon, later], "next_cursor": None}

    time_machine.move_to(datetime(2026, 12, 2, tzinfo=UTC), tick=False)  # the instant "SOON" expires
    mia_auth, leo_auth = fresh_token(client, "mia@example.com"), fresh_token(client, "leo@example.com")
    assert [c["code"] for c in client.get("/v1/me/coupons", headers=mia_auth).json()["data"]] == ["LATER"]
    assert_problem(
        client.post(f"/v1/coupons/{soon['id']}/redeem", headers=PLATFORM), 409, "coupon_not_redeemable"
    )
    assert [c["code"] for c in client.get("/v1/me/coupons", headers=leo_auth).json()["data"]] == ["LEOS"]


def test_coupon_pages_by_cursor(client: TestClient, buyers: Buyers) -> None:
    for day in (3, 2, 4):
        issue(client, coupon(buyers.mia["id"], code=f"DAY{day}", expires_at=f"2026-12-0{day}T00:00:00Z"))
    first = client.get("/v1/me/coupons", params={"limit": 2}, headers=buyers.mia_auth).json()
    assert [c["code"] for c in first["data"]] == ["DAY2", "DAY3"]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    rest = client.get("/v1/me/coupons", params=params, headers=buyers.mia_auth).json()
    assert ([c["code"] for c in rest["data"]], rest["next_cursor"]) == (["DAY4"], None)


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"percent_off": 10, "currency": None}, {"amount_minor", "percent_off"}),
        ({"amount_minor": None, "currency": None}, {"amount_minor", "percent_off"}),
        ({"currency": None}, {"currency"}),
        ({"amount_minor": None, "percent_off": 10}, {"currency"}),
        ({"amount_minor": None, "currency": None, "percent_off": 0}, {"percent_off"}),
        ({"amount_minor": None, "currency": None, "percent_off": 101}, {"percent_off"}),
        ({"amount_minor": 0}, {"amount_minor"}),
        ({"currency": "XXY"}, {"currency"}),
        ({"expires_at": "2026-12-01T02:00:00Z"}, {"expires_at"}),
        ({"expires_at": "2026-12-31T16:00:00"}, {"expires_at"}),
        ({"code": "no spaces"}, {"code"}),
        ({"code": "AB"}, {"code"}),
        ({"seller_id": "sel_x"}, {"seller_id"}),
    ],
)
def test_invalid_coupon_is_422(
    client: TestClient, buyers: Buyers, overrides: dict[str, Any], fields: set[str]
) -> None:
    body = coupon(buyers.mia["id"]) | {k: v for k, v in overrides.items() if v is not None}
    for key in [k for k, v in overrides.items() if v is None]:
        body.pop(key)
    problem = assert_problem(client.post("/v1/coupons", json=body, headers=PLATFORM), 422, "validation_error")
    assert {e["field"] for e in problem["errors"]} == fields


def test_coupon_for_an_unknown_account_is_404(client: TestClient) -> None:
    for account_id in ("acct_01jd2x3y4z5a6b7c8d9e0f1g2h", "nobody"):
        r = client.post("/v1/coupons", json=coupon(account_id), headers=PLATFORM)
        assert_problem(r, 404, "not_found")


def test_coupon_code_is_unique_per_account(client: TestClient, buyers: Buyers) -> None:
    issue(client, coupon(buyers.mia["id"], code="WELCOME10"))
    r = client.post("/v1/coupons", json=coupon(buyers.mia["id"], code="welcome10"), headers=PLATFORM)
    assert_problem(r, 409, "coupon_code_taken", "code")
    issue(client, coupon(buyers.leo["id"], code="WELCOME10"))


def test_only_the_platform_issues_and_redeems_coupons(client: TestClient, buyers: Buyers) -> None:
    r = client.post("/v1/coupons", json=coupon(buyers.mia["id"]), headers=buyers.mia_auth)
    assert_problem(r, 403, "forbidden")
    seller = make_seller(client)
    r = client.post("/v1/coupons", json=coupon(buyers.mia["id"]), headers=make_key(client, seller["id"]))
    assert_problem(r, 403, "forbidden")
    mine = issue(client, coupon(buyers.mia["id"]))
    assert_problem(client.post(f"/v1/coupons/{mine['id']}/redeem", headers=buyers.mia_auth), 403, "forbidden")
    assert_problem(client.post("/v1/coupons/cpn_nope/redeem", headers=PLATFORM), 404, "not_found")
    assert client.get("/v1/me/coupons", headers=buyers.mia_auth).json()["data"] == [mine]


def test_issued_coupon_is_at_its_location_for_the_platform_only(client: TestClient, buyers: Buyers) -> None:
    r = client.post("/v1/coupons", json=coupon(buyers.mia["id"], code="HELLO"), headers=PLATFORM)
    assert r.status_code == 201, r.text
    issued = r.json()
    assert r.headers["location"] == f"/v1/coupons/{issued['id']}"
    r = client.get(r.headers["location"], headers=PLATFORM)
    assert r.status_code == 200, r.text
    assert r.json() == issued
    client.post(f"/v1/coupons/{issued['id']}/redeem", headers=PLATFORM)
    assert client.get(f"/v1/coupons/{issued['id']}", headers=PLATFORM).json()["used_at"] is not None
    assert_problem(client.get(f"/v1/coupons/{issued['id']}", headers=buyers.mia_auth), 403, "forbidden")
    assert_problem(client.get("/v1/coupons/cpn_nope", headers=PLATFORM), 404, "not_found")
    assert_problem(client.get("/v1/coupons/nope", headers=PLATFORM), 404, "not_found")
