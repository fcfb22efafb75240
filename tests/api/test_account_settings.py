"""Recovery, settings, deactivation and the seller's owner account, through the HTTP API with real
SMTP and SMS receivers on loopback."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.types import Message
from time_machine import TimeMachineFixture

from app.models.outbox import OutboxMessage
from app.worker import Dispatcher
from tests.api.conftest import PLATFORM, Mailbox, SmsGateway, assert_problem, make_case, make_key, make_order
from tests.api.test_accounts import (  # noqa: F401 (the module's clock and settings fixtures apply here too)
    E164,
    EMAIL,
    PASSWORD,
    T0,
    _frozen_clock,
    bearer,
    login,
    make_account,
    settings,
)
from tests.api.test_chargebacks import body_of

NEW_PASSWORD = "a brand new long passphrase"


def last_code(dispatcher: Dispatcher, mailbox: Mailbox, sms: SmsGateway, to: str) -> str:
    dispatcher.run_until_idle()
    if to.startswith("+"):
        texts = [b["text"] for b in sms.bodies if b["to"] == to]
    else:
        texts = [body_of(m) for m in mailbox.messages if m["X-Envelope-To"] == to]
    found = re.findall(r"\b(\d{6})\b", texts[-1])
    return str(found[-1])


def subjects(dispatcher: Dispatcher, mailbox: Mailbox, to: str) -> list[str]:
    dispatcher.run_until_idle()
    return [str(m["Subject"]) for m in mailbox.messages if m["X-Envelope-To"] == to]


@pytest.fixture
def account(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> dict[str, Any]:
    return make_account(client, dispatcher, mailbox, sms_gateway)


# Recovery ------------------------------------------------------------------------------------------


def test_reset_answers_alike_for_any_identifier(client: TestClient, account: dict[str, Any]) -> None:
    known = client.post("/v1/auth/password-reset", json={"identifier": EMAIL, "channel": "email"})
    unknown = client.post(
        "/v1/auth/password-reset", json={"identifier": "nobody@example.com", "channel": "email"}
    )
    phone = client.post("/v1/auth/password-reset", json={"identifier": "+4915100000000", "channel": "phone"})
    assert known.status_code == unknown.status_code == phone.status_code == 202
    assert known.json() == unknown.json() == phone.json()


def test_reset_answers_before_it_looks_the_identifier_up(
    app: FastAPI, client: TestClient, account: dict[str, Any]
) -> None:
    """Its time cannot tell an identifier with an account from one without: the answer has gone
    before the lookup, and the codes are queued after it."""

    def resets_queued() -> int:
        with Session(app.state.engine) as session:
            query = select(func.count()).where(
                col(OutboxMessage.recipient) == EMAIL,
                col(OutboxMessage.subject) == "Reset your Chargeback Desk password",
            )
            return int(session.execute(query).scalar_one())

    queued_when_answered: list[int] = []
    answer: list[Message] = []
    body = json.dumps({"identifier": EMAIL, "channel": "email"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/auth/password-reset",
        "raw_path": b"/v1/auth/password-reset",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("203.0.113.9", 40000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                queued_when_answered.append(await anyio.to_thread.run_sync(resets_queued))

        await app(scope, receive, send)

    anyio.run(call)
    assert answer[0]["status"] == 202
    assert queued_when_answered == [0]
    assert resets_queued() == 1


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_reset_sets_a_new_password_and_ends_every_session(
    client: TestClient,
    account: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    channel: str,
) -> None:
    session_before = login(client).json()
    r = client.post("/v1/auth/password-reset", json={"identifier": account["member_id"], "channel": channel})
    assert r.status_code == 202
    code = last_code(dispatcher, mailbox, sms_gateway, EMAIL if channel == "email" else E164)
    weak = {"identifier": EMAIL, "code": code, "new_password": "short"}
    assert_problem(
        client.post("/v1/auth/password-reset/confirm", json=weak), 422, "weak_password", "new_password"
    )
    body = {"identifier": EMAIL, "code": code, "new_password": NEW_PASSWORD}
    r = client.post("/v1/auth/password-reset/confirm", json=body)
    assert r.status_code == 200, r.text
    assert "access_token" not in r.json()  # a reset does not log anyone in
    assert_problem(
        client.get("/v1/me", headers=bearer(session_before["access_token"])), 401, "invalid_credential"
    )
    assert_problem(login(client), 401, "invalid_credentials")
    assert login(client, EMAIL, NEW_PASSWORD).status_code == 200
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")  # used
    assert "Your Chargeback Desk password was changed" in subjects(dispatcher, mailbox, EMAIL)


def test_new_reset_codes_do_not_buy_new_guesses(
    client: TestClient,
    account: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    tried = 0
    for round_ in range(3):
        time_machine.move_to(T0 + timedelta(minutes=2 * round_), tick=False)
        client.post("/v1/auth/password-reset", json={"identifier": EMAIL, "channel": "email"})
        code = last_code(dispatcher, mailbox, sms_gateway, EMAIL)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            body = {"identifier": EMAIL, "code": wrong, "new_password": NEW_PASSWORD}
            r = client.post("/v1/auth/password-reset/confirm", json=body)
            tried += 1
            if tried <= 10:
                assert_problem(r, 422, "invalid_code")
            else:
                assert_problem(r, 429, "rate_limited")
    # The right code waits too: the count is of tries, not of wrong ones.
    body = {"identifier": EMAIL, "code": code, "new_password": NEW_PASSWORD}
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 429, "rate_limited")


def test_reset_code_expires_and_wrong_codes_are_counted(
    client: TestClient,
    account: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    client.post("/v1/auth/password-reset", json={"identifier": EMAIL, "channel": "email"})
    code = last_code(dispatcher, mailbox, sms_gateway, EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = client.post(
            "/v1/auth/password-reset/confirm",
            json={"identifier": EMAIL, "code": wrong, "new_password": NEW_PASSWORD},
        )
        assert_problem(r, 422, "invalid_code")
    body = {"identifier": EMAIL, "code": code, "new_password": NEW_PASSWORD}
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")  # voided
    time_machine.move_to(T0 + timedelta(minutes=2), tick=False)
    client.post("/v1/auth/password-reset", json={"identifier": EMAIL, "channel": "email"})
    fresh = last_code(dispatcher, mailbox, sms_gateway, EMAIL)
    time_machine.move_to(T0 + timedelta(minutes=12, seconds=1), tick=False)
    body = {"identifier": EMAIL, "code": fresh, "new_password": NEW_PASSWORD}
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 422, "invalid_code")  # expired


def test_reset_of_a_shared_email_names_each_account(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    first = make_account(client, dispatcher, mailbox, sms_gateway)
    second = make_account(client, dispatcher, mailbox, sms_gateway, password="another fine long passphrase")
    client.post("/v1/auth/password-reset", json={"identifier": EMAIL, "channel": "email"})
    dispatcher.run_until_idle()
    mail = [m for m in mailbox.messages if "Reset" in str(m["Subject"])][-1]
    text = body_of(mail)
    codes = dict(re.findall(r"member id (M\d+): (\d{6})", text))
    assert set(codes) == {first["member_id"], second["member_id"]}
    body = {"identifier": EMAIL, "code": codes[second["member_id"]], "new_password": NEW_PASSWORD}
    assert client.post("/v1/auth/password-reset/confirm", json=body).status_code == 200
    token = login(client, second["member_id"], NEW_PASSWORD).json()["access_token"]
    assert client.get("/v1/me", headers=bearer(token)).json()["id"] == second["id"]
    assert login(client, first["member_id"], PASSWORD).status_code == 200


# Settings ------------------------------------------------------------------------------------------


def test_profile_update_refuses_privileged_and_unknown_fields(
    client: TestClient, account: dict[str, Any]
) -> None:
    token = login(client).json()["access_token"]
    r = client.patch("/v1/me", json={"username": "mia"}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "mia"
    for field, value in (
        ("status", "active"),
        ("email", "x@example.com"),
        ("seller_id", "sel_x"),
        ("colour", "red"),
    ):
        assert_problem(
            client.patch("/v1/me", json={field: value}, headers=bearer(token)), 422, "validation_error", field
        )


def test_the_account_carries_its_version_and_a_profile_change_honours_if_match(
    client: TestClient, account: dict[str, Any]
) -> None:
    headers = bearer(login(client).json()["access_token"])
    me = client.get("/v1/me", headers=headers)
    version = me.json()["version"]
    assert me.headers["etag"] == f'"{version}"'
    stale = headers | {"If-Match": f'"{version + 1}"'}
    assert_problem(
        client.patch("/v1/me", json={"username": "mia"}, headers=stale), 412, "precondition_failed"
    )
    assert client.get("/v1/me", headers=headers).json()["username"] is None
    r = client.patch("/v1/me", json={"username": "mia"}, headers=headers | {"If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.headers["etag"]) == (version + 1, f'"{version + 1}"')


def test_email_change_waits_for_the_code_and_tells_the_old_address(
    client: TestClient,
    account: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
) -> None:
    token = login(client).json()["access_token"]
    new = "mia@new-home.example"
    r = client.post("/v1/me/email-change", json={"new_email": new}, headers=bearer(token))
    assert r.status_code == 202, r.text
    assert client.get("/v1/me", headers=bearer(token)).json()["email"] == EMAIL  # not yet
    assert "Your email address is about to change" in subjects(dispatcher, mailbox, EMAIL)
    code = last_code(dispatcher, mailbox, sms_gateway, new)
    wrong = "000000" if code != "000000" else "111111"
    r = client.post("/v1/me/email-change/confirm", json={"code": wrong}, headers=bearer(token))
    assert_problem(r, 422, "invalid_code")
    r = client.post("/v1/me/email-change/confirm", json={"code": code}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["email"] == new
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'
    assert "Your email address was changed" in subjects(dispatcher, mailbox, EMAIL)
    assert login(client, new).status_code == 200
    assert_problem(login(client, EMAIL), 401, "invalid_credentials")
    bad = client.post("/v1/me/email-change", json={"new_email": "me@taobao.example"}, headers=bearer(token))
    assert_problem(bad, 422, "email_not_allowed", "new_email")
    long = client.post(
        "/v1/me/email-change", json={"new_email": "m" * 64 + "@example.com"}, headers=bearer(token)
    )
    assert_problem(long, 422, "invalid_email", "new_email")


def test_phone_change_confirms_with_the_code_sent_to_the_new_number(
    client: TestClient,
    account: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
) -> None:
    token = login(client).json()["access_token"]
    r = client.post("/v1/me/phone-change", json={"new_phone": "01512 7654321"}, headers=bearer(token))
    assert r.status_code == 202, r.text
    code = last_code(dispatcher, mailbox, sms_gateway, "+4915127654321")
    r = client.post("/v1/me/phone-change/confirm", json={"code": code}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+4915127654321"
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'
    assert "Your phone number was changed" in subjects(dispatcher, mailbox, EMAIL)
    # The number being replaced was told when the change was asked for and when it was made.
    to_old = [b["text"] for b in sms_gateway.bodies if b["to"] == E164]
    assert [("replace this number" in t, "was replaced" in t) for t in to_old[-2:]] == [
        (True, False),
        (False, True),
    ]
    assert all(code not in t for t in to_old)
    bad = client.post("/v1/me/phone-change", json={"new_phone": "123"}, headers=bearer(token))
    assert_problem(bad, 422, "invalid_phone")


def test_password_change_needs_the_current_password_and_ends_other_sessions(
    client: TestClient, account: dict[str, Any]
) -> None:
    mine, other = login(client).json(), login(client).json()
    wrong = {"current_password": "not the password at all", "new_password": NEW_PASSWORD}
    assert_problem(
        client.post("/v1/me/password", json=wrong, headers=bearer(mine["access_token"])),
        422,
        "invalid_password",
    )
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    r = client.post("/v1/me/password", json=right, headers=bearer(mine["access_token"]))
    assert r.status_code == 200, r.text
    assert client.get("/v1/me", headers=bearer(mine["access_token"])).status_code == 200
    assert_problem(client.get("/v1/me", headers=bearer(other["access_token"])), 401, "invalid_credential")
    assert login(client, EMAIL, NEW_PASSWORD).status_code == 200


def test_deactivation_needs_a_fresh_code_and_ends_everything(
    client: TestClient,
    account: dict[str, Any],
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
) -> None:
    pair = login(client).json()
    headers = bearer(pair["access_token"])
    r = client.post("/v1/me/deactivate", json={"reason": "leaving", "code": "123456"}, headers=headers)
    assert_problem(r, 422, "invalid_code")
    r = client.post(
        "/v1/me/verification-codes", json={"purpose": "deactivate", "channel": "phone"}, headers=headers
    )
    assert r.status_code == 202, r.text
    code = last_code(dispatcher, mailbox, sms_gateway, E164)
    r = client.post(
        "/v1/me/deactivate", json={"reason": "I no longer shop here.", "code": code}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "deactivated"
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'
    assert_problem(client.get("/v1/me", headers=headers), 401, "invalid_credential")
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "invalid_credential",
    )
    assert_problem(login(client), 401, "invalid_credentials")  # as if it were not there
    assert "Your Chargeback Desk account was deactivated" in subjects(dispatcher, mailbox, EMAIL)


# The seller's owner account --------------------------------------------------------------------------


def test_seller_owner_account_logs_in_and_acts_as_the_seller(client: TestClient) -> None:
    body = {
        "name": "Owner Shop",
        "email": "owner@owner-shop.example",
        "country": "DE",
        "owner_password": PASSWORD,
    }
    r = client.post("/v1/sellers", json=body, headers=PLATFORM)
    assert r.status_code == 201, r.text
    seller = r.json()
    assert seller["account_id"].startswith("acct_")
    pair = login(client, "owner@owner-shop.example").json()
    headers = bearer(pair["access_token"])
    me = client.get("/v1/me", headers=headers).json()
    assert (me["id"], me["seller_id"], me["status"]) == (seller["account_id"], seller["id"], "active")
    order = make_order(client, seller["id"])
    case = make_case(client, order["id"])
    assert client.get(f"/v1/chargebacks/{case['id']}", headers=headers).status_code == 200
    assert client.get("/v1/chargebacks", headers=headers).json()["data"][0]["id"] == case["id"]
    other = client.post(
        "/v1/sellers", json={"name": "Other", "email": "o@other.example", "country": "DE"}, headers=PLATFORM
    )
    theirs = make_case(client, make_order(client, other.json()["id"])["id"])
    assert_problem(client.get(f"/v1/chargebacks/{theirs['id']}", headers=headers), 404, "not_found")
    assert make_key(client, seller["id"])  # API keys keep working beside the owner's token
    # The owner account has no phone: a code by SMS could never arrive, so it is refused by name.
    r = client.post(
        "/v1/me/verification-codes", json={"purpose": "deactivate", "channel": "phone"}, headers=headers
    )
    assert_problem(r, 422, "validation_error", "channel")
    r = client.post(
        "/v1/me/verification-codes", json={"purpose": "deactivate", "channel": "email"}, headers=headers
    )
    assert r.status_code == 202, r.text


def test_seller_owner_password_follows_the_policy_and_stays_out_of_idempotency(client: TestClient) -> None:
    weak = {"name": "Weak Shop", "email": "weak@shop.example", "country": "DE", "owner_password": "shop"}
    assert_problem(
        client.post("/v1/sellers", json=weak, headers=PLATFORM), 422, "weak_password", "owner_password"
    )
    body = {"name": "Key Shop", "email": "key@shop.example", "country": "DE", "owner_password": PASSWORD}
    headers = PLATFORM | {"Idempotency-Key": "seller-with-owner"}
    first = client.post("/v1/sellers", json=body, headers=headers)
    again = client.post("/v1/sellers", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    changed = client.post("/v1/sellers", json=body | {"owner_password": NEW_PASSWORD}, headers=headers)
    assert_problem(changed, 422, "idempotency_key_reused")


@pytest.mark.parametrize(
    "email",
    [
        "owner@taobao.com",
        "\uff21\uff2c\uff29\uff22\uff21\uff22\uff21@shop.example",  # full-width ALIBABA
        "ali.express@shop.example",
    ],
)
def test_a_seller_owner_account_follows_the_buyer_email_rules(client: TestClient, email: str) -> None:
    body = {"name": "Brand Shop", "email": email, "country": "DE", "owner_password": PASSWORD}
    assert_problem(client.post("/v1/sellers", json=body, headers=PLATFORM), 422, "email_not_allowed", "email")
    # Nothing was created: without an owner account, the platform may still onboard the seller.
    plain = client.post(
        "/v1/sellers", json={k: v for k, v in body.items() if k != "owner_password"}, headers=PLATFORM
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["account_id"] is None


def test_a_login_older_than_five_minutes_needs_the_password_to_change_contacts_or_bindings(
    client: TestClient, account: dict[str, Any], time_machine: TimeMachineFixture
) -> None:
    headers = bearer(login(client).json()["access_token"])
    time_machine.move_to(T0 + timedelta(minutes=5, seconds=1), tick=False)
    changes = [
        ("PATCH", "/v1/me", {"username": "mia"}),
        ("POST", "/v1/me/email-change", {"new_email": "mia@new-home.example"}),
        ("POST", "/v1/me/phone-change", {"new_phone": "+49 1512 7654321"}),
        ("POST", "/v1/me/payment-accounts", {"provider": "alipay", "account_ref": "mia.pay@example.com"}),
    ]
    for method, url, body in changes:
        r = client.request(method, url, json=body, headers=headers)
        assert_problem(r, 403, "reauthentication_required")
        wrong = client.request(
            method, url, json=body | {"current_password": "not the password at all"}, headers=headers
        )
        assert_problem(wrong, 422, "invalid_password", "current_password")
        right = client.request(method, url, json=body | {"current_password": PASSWORD}, headers=headers)
        assert right.status_code in (200, 201, 202), right.text
    assert client.get("/v1/me", headers=headers).json()["username"] == "mia"
    # A fresh login needs nothing more.
    fresh = bearer(login(client).json()["access_token"])
    assert client.patch("/v1/me", json={"username": "mia2"}, headers=fresh).status_code == 200


def test_the_current_password_cannot_be_guessed_through_the_settings(
    client: TestClient, account: dict[str, Any]
) -> None:
    headers = bearer(login(client).json()["access_token"])
    body = {"current_password": "a wrong guess of the password", "new_password": NEW_PASSWORD}
    answers = [client.post("/v1/me/password", json=body, headers=headers) for _ in range(11)]
    assert [r.status_code for r in answers[:10]] == [422] * 10
    assert_problem(answers[10], 429, "rate_limited")
    assert int(answers[10].headers["retry-after"]) > 0
    right = client.post("/v1/me/password", json=body | {"current_password": PASSWORD}, headers=headers)
    assert_problem(right, 429, "rate_limited")  # still counted: a right guess does not slip through


def test_a_login_lets_the_holder_check_the_password_again_after_a_stolen_sessions_guesses(
    client: TestClient, account: dict[str, Any]
) -> None:
    stolen = bearer(login(client).json()["access_token"])
    body = {"current_password": "a wrong guess of the password", "new_password": NEW_PASSWORD}
    for _ in range(11):
        client.post("/v1/me/password", json=body, headers=stolen)
    assert_problem(client.post("/v1/me/password", json=body, headers=stolen), 429, "rate_limited")
    # The holder logs in (the password proved) and changes it; the other sessions end.
    holder = bearer(login(client).json()["access_token"])
    right = client.post("/v1/me/password", json=body | {"current_password": PASSWORD}, headers=holder)
    assert right.status_code == 200, right.text
    assert_problem(client.get("/v1/me", headers=stolen), 401, "invalid_credential")
