"""Email addresses and phone numbers as the account rules take them: checked, normalised, or refused
with the contract's codes (``invalid_email``, ``email_not_allowed``, ``invalid_phone``)."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.domain.email_policy import check_email_brand, check_email_length, email_key
from app.domain.errors import FieldProblem, InvalidEmail, InvalidPhone


def parse_email(raw: str, field: str = "email") -> tuple[str, str]:
    """The address to store and its lookup key: syntax by email-validator, then the length and brand rules."""
    try:
        email = validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(
            f"The email address is not valid: {exc}", errors=[FieldProblem(field, "invalid")]
        ) from None
    check_email_length(email, field)
    check_email_brand(email, field)
    return email, email_key(email)


def parse_phone(raw: str, country: str, field: str = "phone") -> str:
    """The number in E.164, parsed for ``country`` unless it starts with ``+``."""
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidPhone(
            f"Not a valid phone number for {country}; give it with its country code, e.g. +49 1512 3456789.",
            errors=[FieldProblem(field, "invalid")],
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
