"""Binding Alipay accounts to buyer accounts: bind, list, unbind; one active binding per Alipay
account whatever the race; only a masked reference is kept in clear; refusals that tell nobody who
holds what; rate limit; tenancy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlmodel import Session, col

from app.models.account import Account
from app.models.buyer import PaymentAccount
from app.worker import Dispatcher
from tests.api.conftest import PLATFORM, Mailbox, SmsGateway, assert_problem

# The clock frozen (T0) and the SMS receiver in the settings: test_accounts' fixtures.
from tests.api.test_accounts import _frozen_clock, bearer, login, make_account, settings  # noqa: F401
from tests.api.test_concurrency import engine_of, run_together

PATH = "/v1/me/payment-accounts"

Buyer = Callable[[str], dict[str, str]]


@pytest.fixture
def buyer(client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway) -> Buyer:
    """Makes an active account with this email, logs it in, and returns its bearer header."""

    def make(email: str) -> dict[str, str]:
        make_account(client, dispatcher, mailbox, sms_gateway, email=email)
        r = login(client, email)
        assert r.status_code == 200, r.text
        return bearer(r.json()["access_token"])

    return make


def bind(client: TestClient, headers: dict[str, str], ref: str, **extra: str) -> Any:
    return client.post(PATH, json={"provider": "alipay", "account_ref": ref}, headers=headers | extra)


def comparable(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "request_id"}


def test_bind_list_unbind_keeps_only_the_masked_ref(client: TestClient, app: FastAPI, buyer: Buyer) -> None:
    mia = buyer("mia@example.com")
    r = bind(client, mia, "  Mia.Schmidt@Example.COM ")
    assert r.status_code == 201, r.text
    email = r.json()
    assert email["id"].startswith("pay_")
    assert r.headers["location"] == f"{PATH}/{email['id']}"
    assert (email["provider"], email["ref_masked"]) == ("alipay", "mi***@example.com")
    assert set(email) == {"id", "provider", "ref_masked", "created_at", "updated_at"}
    r = bind(client, mia, "+86 138-0013-8000")
    assert r.status_code == 201, r.text
    phone = r.json()
    assert phone["ref_masked"] == "138****8000"

    r = client.get(PATH, headers=mia)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [phone, email], "next_cursor": None}  # newest first

    with Session(engine_of(app)) as s:
        rows = s.execute(select(PaymentAccount)).scalars().all()
        stored = " ".join(str(v) for row in rows for v in row.model_dump().values())
    assert "mia.schmidt" not in stored.lower()
    assert "13800138000" not in stored

    assert client.get(f"{PATH}/{email['id']}", headers=mia).json() == email  # its Location
    leo = buyer("leo@example.com")
    assert_problem(client.get(f"{PATH}/{email['id']}", headers=leo), 404, "not_found")
    r = client.delete(f"{PATH}/{email['id']}", headers=mia)
    assert r.status_code == 204, r.text
    assert client.get(PATH, headers=mia).json()["data"] == [phone]
    assert_problem(client.get(f"{PATH}/{email['id']}", headers=mia), 404, "not_found")
    assert_problem(client.delete(f"{PATH}/{email['id']}", headers=mia), 404, "not_found")


FULLWIDTH_MOBILE = "13800138000".translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


@pytest.mark.parametrize(
    "ref",
    ["not an account", "mia@", "12345678901", "+49 1512 3456789", "138001380001", "a@b", FULLWIDTH_MOBILE],
)
def test_ref_neither_email_nor_mainland_mobile_is_422(client: TestClient, buyer: Buyer, ref: str) -> None:
    mia = buyer("mia@example.com")
    assert_problem(bind(client, mia, ref), 422, "invalid_account_ref", "account_ref")


def test_unknown_provider_or_field_is_422(client: TestClient, buyer: Buyer) -> None:
    mia = buyer("mia@example.com")
    body = {"provider": "paypal", "account_ref": "13800138000"}
    assert_problem(client.post(PATH, json=body, headers=mia), 422, "validation_error", "provider")
    body = {"provider": "alipay", "account_ref": "13800138000", "account_id": "acct_x"}
    assert_problem(client.post(PATH, json=body, headers=mia), 422, "validation_error", "account_id")


def test_ref_bound_elsewhere_is_409_reading_the_same_whoever_holds_it(
    client: TestClient, buyer: Buyer
) -> None:
    mia, leo, ada = buyer("mia@example.com"), buyer("leo@example.com"), buyer("ada@example.com")
    held = bind(client, mia, "13800138000")
    assert held.status_code == 201, held.text

    first = assert_problem(bind(client, leo, "+8613800138000"), 409, "payment_account_taken")
    assert "138" not in first["detail"]
    assert "mia" not in first["detail"]
    # The holder goes, another account binds it: the refusal must not tell the two apart.
    assert client.delete(f"{PATH}/{held.json()['id']}", headers=mia).status_code == 204
    assert bind(client, ada, "138 0013 8000").status_code == 201
    again = assert_problem(bind(client, leo, "13800138000"), 409, "payment_account_taken")
    assert comparable(again) == comparable(first)
    # Its own holder binding it again reads the same too (a retry should use an Idempotency-Key).
    own = assert_problem(bind(client, ada, "13800138000"), 409, "payment_account_taken")
    assert comparable(own) == comparable(first)
    assert [p["ref_masked"] for p in client.get(PATH, headers=leo).json()["data"]] == []


def test_unbinding_frees_the_ref_for_another_account(client: TestClient, buyer: Buyer) -> None:
    mia, leo = buyer("mia@example.com"), buyer("leo@example.com")
    held = bind(client, mia, "shop@example.com").json()
    assert client.delete(f"{PATH}/{held['id']}", headers=mia).status_code == 204
    r = bind(client, leo, "SHOP@example.com")
    assert r.status_code == 201, r.text
    assert client.get(PATH, headers=mia).json()["data"] == []
    assert [p["id"] for p in client.get(PATH, headers=leo).json()["data"]] == [r.json()["id"]]


def test_ref_held_by_a_deactivated_account_can_be_bound(
    client: TestClient, app: FastAPI, buyer: Buyer
) -> None:
    mia, leo = buyer("mia@example.com"), buyer("leo@example.com")
    held = bind(client, mia, "13800138000").json()
    with Session(engine_of(app)) as s:
        holder = s.execute(select(PaymentAccount).where(col(PaymentAccount.id) == held["id"])).scalar_one()
        s.execute(update(Account).where(col(Account.id) == holder.account_id).values(status="deactivated"))
        s.commit()
    r = bind(client, leo, "13800138000")
    assert r.status_code == 201, r.text
    with Session(engine_of(app)) as s:
        active = s.execute(
            select(col(PaymentAccount.id)).where(col(PaymentAccount.unbound_at).is_(None))
        ).scalars()
        assert list(active) == [r.json()["id"]]


def test_concurrent_binds_of_one_ref_bind_it_once(client: TestClient, app: FastAPI, buyer: Buyer) -> None:
    accounts = [buyer(f"buyer{i}@example.com") for i in range(4)]

    responses = run_together(4, lambda i: bind(client, accounts[i], "13800138000"))

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"payment_account_taken"}
    with Session(engine_of(app)) as s:
        rows = s.execute(select(PaymentAccount)).scalars().all()
    assert len(rows) == 1
    assert rows[0].unbound_at is None


def test_another_accounts_payment_account_is_404(client: TestClient, buyer: Buyer) -> None:
    mia, leo = buyer("mia@example.com"), buyer("leo@example.com")
    held = bind(client, mia, "13800138000").json()
    assert_problem(client.delete(f"{PATH}/{held['id']}", headers=leo), 404, "not_found")
    assert_problem(client.delete(f"{PATH}/not-an-id", headers=leo), 404, "not_found")
    assert client.get(PATH, headers=leo).json()["data"] == []
    assert client.get(PATH, headers=mia).json()["data"] == [held]


def test_binds_per_account_are_rate_limited(client: TestClient, buyer: Buyer) -> None:
    mia = buyer("mia@example.com")
    for i in range(10):
        assert bind(client, mia, f"1380013800{i}").status_code == 201
    r = bind(client, mia, "13900139000")
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0


def test_retry_with_the_same_idempotency_key_replays_the_binding(client: TestClient, buyer: Buyer) -> None:
    mia = buyer("mia@example.com")
    first = bind(client, mia, "13800138000", **{"Idempotency-Key": "bind-1"})
    assert first.status_code == 201, first.text
    again = bind(
        client, mia, "138 0013 8000", **{"Idempotency-Key": "bind-1"}
    )  # the same account, spelled anew
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = bind(client, mia, "13900139000", **{"Idempotency-Key": "bind-1"})
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(client.get(PATH, headers=mia).json()["data"]) == 1


def test_payment_accounts_need_an_account_token(client: TestClient) -> None:
    assert_problem(bind(client, PLATFORM, "13800138000"), 403, "forbidden")
    assert_problem(client.get(PATH), 401, "invalid_credential")
