from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine

from app.domain.errors import InvalidCredential
from app.security.tokens import (
    ACTIVATION_PREFIX,
    CODES_KEY_LABEL,
    JWT_KEY_LABEL,
    MAX_ACCESS_TOKEN_CHARS,
    REFRESH_PREFIX,
    TOKENS_KEY_LABEL,
    AccessClaims,
    code_digest,
    decode_access,
    derive_key,
    issue_access,
    new_code,
    new_token,
    same_digest,
    token_digest,
)

SECRET = "x" * 48
KEY = derive_key(SECRET, JWT_KEY_LABEL)
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TTL = timedelta(minutes=10)
ISS, AUD = "https://desk.example", "buyer-api"


def _issue(**overrides: Any) -> str:
    args: dict[str, Any] = {
        "account_id": "acc_1",
        "session_id": "ses_1",
        "now": NOW,
        "ttl": TTL,
        "issuer": ISS,
        "audience": AUD,
    }
    return issue_access(KEY, **(args | overrides))


def _decode(token: str, now: datetime | None = NOW, key: bytes = KEY) -> AccessClaims:
    return decode_access(key, token, issuer=ISS, audience=AUD, now=now)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _claims(**overrides: Any) -> dict[str, Any]:
    ts = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "sub": "acc_1",
        "sid": "ses_1",
        "iat": ts,
        "nbf": ts,
        "exp": ts + 600,
        "iss": ISS,
        "aud": AUD,
        "typ": "access",
        "jti": "j1",
    }
    return {k: v for k, v in (claims | overrides).items() if v is not _DROP}


_DROP = object()


def _forge(claims: dict[str, Any], *, alg: str = "HS256", header: dict[str, Any] | None = None) -> str:
    """A token signed by hand, so tests control every byte PyJWT would refuse to produce."""
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"} | (header or {})).encode())
    body = _b64(json.dumps(claims).encode())
    signing_input = f"{head}.{body}".encode()
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    signature = hmac.new(KEY, signing_input, digests[alg]).digest() if alg in digests else b""
    return f"{head}.{body}.{_b64(signature)}"


def _assert_invalid(token: str, now: datetime | None = NOW, key: bytes = KEY) -> None:
    with pytest.raises(InvalidCredential) as info:
        _decode(token, now, key)
    assert info.value.code == "invalid_credential"


# Keys ---------------------------------------------------------------------------------------------


def test_derive_key_is_hmac_sha256_of_the_label_under_the_secret() -> None:
    expected = hmac.new(SECRET.encode(), b"jwt", hashlib.sha256).digest()
    assert derive_key(SECRET, JWT_KEY_LABEL) == expected
    assert len(expected) == 32


def test_derived_keys_differ_per_label_and_per_secret() -> None:
    keys = {derive_key(SECRET, label) for label in (JWT_KEY_LABEL, TOKENS_KEY_LABEL, CODES_KEY_LABEL)}
    keys.add(derive_key("y" * 48, JWT_KEY_LABEL))
    assert len(keys) == 4
    assert SECRET.encode() not in keys


# Access tokens ------------------------------------------------------------------------------------


def test_issued_token_decodes_to_its_claims() -> None:
    claims = _decode(_issue())
    assert claims == AccessClaims(account_id="acc_1", session_id="ses_1", expires_at=NOW + TTL)


def test_issued_token_carries_every_claim_and_hs256_header() -> None:
    token = _issue()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    payload = jwt.decode(token, options={"verify_signature": False})
    ts = int(NOW.timestamp())
    assert payload | {"jti": "?"} == _claims(exp=ts + 600, jti="?")
    assert len(payload["jti"]) >= 22


def test_each_token_gets_its_own_jti() -> None:
    first, second = (jwt.decode(_issue(), options={"verify_signature": False}) for _ in range(2))
    assert first["jti"] != second["jti"]


def test_token_is_not_signed_with_the_raw_secret() -> None:
    _assert_invalid(_issue(), key=SECRET.encode())


def test_naive_now_or_empty_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _issue(now=datetime(2026, 3, 2, 9, 30))
    with pytest.raises(ValueError, match="ttl"):
        _issue(ttl=timedelta(0))


@pytest.mark.parametrize(
    ("offset", "valid"),
    [
        (timedelta(seconds=-6), False),  # before nbf, beyond the leeway
        (timedelta(seconds=-4), True),
        (timedelta(0), True),
        (TTL + timedelta(seconds=4), True),
        (TTL + timedelta(seconds=6), False),  # expired, beyond the leeway
        (timedelta(days=365), False),
    ],
)
def test_token_is_valid_between_nbf_and_exp_with_five_seconds_leeway(offset: timedelta, valid: bool) -> None:
    token = _issue()
    if valid:
        assert _decode(token, NOW + offset).account_id == "acc_1"
    else:
        _assert_invalid(token, NOW + offset)


def test_without_now_the_service_clock_decides() -> None:
    token = _issue()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert _decode(token, now=None).session_id == "ses_1"
    with time_machine.travel(NOW + timedelta(minutes=11), tick=False):
        _assert_invalid(token, now=None)


def test_wrong_key_issuer_or_audience_is_invalid() -> None:
    token = _issue()
    _assert_invalid(token, key=derive_key(SECRET, TOKENS_KEY_LABEL))
    with pytest.raises(InvalidCredential):
        decode_access(KEY, token, issuer="https://other.example", audience=AUD, now=NOW)
    with pytest.raises(InvalidCredential):
        decode_access(KEY, token, issuer=ISS, audience="seller-api", now=NOW)


def test_hand_forged_valid_token_decodes() -> None:
    assert _decode(_forge(_claims())).account_id == "acc_1"


@pytest.mark.parametrize("alg", ["none", "HS384", "HS512", "RS256", "ES256"])
def test_algorithm_other_than_hs256_is_invalid(alg: str) -> None:
    _assert_invalid(_forge(_claims(), alg=alg))


def test_unsigned_token_with_empty_signature_is_invalid() -> None:
    head, body, _ = _forge(_claims()).split(".")
    _assert_invalid(f"{head}.{body}.")


@pytest.mark.parametrize("claim", ["sub", "sid", "iat", "nbf", "exp", "iss", "aud", "typ", "jti"])
def test_missing_claim_is_invalid(claim: str) -> None:
    _assert_invalid(_forge(_claims(**{claim: _DROP})))


@pytest.mark.parametrize(
    "overrides",
    [
        {"typ": "refresh"},
        {"typ": None},
        {"aud": [AUD, "other"]},
        {"aud": [AUD]},
        {"sub": ""},
        {"sub": 42},
        {"sid": ["ses_1"]},
        {"jti": 7},
        {"exp": str(int(NOW.timestamp()) + 600)},
        {"exp": int(NOW.timestamp()) + 600.5},
        {"exp": True},
        {"nbf": "now"},
        {"iat": int(NOW.timestamp()) + 60},  # issued in the future
        {"exp": 10**30},
    ],
)
def test_malformed_claim_is_invalid(overrides: dict[str, Any]) -> None:
    _assert_invalid(_forge(_claims(**overrides)))


def test_unknown_critical_header_is_invalid() -> None:
    _assert_invalid(_forge(_claims(), header={"crit": ["exp-v2"], "exp-v2": 1}))


def test_token_over_the_length_cap_is_invalid_even_when_signed() -> None:
    token = _forge(_claims(pad="p" * MAX_ACCESS_TOKEN_CHARS))
    assert len(token) > MAX_ACCESS_TOKEN_CHARS
    _assert_invalid(token)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "a.b", "é.é.é", "Bearer x.y.z", _b64(b"[" * 1500) + "." + _b64(b"{}") + ".sig"],
)
def test_garbage_is_invalid(token: str) -> None:
    _assert_invalid(token)


# Opaque secrets and codes -------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [REFRESH_PREFIX, ACTIVATION_PREFIX])
def test_new_token_is_prefixed_and_carries_256_bits(prefix: str) -> None:
    token = new_token(prefix)
    assert token.startswith(prefix)
    body = token.removeprefix(prefix)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body)
    assert new_token(prefix) != token


def test_token_digest_is_keyed_hex_hmac() -> None:
    key = derive_key(SECRET, TOKENS_KEY_LABEL)
    token = new_token(REFRESH_PREFIX)
    expected = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    assert token_digest(key, token) == expected
    assert token_digest(derive_key("y" * 48, TOKENS_KEY_LABEL), token) != expected
    assert token_digest(key, token) != hashlib.sha256(token.encode()).hexdigest()


def test_token_digest_accepts_any_text() -> None:
    key = derive_key(SECRET, TOKENS_KEY_LABEL)
    assert len(token_digest(key, "\ud800é")) == 64


def test_new_code_is_six_digits() -> None:
    codes = [new_code() for _ in range(200)]
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(set(codes)) > 150


CODE_KEY_2 = derive_key("y" * 48, CODES_KEY_LABEL)


def test_code_digest_binds_purpose_and_subject() -> None:
    key = derive_key(SECRET, CODES_KEY_LABEL)
    digest = code_digest(key, "042117", purpose="register-email", subject="reg_1")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == code_digest(key, "042117", purpose="register-email", subject="reg_1")
    others = {
        code_digest(key, "042117", purpose="register-phone", subject="reg_1"),
        code_digest(key, "042117", purpose="register-email", subject="reg_2"),
        code_digest(key, "042118", purpose="register-email", subject="reg_1"),
        code_digest(CODE_KEY_2, "042117", purpose="register-email", subject="reg_1"),
    }
    assert digest not in others
    assert len(others) == 4


def test_code_digest_fields_cannot_run_into_each_other() -> None:
    key = derive_key(SECRET, CODES_KEY_LABEL)
    pairs = [(("a|b", "c"), ("a", "b|c")), (("a", "b\ud800"), ("a", "b")), (("a", '"b'), ("a", "b"))]
    for (purpose, subject), (other_purpose, other_subject) in pairs:
        digest = code_digest(key, "1", purpose=purpose, subject=subject)
        assert digest != code_digest(key, "1", purpose=other_purpose, subject=other_subject)


@pytest.mark.parametrize(
    ("given", "expected", "same"),
    [("ab" * 32, "ab" * 32, True), ("ab" * 32, "ab" * 31 + "ac", False), ("", "ab", False), ("é", "é", True)],
)
def test_same_digest_compares_exactly(given: str, expected: str, same: bool) -> None:
    assert same_digest(given, expected) is same
