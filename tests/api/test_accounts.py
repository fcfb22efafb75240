"""Buyer accounts through the HTTP API: registration with an email code and an SMS code (delivered by
the dispatcher to a real SMTP server and a real SMS receiver on loopback), completion, activation,
login by email, phone or member id, refresh rotation and reuse, logout, throttling; and no answer
that tells whether an address already has an account.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import extract_parameters
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session
from time_machine import TimeMachineFixture

from app.core.config import Settings
from app.models.account import Account, Registration
from app.models.outbox import OutboxMessage
from app.security.passwords import PROFILES, PasswordHasher
from app.worker import REDACTED, Dispatcher
from tests.api.conftest import PLATFORM, Mailbox, SmsGateway, assert_problem
from tests.api.test_chargebacks import body_of
from tests.api.test_concurrency import run_together

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
EMAIL = "mia.schmidt@example.com"
PHONE = "+49 1512 3456789"
E164 = "+4915123456789"


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def settings(settings: Settings, sms_gateway: SmsGateway) -> Settings:
    return settings.model_copy(update={"sms_gateway_url": sms_gateway.url})


def codes(dispatcher: Dispatcher, mailbox: Mailbox, sms: SmsGateway, email: str = EMAIL) -> tuple[str, str]:
    """The newest email code sent to ``email`` and the newest SMS code, as delivered."""
    dispatcher.run_until_idle()
    mails = [m for m in mailbox.messages if m["X-Envelope-To"] == email and "code" in m["Subject"]]
    email_code = re.findall(r"\b(\d{6})\b", body_of(mails[-1]))[0]
    phone_code = re.findall(r"\b(\d{6})\b", sms.bodies[-1]["text"])[0]
    return email_code, phone_code


def register(client: TestClient, **overrides: Any) -> Any:
    body = {"country": "DE", "email": EMAIL, "phone": PHONE, "password": PASSWORD} | overrides
    return client.post("/v1/registrations", json=body)


def activation_token(dispatcher: Dispatcher, mailbox: Mailbox, email: str = EMAIL) -> str:
    dispatcher.run_until_idle()
    [mail] = [m for m in mailbox.messages if m["X-Envelope-To"] == email and "Activate" in m["Subject"]][-1:]
    link = re.search(r"https?://\S+/activate#token=(\S+)", body_of(mail))
    assert link is not None
    return link.group(1)


def make_account(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms: SmsGateway,
    activate: bool = True,
    **over: Any,
) -> dict[str, Any]:
    email = over.get("email", EMAIL)
    r = register(client, **over)
    assert r.status_code == 201, r.text
    reg = r.json()
    email_code, phone_code = codes(dispatcher, mailbox, sms, email)
    r = client.post(
        f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": phone_code}
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/v1/registrations/{reg['id']}/complete", json={"accept_terms": True, "terms_version": "2026-11"}
    )
    assert r.status_code == 201, r.text
    account: dict[str, Any] = r.json()
    if activate:
        r = client.post("/v1/accounts/activate", json={"token": activation_token(dispatcher, mailbox, email)})
        assert r.status_code == 200, r.text
        account = r.json()
    return account


def login(client: TestClient, identifier: str = EMAIL, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/login", json={"identifier": identifier, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_registration_to_login_end_to_end(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    r = register(client)
    assert r.status_code == 201, r.text
    reg = r.json()
    assert reg["id"].startswith("reg_")
    assert reg["status"] == "pending_verification"
    assert reg["expires_at"] > "2026-12-01T02:00:00Z"
    email_code, phone_code = codes(dispatcher, mailbox, sms_gateway)
    assert sms_gateway.bodies[-1]["to"] == E164

    r = client.post(
        f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": phone_code}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "verified"}

    r = client.post(
        f"/v1/registrations/{reg['id']}/complete", json={"accept_terms": True, "terms_version": "2026-11"}
    )
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["id"].startswith("acct_")
    assert (account["email"], account["phone"], account["country"]) == (EMAIL, E164, "DE")
    assert account["status"] == "pending_activation"
    assert re.fullmatch(r"M\d{10}", account["member_id"])
    assert_problem(login(client), 403, "account_not_active")
    again = client.post(
        f"/v1/registrations/{reg['id']}/complete", json={"accept_terms": True, "terms_version": "2026-11"}
    )
    assert "activate it from the emailed link" in assert_problem(again, 410, "registration_expired")["detail"]

    r = client.post("/v1/accounts/activate", json={"token": activation_token(dispatcher, mailbox)})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'

    for identifier in (EMAIL, "MIA.Schmidt@Example.com", PHONE, E164, account["member_id"]):
        r = login(client, identifier)
        assert r.status_code == 200, (identifier, r.text)
        pair = r.json()
        assert pair["token_type"] == "bearer"
        assert pair["expires_in"] == 600
        assert r.headers["cache-control"] == "no-store"
    me = client.get("/v1/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account["id"]


def test_codes_are_stored_as_digests_and_blanked_after_delivery(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway, app: Any
) -> None:
    reg = register(client).json()
    email_code, phone_code = codes(dispatcher, mailbox, sms_gateway)
    with Session(app.state.engine) as session:
        row = session.get_one(Registration, reg["id"])
        assert email_code not in (row.email_code, row.phone_code)
        assert phone_code not in (row.email_code, row.phone_code)
        bodies = [m.body for m in session.execute(select(OutboxMessage)).scalars()]
    assert bodies == [REDACTED, REDACTED]


def test_each_code_only_works_for_its_own_channel(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    reg = register(client).json()
    email_code, phone_code = codes(dispatcher, mailbox, sms_gateway)
    swapped = {"email_code": phone_code, "phone_code": email_code}
    r = client.post(f"/v1/registrations/{reg['id']}/verify", json=swapped)
    body = assert_problem(r, 422, "invalid_code")
    assert {e["field"] for e in body["errors"]} == {"email_code", "phone_code"}


def test_five_wrong_codes_void_the_registration(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    reg = register(client).json()
    email_code, phone_code = codes(dispatcher, mailbox, sms_gateway)
    wrong = "000000" if phone_code != "000000" else "111111"
    for _ in range(4):
        r = client.post(
            f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": wrong}
        )
        assert_problem(r, 422, "invalid_code", "phone_code")
    r = client.post(
        f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": wrong}
    )
    assert_problem(r, 410, "registration_expired")
    right = {"email_code": email_code, "phone_code": phone_code}
    assert_problem(
        client.post(f"/v1/registrations/{reg['id']}/verify", json=right), 410, "registration_expired"
    )
    assert client.get(f"/v1/registrations/{reg['id']}").json()["status"] == "expired"


def test_a_registration_past_its_hour_shows_expired(
    client: TestClient, time_machine: TimeMachineFixture
) -> None:
    reg = register(client).json()
    assert client.get(f"/v1/registrations/{reg['id']}").json()["status"] == "pending_verification"
    time_machine.move_to(T0 + timedelta(hours=1, seconds=1), tick=False)
    assert client.get(f"/v1/registrations/{reg['id']}").json() == reg | {"status": "expired"}


def test_codes_expire_after_ten_minutes(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    reg = register(client).json()
    email_code, phone_code = codes(dispatcher, mailbox, sms_gateway)
    time_machine.move_to(T0 + timedelta(minutes=10, seconds=1), tick=False)
    r = client.post(
        f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": phone_code}
    )
    assert_problem(r, 410, "registration_expired")


def test_resend_has_a_cooldown_and_replaces_the_code(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    reg = register(client).json()
    email_code, old_phone = codes(dispatcher, mailbox, sms_gateway)
    r = client.post(f"/v1/registrations/{reg['id']}/resend", json={"channel": "phone"})
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0
    time_machine.move_to(T0 + timedelta(seconds=61), tick=False)
    r = client.post(f"/v1/registrations/{reg['id']}/resend", json={"channel": "phone"})
    assert r.status_code == 202, r.text
    _, new_phone = codes(dispatcher, mailbox, sms_gateway)
    assert len(sms_gateway.bodies) == 2
    if new_phone != old_phone:
        r = client.post(
            f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": old_phone}
        )
        assert_problem(r, 422, "invalid_code", "phone_code")
    r = client.post(
        f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": new_phone}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"email": "not-an-address"}, "invalid_email", "email"),
        ({"email": "deals@aliexpress.com"}, "email_not_allowed", "email"),
        ({"email": "Mia.TaoBao@example.com"}, "email_not_allowed", "email"),
        ({"email": "mia+ali.baba@example.com"}, "email_not_allowed", "email"),
        ({"email": "mia@a1ibaba-fans.example"}, "email_not_allowed", "email"),
        ({"email": "mia@\u0430libaba.example"}, "email_not_allowed", "email"),
        ({"phone": "12"}, "invalid_phone", "phone"),
        ({"phone": "+49 000"}, "invalid_phone", "phone"),
        ({"password": "short pass"}, "weak_password", "password"),
        ({"password": "a" * 20}, "weak_password", "password"),
        ({"password": "aliexpress123456"}, "weak_password", "password"),
        ({"password": "mia.schmidt.mia.schmidt"}, "weak_password", "password"),
    ],
)
def test_registration_refusals_name_the_problem(
    client: TestClient, overrides: dict[str, str], code: str, field: str, sms_gateway: SmsGateway
) -> None:
    assert_problem(register(client, **overrides), 422, code, field)
    assert sms_gateway.bodies == []


def test_registration_never_reveals_an_existing_account(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    fresh = register(client, email="someone.new@example.com")
    again = register(client)
    assert fresh.status_code == again.status_code == 201
    assert fresh.json().keys() == again.json().keys()
    dispatcher.run_until_idle()
    hint = [m for m in mailbox.messages if m["X-Envelope-To"] == EMAIL and "code" in m["Subject"]][-1]
    assert "already has an account" in body_of(hint)
    first = [m for m in mailbox.messages if m["X-Envelope-To"] == "someone.new@example.com"][-1]
    assert "already has an account" not in body_of(first)


def test_complete_needs_verification_and_the_terms(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    reg = register(client).json()
    r = client.post(
        f"/v1/registrations/{reg['id']}/complete", json={"accept_terms": True, "terms_version": "1"}
    )
    assert_problem(r, 409, "not_verified")
    r = client.post(
        f"/v1/registrations/{reg['id']}/complete", json={"accept_terms": False, "terms_version": "1"}
    )
    assert_problem(r, 422, "terms_not_accepted")


def test_activation_token_works_once(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway, activate=False)
    token = activation_token(dispatcher, mailbox)
    assert client.post("/v1/accounts/activate", json={"token": token}).status_code == 200
    assert_problem(client.post("/v1/accounts/activate", json={"token": token}), 422, "invalid_code")
    assert_problem(client.post("/v1/accounts/activate", json={"token": "act_guess"}), 422, "invalid_code")


def test_unknown_identifier_wrong_password_and_inactive_look_alike(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    make_account(
        client,
        dispatcher,
        mailbox,
        sms_gateway,
        activate=False,
        email="pending@example.com",
        phone="+4915123450000",
    )
    answers = [
        login(client, "nobody@example.com"),
        login(client, EMAIL, "wrong password but long enough"),
        login(client, "pending@example.com", "wrong password but long enough"),
        login(client, "M0000000000"),
        login(client, "+4915100000000"),
    ]
    bodies = []
    for r in answers:
        body = assert_problem(r, 401, "invalid_credentials")
        bodies.append({k: v for k, v in body.items() if k not in ("request_id", "instance")})
    assert all(b == bodies[0] for b in bodies)


def test_failed_logins_are_throttled_per_identifier_known_or_not(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    start = T0
    for identifier in ("nobody@example.com", EMAIL):
        start += timedelta(minutes=2)  # past the per-address limit's minute
        time_machine.move_to(start, tick=False)
        for _ in range(5):
            r = login(client, identifier, "wrong password but long enough")
            assert_problem(r, 401, "invalid_credentials")
        r = login(client, identifier, PASSWORD if identifier == EMAIL else "anything at all here")
        assert_problem(r, 429, "rate_limited")
        assert 0 < int(r.headers["retry-after"]) <= 30
    time_machine.move_to(start + timedelta(seconds=31), tick=False)
    assert login(client).status_code == 200


def test_failures_by_any_of_an_accounts_identifiers_throttle_the_account(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    account = make_account(client, dispatcher, mailbox, sms_gateway)
    time_machine.move_to(T0 + timedelta(minutes=2), tick=False)  # past the per-address limit's minute
    wrong = "wrong password but long enough"
    # Five failures spread over three identifiers, one of them in full-width characters.
    for identifier in (EMAIL, account["member_id"], E164, EMAIL.replace("@", "\uff20"), account["member_id"]):
        assert_problem(login(client, identifier, wrong), 401, "invalid_credentials")
    for identifier in (account["member_id"], E164, EMAIL):
        r = login(client, identifier, PASSWORD)
        assert_problem(r, 429, "rate_limited")
        assert 0 < int(r.headers["retry-after"]) <= 30
    time_machine.move_to(T0 + timedelta(minutes=2, seconds=31), tick=False)
    assert login(client, account["member_id"]).status_code == 200
    # A success starts the count again: one more failure is not a sixth.
    time_machine.move_to(T0 + timedelta(minutes=4), tick=False)  # past the per-address minute again
    assert_problem(login(client, E164, wrong), 401, "invalid_credentials")
    assert login(client, EMAIL).status_code == 200


def test_logging_in_to_ones_own_account_does_not_clear_the_count_of_another_sharing_the_email(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    other_password = "another fine long passphrase"
    make_account(client, dispatcher, mailbox, sms_gateway)
    victim = make_account(client, dispatcher, mailbox, sms_gateway, password=other_password)
    time_machine.move_to(T0 + timedelta(minutes=2), tick=False)  # past the per-address limit's minute
    wrong = "wrong password but long enough"
    for _ in range(4):
        assert_problem(login(client, EMAIL, wrong), 401, "invalid_credentials")
    assert login(client, EMAIL).status_code == 200  # the attacker's own account, same email
    assert_problem(login(client, victim["member_id"], wrong), 401, "invalid_credentials")  # the fifth
    assert_problem(login(client, victim["member_id"], other_password), 429, "rate_limited")


def test_logins_from_one_address_are_limited(client: TestClient) -> None:
    for n in range(10):
        assert_problem(login(client, f"someone{n}@example.com"), 401, "invalid_credentials")
    r = login(client, "someone.else@example.com")
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0


def test_shared_email_picks_the_account_by_password(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    first = make_account(client, dispatcher, mailbox, sms_gateway)
    other_password = "another fine long passphrase"
    second = make_account(client, dispatcher, mailbox, sms_gateway, password=other_password)
    third = make_account(client, dispatcher, mailbox, sms_gateway)
    assert len({first["id"], second["id"], third["id"]}) == 3
    r = login(client, EMAIL, other_password)
    assert r.status_code == 200, r.text
    me = client.get("/v1/me", headers=bearer(r.json()["access_token"])).json()
    assert me["id"] == second["id"]
    assert_problem(login(client, EMAIL, PASSWORD), 409, "identifier_ambiguous")
    r = login(client, third["member_id"], PASSWORD)
    assert client.get("/v1/me", headers=bearer(r.json()["access_token"])).json()["id"] == third["id"]


def test_login_replaces_a_hash_made_under_other_parameters(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway, app: Any
) -> None:
    account = make_account(client, dispatcher, mailbox, sms_gateway)
    older = PasswordHasher("owasp").hash(PASSWORD)
    with Session(app.state.engine) as session:
        session.get_one(Account, account["id"]).password_hash = older
        session.commit()
    assert login(client).status_code == 200
    with Session(app.state.engine) as session:
        stored = session.get_one(Account, account["id"]).password_hash
    assert stored != older
    assert extract_parameters(stored) == PROFILES["test"]
    assert login(client).status_code == 200


def test_refresh_rotates_and_reuse_ends_the_session(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    first = login(client).json()
    r = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/v1/me", headers=bearer(second["access_token"])).status_code == 200
    # The first refresh token again: a stolen copy. The whole family ends.
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
        401,
        "invalid_credential",
    )
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
        "invalid_credential",
    )
    assert_problem(client.get("/v1/me", headers=bearer(second["access_token"])), 401, "invalid_credential")


def test_logout_ends_the_session(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    pair = login(client).json()
    other = login(client).json()
    assert client.post("/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    assert_problem(client.get("/v1/me", headers=bearer(pair["access_token"])), 401, "invalid_credential")
    assert_problem(
        client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "invalid_credential",
    )
    assert client.get("/v1/me", headers=bearer(other["access_token"])).status_code == 200


def test_access_tokens_expire(
    client: TestClient,
    dispatcher: Dispatcher,
    mailbox: Mailbox,
    sms_gateway: SmsGateway,
    time_machine: TimeMachineFixture,
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    pair = login(client).json()
    time_machine.move_to(T0 + timedelta(minutes=11), tick=False)
    assert_problem(client.get("/v1/me", headers=bearer(pair["access_token"])), 401, "invalid_credential")
    assert client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200


def test_a_buyer_gets_no_seller_data(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    token = login(client).json()["access_token"]
    assert_problem(client.get("/v1/chargebacks", headers=bearer(token)), 403, "forbidden")
    assert_problem(client.get("/v1/messages", headers=bearer(token)), 403, "forbidden")
    assert_problem(client.post("/v1/orders", json={}, headers=bearer(token)), 403, "forbidden")
    assert_problem(client.get("/v1/me", headers=PLATFORM), 403, "forbidden")


def test_a_forged_or_tampered_token_is_401(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    make_account(client, dispatcher, mailbox, sms_gateway)
    token = login(client).json()["access_token"]
    header, payload, signature = token.split(".")
    for forged in (f"{header}.{payload}.{signature[:-2]}xx", f"{header}.{payload}.", "eyJ.e30.x"):
        assert_problem(client.get("/v1/me", headers=bearer(forged)), 401, "invalid_credential")


def test_a_registration_shows_how_far_it_got(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> None:
    r = register(client)
    reg = r.json()
    assert r.headers["location"] == f"/v1/registrations/{reg['id']}"
    assert client.get(r.headers["location"]).json() == reg
    email_code, phone_code = codes(dispatcher, mailbox, sms_gateway)
    client.post(
        f"/v1/registrations/{reg['id']}/verify", json={"email_code": email_code, "phone_code": phone_code}
    )
    assert client.get(f"/v1/registrations/{reg['id']}").json()["status"] == "verified"
    assert_problem(client.get("/v1/registrations/reg_nope"), 404, "not_found")


def test_the_activation_page_spends_nothing_on_a_get(client: TestClient) -> None:
    r = client.get("/activate")
    assert r.status_code == 200
    assert "/v1/accounts/activate" in r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'sha256-" in r.headers["content-security-policy"]


def test_concurrent_first_failures_are_all_counted(client: TestClient) -> None:
    statuses = run_together(4, lambda _: login(client, "nobody.yet@example.com").status_code)
    assert statuses == [401, 401, 401, 401]
    assert login(client, "nobody.yet@example.com").status_code == 401  # the fifth
    assert_problem(login(client, "nobody.yet@example.com"), 429, "rate_limited")


def test_a_registration_retried_with_another_password_is_another_body(
    client: TestClient, app: FastAPI
) -> None:
    headers = {"Idempotency-Key": "signup-1"}
    body = {"country": "DE", "email": EMAIL, "phone": PHONE, "password": PASSWORD}
    first = client.post("/v1/registrations", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/v1/registrations", json=body, headers=headers)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.json() == first.json()
    other = client.post(
        "/v1/registrations", json=body | {"password": "another long passphrase here"}, headers=headers
    )
    assert_problem(other, 422, "idempotency_key_reused")
    # A retry from another address (the phone left the Wi-Fi) is the same request: one registration.
    elsewhere = TestClient(app, raise_server_exceptions=False, client=("198.51.100.77", 40000))
    moved = elsewhere.post("/v1/registrations", json=body, headers=headers)
    assert (moved.status_code, moved.headers["idempotent-replayed"]) == (201, "true")
    assert moved.json() == first.json()
