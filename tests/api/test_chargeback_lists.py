"""Listing chargebacks: filters, keyset pagination and ``updated_since`` reconciliation.

Time is frozen at ``T0`` and moved with time-machine, so created and updated instants are known.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from time_machine import TimeMachineFixture

from app.worker import Dispatcher
from tests.api.conftest import PLATFORM, World, make_case, make_order

T0 = datetime(2026, 9, 29, 10, 0, tzinfo=UTC)  # Tue 18:00 Asia/Shanghai
T0_RESPOND_BY = datetime(2026, 10, 9, 15, 59, 59, 999_999, tzinfo=UTC)  # Fri 9 Oct, end of day
SETTLED = timedelta(seconds=5)  # RECONCILE_LAG_SECONDS: updated_since lists changes this old


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def listing(client: TestClient, headers: dict[str, str], **params: Any) -> httpx2.Response:
    return client.get("/v1/chargebacks", params=params, headers=headers)


def ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    r = listing(client, headers, **params)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["data"]]


def all_pages(client: TestClient, headers: dict[str, str], **params: Any) -> list[list[str]]:
    """Follow ``next_cursor`` to the end; each page's ids."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        r = listing(client, headers, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        pages.append([c["id"] for c in r.json()["data"]])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "pagination does not end"


def assert_invalid(r: httpx2.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


def new_case(client: TestClient, world: World, amount_minor: int = 1_000, **overrides: Any) -> str:
    """A case on a fresh order of the world's seller."""
    order = make_order(client, world.seller["id"])
    return str(make_case(client, order["id"], amount_minor, **overrides)["id"])


def forged(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# Pagination ----------------------------------------------------------------------------------------


def test_keyset_pages_return_every_case_once_newest_first(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    created = []
    for _ in range(7):
        time_machine.shift(timedelta(minutes=1))
        created.append(new_case(client, world))

    pages = all_pages(client, world.seller_headers, limit=3)

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == created[::-1]


def test_keyset_pages_keep_cases_created_at_the_same_instant_apart(client: TestClient, world: World) -> None:
    created = [new_case(client, world) for _ in range(7)]  # the clock does not move

    pages = all_pages(client, world.seller_headers, limit=2)

    assert [len(p) for p in pages] == [2, 2, 2, 1]
    flat = [i for p in pages for i in p]
    assert sorted(flat) == sorted(created)
    assert flat == ids(client, world.seller_headers, limit=200)


def test_exact_multiple_of_limit_ends_with_null_cursor(client: TestClient, world: World) -> None:
    for _ in range(4):
        new_case(client, world)
    pages = all_pages(client, world.seller_headers, limit=2)
    assert [len(p) for p in pages] in ([2, 2], [2, 2, 0])
    assert listing(client, world.seller_headers, limit=4).json()["next_cursor"] is None


def test_empty_list_has_null_cursor(client: TestClient, world: World) -> None:
    r = listing(client, world.seller_headers)
    assert r.status_code == 200
    assert r.json() == {"data": [], "next_cursor": None}


def test_limit_bounds(client: TestClient, world: World, subtests: pytest.Subtests) -> None:
    new_case(client, world)
    for limit in (0, 201, -1, "ten", 10**20):
        with subtests.test(f"limit={limit}"):
            assert_invalid(listing(client, world.seller_headers, limit=limit), "limit")
    for limit in (1, 200):
        with subtests.test(f"limit={limit}"):
            assert len(ids(client, world.seller_headers, limit=limit)) == 1


def test_every_bad_filter_is_named_at_once(client: TestClient, world: World) -> None:
    r = listing(client, world.seller_headers, limit="many", status="open", respond_by_before="soon")
    assert_invalid(r, "limit")
    assert {e["field"] for e in r.json()["errors"]} == {"limit", "status", "respond_by_before"}


def test_garbage_cursor_is_invalid(client: TestClient, world: World, subtests: pytest.Subtests) -> None:
    new_case(client, world)
    for name, cursor in [
        ("not-base64", "garbage!"),
        ("base64-not-json", base64.urlsafe_b64encode(b"\xff\xfe").decode()),
        ("wrong-shape", forged([1, 2])),
        ("three-items", forged(["2026-09-29T10:00:00+00:00", "cb_x", "x"])),
        ("naive-time", forged(["2026-09-29T10:00:00", "cb_x"])),
        ("not-a-time", forged(["soon", "cb_x"])),
        ("time-past-year-9999-in-utc", forged(["9999-12-31T23:59:59-14:00", "cb_x"])),
        ("nul-in-id", forged(["2026-09-29T10:00:00+00:00", "cb_\x00"])),
        ("lone-surrogate-in-id", forged(["2026-09-29T10:00:00+00:00", "cb_\ud800"])),
        ("too-long", "a" * 201),
    ]:
        with subtests.test(name):
            assert_invalid(listing(client, world.seller_headers, cursor=cursor), "cursor")


# Filters -------------------------------------------------------------------------------------------


def test_status_filter_includes_derived_expiry(
    client: TestClient, world: World, time_machine: TimeMachineFixture, dispatcher: Dispatcher
) -> None:
    open_case = new_case(client, world)
    won = new_case(client, world)
    lost = new_case(client, world)
    accepted = new_case(client, world)
    expiring = new_case(client, world, provider_due_at=z(T0 + timedelta(hours=1)))
    assert client.post(f"/v1/chargebacks/{won}/ruling", json={"outcome": "won"}, headers=PLATFORM).is_success
    assert client.post(
        f"/v1/chargebacks/{lost}/ruling", json={"outcome": "lost"}, headers=PLATFORM
    ).is_success
    assert client.post(f"/v1/chargebacks/{accepted}/accept", headers=world.seller_headers).is_success
    headers = world.seller_headers

    assert ids(client, headers, status="needs_response") == [expiring, open_case]
    assert ids(client, headers, status="expired") == []

    time_machine.move_to(T0 + timedelta(hours=2), tick=False)  # past `expiring`'s deadline, no job yet
    assert ids(client, headers, status="expired") == [expiring]
    assert ids(client, headers, status="needs_response") == [open_case]
    assert ids(client, headers, status="won") == [won]
    assert ids(client, headers, status="lost") == [lost]
    assert ids(client, headers, status="accepted") == [accepted]
    assert ids(client, headers, status="under_review") == []

    dispatcher.run_until_idle()  # the sweep stores it: still listed once
    assert ids(client, headers, status="expired") == [expiring]

    time_machine.move_to(T0_RESPOND_BY + timedelta(seconds=1), tick=False)
    assert ids(client, headers, status="expired") == [expiring, open_case]
    assert ids(client, headers, status="needs_response") == []
    assert_invalid(listing(client, headers, status="open"), "status")


def test_reason_category_filter(client: TestClient, world: World) -> None:
    not_received = new_case(client, world, reason_code="13.1")
    fraud = new_case(client, world, reason_code="10.4")
    fraud_mc = new_case(client, world, reason_code="4837")
    unknown = new_case(client, world, reason_code="ZZ99")
    headers = world.seller_headers

    assert ids(client, headers, reason_category="not_received") == [not_received]
    assert ids(client, headers, reason_category="fraud") == [fraud_mc, fraud]
    assert ids(client, headers, reason_category="general") == [unknown]
    assert ids(client, headers, reason_category="duplicate") == []
    assert_invalid(listing(client, headers, reason_category="nope"), "reason_category")


def test_order_id_filter(client: TestClient, world: World) -> None:
    first = make_case(client, world.order["id"], 1_000)["id"]
    second = make_case(client, world.order["id"], 2_000)["id"]
    elsewhere = new_case(client, world)
    headers = world.seller_headers

    assert ids(client, headers, order_id=world.order["id"]) == [second, first]
    assert elsewhere not in ids(client, headers, order_id=world.order["id"])
    assert ids(client, headers, order_id="ord_00000000000000000000000000") == []
    nul = listing(client, headers, order_id="ord_\x00")  # PostgreSQL cannot compare text with NUL
    assert nul.status_code == 422, nul.text
    assert nul.json()["code"] == "validation_error"


def test_respond_by_before_filter_is_strict(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    soon = new_case(client, world, provider_due_at="2026-09-30T10:00:00Z")
    normal = new_case(client, world)
    time_machine.move_to(datetime(2026, 10, 8, 2, 0, tzinfo=UTC), tick=False)  # Thu 8 Oct: due Tue 13 Oct
    later = new_case(client, world)
    headers = world.seller_headers

    assert ids(client, headers, respond_by_before=z(T0_RESPOND_BY)) == [soon]
    assert ids(client, headers, respond_by_before=z(T0_RESPOND_BY + timedelta(microseconds=1))) == [
        normal,
        soon,
    ]
    assert ids(client, headers, respond_by_before="2026-10-10T00:00:00+08:00") == [normal, soon]
    assert ids(client, headers, respond_by_before="2026-10-14T00:00:00Z") == [later, normal, soon]


def test_sort_by_deadline_lists_soonest_first_and_pages_by_keyset(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    same_day = sorted([new_case(client, world), new_case(client, world)])  # both due Fri 9 Oct: by id
    soon = new_case(client, world, provider_due_at="2026-09-30T10:00:00Z")
    time_machine.move_to(datetime(2026, 10, 8, 2, 0, tzinfo=UTC), tick=False)  # due Tue 13 Oct
    later = new_case(client, world)
    headers = world.seller_headers
    expected = [soon, *same_day, later]

    assert ids(client, headers, sort="respond_by") == expected
    assert ids(client, headers) == [later, soon, *reversed(same_day)]  # newest first stays the default
    assert [i for page in all_pages(client, headers, sort="respond_by", limit=1) for i in page] == expected
    due = z(T0_RESPOND_BY + timedelta(microseconds=1))
    assert ids(client, headers, sort="respond_by", respond_by_before=due) == [soon, *same_day]
    assert ids(client, PLATFORM, sort="respond_by") == expected

    # A cursor belongs to its sort; the sort is no partner of updated_since's own order.
    cursor = listing(client, headers, sort="respond_by", limit=1).json()["next_cursor"]
    mismatch = listing(client, headers, cursor=cursor, limit=1)
    assert mismatch.status_code == 422, mismatch.text
    assert mismatch.json()["code"] == "cursor_mismatch"
    assert_invalid(listing(client, headers, sort="respond_by", updated_since=z(T0)), "sort")
    assert_invalid(listing(client, headers, sort="deadline"), "sort")


def test_received_range_filters_by_when_the_notice_arrived(client: TestClient, world: World) -> None:
    early = new_case(client, world, received_at="2026-09-27T08:00:00Z")
    middle = new_case(client, world, received_at="2026-09-28T08:00:00Z")
    late = new_case(client, world, received_at="2026-09-29T08:00:00Z")
    headers = world.seller_headers
    assert ids(client, headers, received_since="2026-09-28T08:00:00Z") == [late, middle]
    assert ids(client, headers, received_before="2026-09-28T08:00:00Z") == [early]
    # 2026-09-28T00:00+08:00 is 27 Sep, 16:00 UTC: after the early notice.
    both = {"received_since": "2026-09-28T00:00:00+08:00", "received_before": "2026-09-29T08:00:00Z"}
    assert ids(client, headers, **both) == [middle]


def test_bad_timestamp_filters_are_invalid(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    new_case(client, world)
    for field in ("respond_by_before", "received_since", "received_before", "updated_since"):
        for value in (
            "2026-10-09T12:00:00",
            "2026-13-01T00:00:00Z",
            "tomorrow",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
        ):
            with subtests.test(f"{field}={value}"):
                assert_invalid(listing(client, world.seller_headers, **{field: value}), field)


# Reconciling with updated_since --------------------------------------------------------------------


def test_updated_since_lists_changes_oldest_first(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    old = new_case(client, world)
    time_machine.shift(timedelta(minutes=1))
    middle = new_case(client, world)
    time_machine.shift(timedelta(minutes=1))
    newest = new_case(client, world)
    time_machine.move_to(T0 + timedelta(minutes=10), tick=False)
    assert client.post(f"/v1/chargebacks/{old}/ruling", json={"outcome": "won"}, headers=PLATFORM).is_success
    headers = world.seller_headers
    time_machine.shift(SETTLED)

    assert ids(client, headers, updated_since=z(T0)) == [middle, newest, old]
    assert ids(client, headers, updated_since=z(T0 + timedelta(minutes=1))) == [middle, newest, old]
    assert ids(client, headers, updated_since=z(T0 + timedelta(minutes=5))) == [old]
    assert ids(client, headers, updated_since=z(T0 + timedelta(minutes=10))) == [old]  # at counts
    assert ids(client, headers, updated_since=z(T0 + timedelta(minutes=10, seconds=1))) == []
    # Later than now: nothing can have changed there, and an empty page would hide the client's bug.
    assert_invalid(listing(client, headers, updated_since=z(T0 + timedelta(minutes=11))), "updated_since")
    assert all_pages(client, headers, updated_since=z(T0), limit=2) == [[middle, newest], [old]]
    # Without updated_since the list stays newest-created first.
    assert ids(client, headers) == [newest, middle, old]


def test_updated_since_sees_the_expiry_sweep(
    client: TestClient, world: World, time_machine: TimeMachineFixture, dispatcher: Dispatcher
) -> None:
    case = new_case(client, world)
    sweep_at = T0_RESPOND_BY + timedelta(hours=1)
    time_machine.move_to(sweep_at, tick=False)
    dispatcher.run_until_idle()
    time_machine.shift(SETTLED)

    r = listing(client, world.seller_headers, updated_since=z(sweep_at))

    assert r.status_code == 200
    assert [(c["id"], c["status"], c["updated_at"]) for c in r.json()["data"]] == [
        (case, "expired", z(sweep_at))
    ]


def test_updated_since_pages_through_simultaneous_changes_once(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    created = [new_case(client, world) for _ in range(5)]
    time_machine.move_to(T0 + timedelta(minutes=5), tick=False)
    for case_id in created[:3]:
        assert client.post(
            f"/v1/chargebacks/{case_id}/ruling", json={"outcome": "lost"}, headers=PLATFORM
        ).is_success
    time_machine.shift(SETTLED)

    pages = all_pages(client, world.seller_headers, updated_since=z(T0), limit=2)

    flat = [i for p in pages for i in p]
    assert sorted(flat) == sorted(created)
    assert len(flat) == len(set(flat))
    assert flat[-3:] == created[:3]


def test_list_needs_a_credential(client: TestClient, world: World) -> None:
    r = client.get("/v1/chargebacks")
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credential"


def test_platform_lists_every_seller_and_filters_by_seller(client: TestClient, world: World) -> None:
    mine = new_case(client, world)
    other_seller = client.post(
        "/v1/sellers", json={"name": "Other", "email": "ops@other.example", "country": "FR"}, headers=PLATFORM
    ).json()
    other_order = make_order(client, other_seller["id"])
    theirs = make_case(client, other_order["id"])["id"]

    assert ids(client, PLATFORM) == [theirs, mine]
    assert ids(client, PLATFORM, seller_id=world.seller["id"]) == [mine]
    assert ids(client, PLATFORM, seller_id=other_seller["id"]) == [theirs]
    assert ids(client, world.seller_headers) == [mine]


def test_updated_since_holds_back_changes_younger_than_the_lag(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    case = new_case(client, world)
    headers = world.seller_headers

    time_machine.shift(SETTLED - timedelta(microseconds=1))
    assert ids(client, headers, updated_since=z(T0)) == []
    time_machine.shift(timedelta(microseconds=1))
    assert ids(client, headers, updated_since=z(T0)) == [case]


# The message centre reconciles the same way ---------------------------------------------------------


def test_messages_updated_since_lists_new_and_read_messages_oldest_change_first(
    client: TestClient, world: World, time_machine: TimeMachineFixture
) -> None:
    headers = world.seller_headers
    new_case(client, world)
    time_machine.shift(timedelta(minutes=1))
    new_case(client, world)
    first, second = reversed(client.get("/v1/messages", headers=headers).json()["data"])
    time_machine.shift(timedelta(minutes=1))
    assert client.post(f"/v1/messages/{first['id']}/read", headers=headers).status_code == 200
    time_machine.shift(timedelta(seconds=10))  # past the reconcile lag

    def changed(**params: str) -> list[str]:
        r = client.get("/v1/messages", params={"updated_since": z(T0), **params}, headers=headers)
        assert r.status_code == 200, r.text
        return [m["id"] for m in r.json()["data"]]

    assert changed() == [second["id"], first["id"]]  # the read moved the first one to the end
    page = client.get("/v1/messages", params={"updated_since": z(T0), "limit": "1"}, headers=headers).json()
    rest = client.get(
        "/v1/messages",
        params={"updated_since": z(T0), "limit": "1", "cursor": page["next_cursor"]},
        headers=headers,
    ).json()
    assert [m["id"] for m in page["data"] + rest["data"]] == [second["id"], first["id"]]
    assert changed(unread="true") == [second["id"]]
    later = z(T0 + timedelta(minutes=1, seconds=30))
    r = client.get("/v1/messages", params={"updated_since": later}, headers=headers)
    assert [m["id"] for m in r.json()["data"]] == [first["id"]]
    bad = client.get("/v1/messages", params={"updated_since": "yesterday"}, headers=headers)
    assert bad.status_code == 422
