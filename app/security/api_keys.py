"""Seller API keys: random, shown once, stored as a SHA-256 digest, identified by a short prefix.

API keys carry 240 bits of randomness, so a fast digest is enough at rest (a slow password hash
protects guessable secrets; these are not guessable) and keeps every request's lookup cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk_"
_PREFIX_LEN = len(KEY_PREFIX) + 8


def generate_api_key() -> tuple[str, str, str]:
    """Return ``(key, prefix, digest)`` for a new key."""
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    return key, key[:_PREFIX_LEN], digest(key)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (through their digests, so lengths do not leak)."""
    return hmac.compare_digest(digest(given), digest(expected))
