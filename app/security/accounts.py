"""What the account use cases need of security, built once per app: the password hasher, the keys
derived from ``SECRET_KEY`` (one per use, so no key serves two purposes), the rate limiter, and the
blocklist of common passwords."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from app.core.config import Settings
from app.security.passwords import PasswordHasher
from app.security.rate_limits import RateLimiter
from app.security.tokens import derive_key

AUDIENCE = "chargeback-desk"


@dataclass(frozen=True, slots=True)
class Keys:
    jwt: bytes
    tokens: bytes
    codes: bytes
    payment: bytes  # digests of bound payment account references


@cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's 30,000 most common passwords (from breach corpora), lower-cased: the offline blocklist."""
    return frozenset(p.casefold() for p in FREQUENCY_LISTS["passwords"])


class Auth:
    def __init__(self, settings: Settings) -> None:
        if settings.secret_key is None:
            raise ValueError("SECRET_KEY is required")
        secret = settings.secret_key.get_secret_value()
        self.keys = Keys(
            jwt=derive_key(secret, "access-token"),
            tokens=derive_key(secret, "opaque-token"),
            codes=derive_key(secret, "one-time-code"),
            payment=derive_key(secret, "payment-account"),
        )
        self.hasher = PasswordHasher(settings.password_hash_profile)
        self.limiter = RateLimiter(
            settings.rate_limit_storage_url,
            hash_key=derive_key(secret, "rate-limits"),
            key_prefix=settings.rate_limit_key_prefix,
        )
        self.blocklist = common_passwords()
        self.issuer = settings.public_base_url.rstrip("/")
        self.audience = AUDIENCE
