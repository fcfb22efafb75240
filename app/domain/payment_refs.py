"""Alipay account references: what a buyer may bind, in one normal form, and how it is shown back.

An Alipay account is identified by the email address or the mainland China mobile number it was
opened with (Alipay's sign-up accepts nothing else), so a reference is one of the two: an email,
compared case-insensitively, or an 11-digit mainland mobile number (``1[3-9]`` then nine digits,
with an optional ``+86``/``86`` prefix and spaces or dashes ignored). The normal form is what the
keyed digest is taken of, so two spellings of one account can never be bound twice; the masked
form is all that is stored in clear and shown (``ma***@example.com``, ``138****8000``).
"""

from __future__ import annotations

import re

from app.domain.errors import FieldProblem, InvalidAccountRef

PROVIDERS = ("alipay",)

_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)
_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s-]")
MAX_EMAIL_LENGTH = 254


def normalise_ref(raw: str, field: str = "account_ref") -> str:
    """The reference in its normal form: a lower-case email or 11 mainland mobile digits; else refused."""
    text = raw.strip()
    if "@" in text:
        email = text.lower()
        if len(email) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(email):
            return email
    else:
        digits = _PHONE_SEPARATORS.sub("", text)
        for prefix in ("+86", "0086", "86"):
            if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
                digits = digits[len(prefix) :]
                break
        if _MAINLAND_MOBILE.fullmatch(digits):
            return digits
    raise InvalidAccountRef(
        "An Alipay account is an email address or a mainland China mobile number (e.g. 138 0013 8000).",
        errors=[FieldProblem(field, "not an email address or a mainland China mobile number")],
    )


def mask_ref(ref: str) -> str:
    """What may be shown of an email address or a number: enough for its holder to recognise it."""
    if "@" in ref:
        local, domain = ref.split("@", 1)
        return f"{local[:2] if len(local) > 2 else local[:1]}***@{domain}"
    return f"{ref[:3]}****{ref[-4:]}"
