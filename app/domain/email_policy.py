"""Email addresses of buyer accounts: the form we store, the key we look up, the brand rule.

Business rule (API contract, buyer accounts; security checklist item 16): an email address may not
contain ``aliexpress``, ``taobao`` or ``alibaba`` "in any case or disguise", anywhere in the address:
local part, ``+tag`` and domain. The check compares *skeletons*, after the idea of Unicode Technical
Standard #39 (Security Mechanisms, confusable detection): two strings that look alike share a
skeleton. Ours is built in this order:

1. NFKC (full-width and other compatibility forms become plain ones) and case-folding (``ß`` is ``ss``).
2. Each ``xn--`` label (IDNA 2003 / RFC 3492 punycode) is decoded when it is valid, so a homograph
   domain is seen as the letters it shows.
3. Accents are removed (NFD, combining marks dropped) and the look-alikes of :data:`CONFUSABLES` become
   the Latin letter they imitate: Cyrillic and Greek letters, the digits and symbols of leetspeak, and
   ``l`` as ``i`` (the same skeleton for ``l``, ``I``, ``1`` and ``|``).
4. Everything except ``a``-``z`` is dropped: separators (``.``, ``-``, ``_``, ``+``, ``@``), spaces,
   zero-width and other invisible characters, unmapped digits, letters of other scripts.

The brand words go through the same skeleton (``alibaba`` is ``aiibaba``). Separators are ignored by
design, so ``tao.bao.ng@example.com`` and ``ali@baba.example`` match; ``alice.baker@example.com`` and
``bob@alibank.example`` do not.

Storage and lookup: :func:`normalise_email` keeps the local part as given (no lower-casing, no
``+tag`` stripping: RFC 5321 leaves the local part to the receiving host) and lower-cases the domain,
with ``xn--`` labels shown in Unicode so both spellings of one domain are the same; :func:`email_key`
also case-folds the local part, since most providers ignore its case, for finding the accounts of an
address. Syntax checks are left to the email validator at the edge.
"""

from __future__ import annotations

import re
import unicodedata

from app.domain.errors import EmailNotAllowed, FieldProblem, InvalidEmail

__all__ = [
    "BLOCKED_BRANDS",
    "CONFUSABLES",
    "check_email_brand",
    "email_key",
    "normalise_email",
    "skeleton",
]

BLOCKED_BRANDS = ("aliexpress", "taobao", "alibaba")

CONFUSABLES: dict[str, str] = {
    # Cyrillic, lower case (case-folding comes first).
    "\N{CYRILLIC SMALL LETTER A}": "a",
    "\N{CYRILLIC SMALL LETTER IE}": "e",
    "\N{CYRILLIC SMALL LETTER O}": "o",
    "\N{CYRILLIC SMALL LETTER ER}": "p",
    "\N{CYRILLIC SMALL LETTER ES}": "c",
    "\N{CYRILLIC SMALL LETTER U}": "y",
    "\N{CYRILLIC SMALL LETTER HA}": "x",
    "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
    "\N{CYRILLIC SMALL LETTER JE}": "j",
    "\N{CYRILLIC SMALL LETTER DZE}": "s",
    "\N{CYRILLIC SMALL LETTER KA}": "k",
    "\N{CYRILLIC SMALL LETTER EM}": "m",
    "\N{CYRILLIC SMALL LETTER TE}": "t",
    "\N{CYRILLIC SMALL LETTER EN}": "h",
    "\N{CYRILLIC SMALL LETTER VE}": "b",
    "\N{CYRILLIC SMALL LETTER PALOCHKA}": "i",
    # Greek, lower case.
    "\N{GREEK SMALL LETTER ALPHA}": "a",
    "\N{GREEK SMALL LETTER BETA}": "b",
    "\N{GREEK SMALL LETTER EPSILON}": "e",
    "\N{GREEK SMALL LETTER IOTA}": "i",
    "\N{GREEK SMALL LETTER KAPPA}": "k",
    "\N{GREEK SMALL LETTER NU}": "v",
    "\N{GREEK SMALL LETTER OMICRON}": "o",
    "\N{GREEK SMALL LETTER RHO}": "p",
    "\N{GREEK SMALL LETTER TAU}": "t",
    "\N{GREEK SMALL LETTER UPSILON}": "u",
    # Latin letters that pass for others.
    "l": "i",
    "\N{LATIN SMALL LETTER DOTLESS I}": "i",
    # Digits and symbols.
    "0": "o",
    "1": "i",
    "|": "i",
    "!": "i",
    "3": "e",
    "4": "a",
    "@": "a",
    "5": "s",
    "$": "s",
    "7": "t",
    "8": "b",
    "9": "g",
}

_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")
_TRANSLATION = str.maketrans(CONFUSABLES)
# IDNA also ends a label at the ideographic full stop; NFKC turns the other dots into one of these two.
_DOT = re.compile("[.\N{IDEOGRAPHIC FULL STOP}]")
_LABEL_SEPARATORS = re.compile("([.@\N{IDEOGRAPHIC FULL STOP}])")

_BRAND_PROBLEM = "contains a blocked brand name"
_BRAND_DETAIL = "The address may not contain the name of aliexpress, taobao or alibaba."


def _decode_ace(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        # Not valid punycode: it cannot stand for other letters, so it is checked as written.
        return label


def skeleton(text: str) -> str:
    """The look-alike-free form of ``text``: lower-case Latin letters only (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    decoded = "".join(_decode_ace(piece) for piece in _LABEL_SEPARATORS.split(folded))
    bare = unicodedata.normalize("NFD", decoded).translate(_TRANSLATION)
    return "".join(ch for ch in bare if ch in _LATIN)


_BRAND_SKELETONS = tuple(skeleton(brand) for brand in BLOCKED_BRANDS)


def check_email_brand(email: str, field: str = "email") -> None:
    """Refuse an address containing a blocked brand in any case or disguise.

    Business rule: API contract, buyer accounts (``email_not_allowed``). The skeleton of the local part
    (``+tag`` included) joined to the skeleton of the domain must not contain a brand's skeleton. The
    ``@`` that splits the address is a separator there, while an ``@`` inside a quoted local part is a
    look-alike of ``a``. Raises :class:`EmailNotAllowed` with a problem on ``field``.
    """
    local, _, domain = unicodedata.normalize("NFKC", email).rpartition("@")
    # Without an "@" the whole text is in ``domain`` and ``local`` is empty.
    whole = skeleton(local) + skeleton(domain)
    if any(brand in whole for brand in _BRAND_SKELETONS):
        raise EmailNotAllowed(_BRAND_DETAIL, errors=[FieldProblem(field, _BRAND_PROBLEM)])


MAX_LOCAL_CHARS = 63
MAX_ADDRESS_CHARS = 254


def check_email_length(email: str, field: str = "email") -> None:
    """Refuse an address whose local part passes 63 characters or whose whole passes 254.

    Business rule: the OWASP Input Validation Cheat Sheet's limits (RFC 5321 allows 64 and 254
    octets); longer addresses are not deliverable everywhere. Raises :class:`InvalidEmail` on ``field``.
    """
    local = email.rpartition("@")[0]
    if len(local) > MAX_LOCAL_CHARS or len(email) > MAX_ADDRESS_CHARS:
        problem = f"at most {MAX_LOCAL_CHARS} characters before the @ and {MAX_ADDRESS_CHARS} in all"
        detail = f"The email address is too long: {problem}."
        raise InvalidEmail(detail, errors=[FieldProblem(field, problem)])


def normalise_email(email: str) -> str:
    """The form of an address we store and show: NFKC, local part as given, domain lower-case Unicode.

    Raises :class:`InvalidEmail` when there is no ``@`` with something on both sides of it.
    """
    address = unicodedata.normalize("NFKC", email).strip()
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        problem = "must be a local part, an @ and a domain"
        raise InvalidEmail(f"The email address {problem}.", errors=[FieldProblem("email", problem)])
    labels = (_decode_ace(label) for label in _DOT.split(domain.lower()))
    return f"{local}@{'.'.join(labels)}"


def email_key(email: str) -> str:
    """The form of an address to look accounts up by: :func:`normalise_email`, local part case-folded."""
    local, _, domain = normalise_email(email).rpartition("@")
    return f"{local.casefold()}@{domain}"
