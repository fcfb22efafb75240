"""Password policy for buyer accounts.

Business rule: a password is accepted on registration, reset and change when it is long enough and
not guessable, and for no other reason. Sources:

* NIST SP 800-63B-4 §3.1.1.2: at least 15 characters while the password is the only factor (8 with
  MFA); accept at least 64; no composition rules; accept Unicode, normalise it (NFKC) and count each
  code point as one character; compare against a blocklist of common, breached, repetitive or
  sequential values and context-specific words, and tell the user why a password was refused.
* OWASP ASVS 5.0 6.2.1-6.2.12 and the security checklist (items 1-6): a fixed upper bound to cap the
  hashing cost, never truncation or case-folding of what is hashed; the service's brand names, the
  username and the email's local part are context words.

Decisions, in one place:

* :func:`normalise_password` (NFKC) gives what is hashed; case is kept. The checks below look at its
  case-folded form, so ``"PASSWORD"`` is as common as ``"password"``.
* Length: ``min_length`` to :data:`MAX_PASSWORD_CHARS` code points after NFKC (``"ﬁ"`` counts as two).
* Blocklist: the caller passes lower-case entries; a password is refused when its case-folded or
  lower-cased form is one of them.
* Repetitive: fewer than 4 distinct characters, or a short unit repeated (every character equals the
  one 1, 2, 3 or 4 places before it, so ``"abcdabcdabcdabc"`` counts even though it stops mid-unit).
* Sequential: the whole password is a run of consecutive code points, rising or falling by one each
  step (``"abcdefghijklmnop"``, ``"zyxwvutsrqponml"``); among digits ``9``→``0`` (and ``0``→``9``
  when falling) continues the run, so ``"1234567890123456"`` counts. Keyboard rows are left to the
  blocklist.
* Guessable: what the rules above miss but an attacker's tools try first (a common password
  repeated or padded with a run, keyboard walks, l33t spellings), judged by zxcvbn, whose frequency
  lists are also the blocklist: fewer than 10^8 estimated guesses (its score below 3) is refused, for
  the password as typed and without its spaces and punctuation ("letmein letmein!").
* Context words: a password that contains one of :data:`BRAND_WORDS` in any case or disguise (their
  skeletons, as for email addresses) is refused, the brand named in the reason. The caller's words of
  at least 4 characters (email local part, username, member id) may appear in a longer password: only
  when removing every occurrence leaves fewer than 8 characters is the password built around them,
  and the reason does not name them, since one may be most of the password (the detail never echoes
  the password).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Container, Iterable

from zxcvbn import zxcvbn

from app.domain.email_policy import skeleton
from app.domain.errors import FieldProblem, WeakPassword

__all__ = [
    "BRAND_WORDS",
    "MAX_PASSWORD_CHARS",
    "MULTI_FACTOR_MIN_CHARS",
    "SINGLE_FACTOR_MIN_CHARS",
    "check_password",
    "context_words",
    "normalise_password",
]

MAX_PASSWORD_CHARS = 256
SINGLE_FACTOR_MIN_CHARS = 15
MULTI_FACTOR_MIN_CHARS = 8

BRAND_WORDS = ("aliexpress", "taobao", "alibaba", "chargeback", "chargebackdesk")

MIN_DISTINCT_CHARS = 4
MAX_REPEATED_UNIT = 4
MIN_CONTEXT_WORD_CHARS = 4
MIN_CHARS_BESIDES_CONTEXT = 8
MIN_GUESSES_LOG10 = 8  # zxcvbn's score 3 and up
ZXCVBN_MAX_CHARS = 72  # what zxcvbn estimates; a longer password is judged by its start

_EMAIL_SEPARATORS = str.maketrans(dict.fromkeys("._-+", " "))
_SEPARATORS = re.compile(r"[\s\W_]+")


def normalise_password(password: str) -> str:
    """The form of a password that is checked and hashed: Unicode NFKC, case kept."""
    return unicodedata.normalize("NFKC", password)


def check_password(
    password: str,
    *,
    min_length: int,
    blocklist: Container[str],
    context: Iterable[str],
    field: str = "password",
) -> None:
    """Refuse a password that is too short, too long, common, repetitive, sequential or built on context.

    Business rule: NIST SP 800-63B-4 §3.1.1.2 (see the module docstring for each rule). The first rule
    broken is reported as :class:`WeakPassword` with one :class:`FieldProblem` on ``field`` (the
    request's name for the password); neither the detail nor the problem contains the password.
    ``min_length`` is the caller's (15 for a password-only account, 8 with MFA), between 8 and 64;
    ``blocklist`` holds lower-case common and breached passwords; ``context`` holds words tied to the
    account (see :func:`context_words`).
    """
    if not MULTI_FACTOR_MIN_CHARS <= min_length <= 64:
        raise ValueError(f"min_length must be between {MULTI_FACTOR_MIN_CHARS} and 64, got {min_length}")
    normalised = normalise_password(password)
    folded = normalised.casefold()
    reason = (
        _length_problem(len(normalised), min_length)
        or _blocklist_problem(folded, normalised.lower(), blocklist)
        or _pattern_problem(folded)
        or _brand_problem(normalised)
        or _context_problem(folded, context)
        or _guessable_problem(folded, min_length)
    )
    if reason is not None:
        raise WeakPassword(f"The password {reason}.", errors=[FieldProblem(field, reason)])


def context_words(email: str | None, *others: str | None) -> list[str]:
    """Words tied to an account that a password must not be built around.

    The email's local part, its parts split on ``.``, ``_``, ``-`` and ``+`` that have at least 4
    characters, the first label of its domain, then ``others`` (username, member id ...). Each word is
    NFKC-normalised and case-folded; blanks and repeats are left out, first occurrence kept.
    """
    words = [word for word in others if word]
    if email:
        address = unicodedata.normalize("NFKC", email)
        local, _, domain = address.rpartition("@") if "@" in address else (address, "", "")
        parts = [part for part in local.translate(_EMAIL_SEPARATORS).split() if len(part) >= 4]
        words = [local, *parts, domain.split(".", 1)[0], *words]
    folded = (unicodedata.normalize("NFKC", word).casefold().strip() for word in words)
    return list(dict.fromkeys(word for word in folded if word))


def _length_problem(length: int, min_length: int) -> str | None:
    if length < min_length:
        return f"must be at least {min_length} characters"
    if length > MAX_PASSWORD_CHARS:
        return f"must be at most {MAX_PASSWORD_CHARS} characters"
    return None


def _blocklist_problem(folded: str, lowered: str, blocklist: Container[str]) -> str | None:
    # Case-folding turns "ß" into "ss" while a lower-cased list keeps "ß": either spelling is a hit.
    if folded in blocklist or lowered in blocklist:
        return "is a commonly used password"
    return None


def _pattern_problem(folded: str) -> str | None:
    if len(set(folded)) < MIN_DISTINCT_CHARS:
        return f"uses fewer than {MIN_DISTINCT_CHARS} different characters"
    if _is_run(folded):
        return "is a run of consecutive characters"
    if any(_has_period(folded, unit) for unit in range(1, MAX_REPEATED_UNIT + 1)):
        return "repeats a short pattern"
    return None


def _guessable_problem(folded: str, min_length: int) -> str | None:
    # zxcvbn counts an unknown character as 10 guesses: below 8 characters (with MFA) 10^8 is unreachable.
    floor = min(MIN_GUESSES_LOG10, min_length - 1)
    # Also without its spaces and punctuation: "letmein letmein!" is one word said twice.
    forms = {folded[:ZXCVBN_MAX_CHARS], _SEPARATORS.sub("", folded)[:ZXCVBN_MAX_CHARS]}
    if any(form and zxcvbn(form)["guesses_log10"] < floor for form in forms):
        return "is easy to guess: a common password repeated or padded, a keyboard pattern or a sequence"
    return None


def _step(previous: str, current: str) -> int:
    if previous == "9" and current == "0":
        return 1
    if previous == "0" and current == "9":
        return -1
    return ord(current) - ord(previous)


def _is_run(text: str) -> bool:
    steps = {_step(a, b) for a, b in itertools.pairwise(text)}
    return steps in ({1}, {-1})


def _has_period(text: str, unit: int) -> bool:
    return all(text[i] == text[i - unit] for i in range(unit, len(text)))


# Longest first, so "chargebackdesk" is named as a whole before "chargeback".
_BRAND_SKELETONS = sorted(((skeleton(brand), brand) for brand in BRAND_WORDS), key=lambda b: -len(b[0]))


def _brand_problem(normalised: str) -> str | None:
    shape = skeleton(normalised)
    brand = next((name for brand_shape, name in _BRAND_SKELETONS if brand_shape in shape), None)
    return None if brand is None else f'contains the name "{brand}"'


def _context_problem(folded: str, context: Iterable[str]) -> str | None:
    words = {unicodedata.normalize("NFKC", word).casefold() for word in context}
    remaining, found = folded, False
    for word in sorted((w for w in words if len(w) >= MIN_CONTEXT_WORD_CHARS), key=lambda w: (-len(w), w)):
        if word in remaining:
            found, remaining = True, remaining.replace(word, "")
    if not found or len(remaining) >= MIN_CHARS_BESIDES_CONTEXT:
        return None
    return "is built around your email address, username or member id"
