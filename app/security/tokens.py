"""Account tokens: short-lived access JWTs, opaque random secrets, and one-time numeric codes.

Every key here is derived from ``SECRET_KEY`` with ``derive_key`` under its own label, so the raw
secret is never a JWT key and a key leaked from one use does not open the others.

Access tokens are HS256 JWTs (PyJWT) carrying the session id, so logout can be checked on the
server; anything unexpected about one is the same ``InvalidCredential``. Opaque secrets (refresh,
activation, reset) and codes are stored only as keyed HMAC digests: a database dump alone cannot
test guesses, and a code's digest binds its purpose and subject, so an email code cannot satisfy
the phone step or another registration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.core.clock import utcnow
from app.domain.errors import InvalidCredential

JWT_KEY_LABEL = "jwt"
TOKENS_KEY_LABEL = "tokens"
CODES_KEY_LABEL = "codes"

REFRESH_PREFIX = "rt_"
ACTIVATION_PREFIX = "act_"
RESET_PREFIX = "rst_"

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
MAX_ACCESS_TOKEN_CHARS = 2048
LEEWAY_SECONDS = 5
CODE_DIGITS = 6
_REQUIRED = ["sub", "sid", "iat", "nbf", "exp", "iss", "aud", "typ", "jti"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    account_id: str
    session_id: str
    expires_at: datetime


def derive_key(secret: str, label: str) -> bytes:
    """A 256-bit key for one use (``label``): HMAC-SHA256 keyed with ``secret`` over the label."""
    return hmac.new(_utf8(secret), _utf8(label), hashlib.sha256).digest()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _invalid() -> InvalidCredential:
    return InvalidCredential("The access token is not valid or has expired.")


# Access tokens ------------------------------------------------------------------------------------


def issue_access(
    key: bytes,
    *,
    account_id: str,
    session_id: str,
    now: datetime,
    ttl: timedelta,
    issuer: str,
    audience: str,
) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    issued = int(now.timestamp())
    claims = {
        "sub": account_id,
        "sid": session_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl.total_seconds()),
        "iss": issuer,
        "aud": audience,
        "typ": ACCESS_TYPE,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_access(
    key: bytes, token: str, *, issuer: str, audience: str, now: datetime | None = None
) -> AccessClaims:
    """The claims of a valid access token; ``InvalidCredential`` for anything else."""
    if len(token) > MAX_ACCESS_TOKEN_CHARS:
        raise _invalid()
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            # PyJWT reads the system clock; the times are checked below against ``now`` instead.
            options={
                "require": _REQUIRED,
                "strict_aud": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise _invalid() from exc
    return _claims(payload, (now or utcnow()).timestamp())


def _claims(payload: dict[str, Any], now: float) -> AccessClaims:
    iat, nbf, exp = (payload[name] for name in ("iat", "nbf", "exp"))
    strings = (payload["sub"], payload["sid"], payload["jti"])
    if not all(type(value) is int for value in (iat, nbf, exp)):
        raise _invalid()
    if not all(isinstance(value, str) and value for value in strings) or payload["typ"] != ACCESS_TYPE:
        raise _invalid()
    if exp <= now - LEEWAY_SECONDS or nbf > now + LEEWAY_SECONDS or iat > now + LEEWAY_SECONDS:
        raise _invalid()
    try:
        expires_at = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _invalid() from exc
    return AccessClaims(account_id=payload["sub"], session_id=payload["sid"], expires_at=expires_at)


# Opaque secrets and codes -------------------------------------------------------------------------


def new_token(prefix: str) -> str:
    """``prefix`` and 256 random bits (43 URL-safe characters); the prefix says what it is for."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(key: bytes, token: str) -> str:
    """What is stored for an opaque token: HMAC-SHA256 under the tokens key, as hex."""
    return hmac.new(key, _utf8(token), hashlib.sha256).hexdigest()


def new_code() -> str:
    """Six random digits, zero-padded."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(key: bytes, code: str, *, purpose: str, subject: str) -> str:
    """What is stored for a code: HMAC-SHA256 over the purpose, the subject and the code, as hex."""
    # A JSON array keeps the fields apart whatever they contain ("a|b", "c" is not "a", "b|c").
    message = json.dumps([purpose, subject, code], ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def same_digest(given: str, expected: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(_utf8(given), _utf8(expected))
