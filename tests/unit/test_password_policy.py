"""Unit tests for app.domain.passwords: the NIST SP 800-63B-4 password policy."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from app.domain.errors import FieldProblem, WeakPassword
from app.domain.passwords import (
    BRAND_WORDS,
    MAX_PASSWORD_CHARS,
    MULTI_FACTOR_MIN_CHARS,
    SINGLE_FACTOR_MIN_CHARS,
    check_password,
    context_words,
    normalise_password,
)
from tests.unit.unicode_forms import wide

BLOCKLIST = frozenset(
    {"passwordpassword1", "correcthorsebatterystaple", "straße-straße-123", "grossegrosse12345!"}
)
CONTEXT = tuple(context_words("alice.wonder+shop@example.com", "M12345678", "bob"))

TOO_SHORT = "must be at least 15 characters"
TOO_LONG = "must be at most 256 characters"
COMMON = "is a commonly used password"
FEW_CHARS = "uses fewer than 4 different characters"
RUN = "is a run of consecutive characters"
PATTERN = "repeats a short pattern"
PERSONAL = "is built around your email address, username or member id"
GUESSABLE = "is easy to guess: a common password repeated or padded, a keyboard pattern or a sequence"


def _check(
    password: str, *, min_length: int = SINGLE_FACTOR_MIN_CHARS, context: Iterable[str] = CONTEXT
) -> None:
    check_password(password, min_length=min_length, blocklist=BLOCKLIST, context=context)


def _refusal(
    password: str, *, min_length: int = SINGLE_FACTOR_MIN_CHARS, context: Iterable[str] = CONTEXT
) -> WeakPassword:
    with pytest.raises(WeakPassword) as caught:
        _check(password, min_length=min_length, context=context)
    return caught.value


ACCEPTED = [
    pytest.param("purple monkey dishwasher", id="passphrase-with-spaces"),
    pytest.param("tr0ub4dor&3-horse", id="mixed-ascii"),
    pytest.param("x" + "q7Rz" * 3 + "Lm", id="fifteen-exactly"),
    pytest.param("我的密码是一只会飞的红色大象啊", id="fifteen-chinese"),
    pytest.param("🐱🐶🐭🐹🐰🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵", id="fifteen-emoji"),
    pytest.param("Пароль на русском языке", id="cyrillic"),
    pytest.param("aabbccddeeffgghh", id="pairs-not-a-period"),
    pytest.param("wonderland of secret keys", id="context-part-plus-plenty"),
]

# Just outside the exact rules (not the blocklist entry, not a whole run, not a period of 1-4, a
# context word too short to count), and still what a cracker tries early: refused as guessable.
NEAR_MISSES = [
    pytest.param("PASSWORDPASSWORD2", id="near-blocklist-entry"),
    pytest.param("abcdefghijklmnoq", id="run-broken-at-the-end"),
    pytest.param("abcdeabcdeabcdea", id="unit-of-five-repeated"),
    pytest.param("abcabcabcabcabcX", id="repetition-broken"),
    pytest.param("bob bob bob bob bob!", id="short-context-word-repeated"),
    pytest.param("0987654321-acquire", id="digit-run-plus-a-word"),
]


@pytest.mark.parametrize("password", NEAR_MISSES)
def test_a_near_miss_of_the_exact_rules_is_refused_as_guessable(password: str) -> None:
    assert _refusal(password).errors == [FieldProblem("password", GUESSABLE)]


@pytest.mark.parametrize("password", ACCEPTED)
def test_strong_password_is_accepted(password: str) -> None:
    _check(password)


REFUSED = [
    pytest.param("short", TOO_SHORT, id="five-chars"),
    pytest.param("q7Rz" * 3 + "Lm", TOO_SHORT, id="fourteen-chars"),
    pytest.param("我的密码是一只会飞的红色大象", TOO_SHORT, id="fourteen-chinese"),
    pytest.param("x" * 257, TOO_LONG, id="257-chars"),
    pytest.param("Zq7!" * 64 + "k", TOO_LONG, id="257-varied"),
    pytest.param("ﬀ" * 129, TOO_LONG, id="129-ligatures-make-258"),
    pytest.param("passwordpassword1", COMMON, id="blocklisted"),
    pytest.param("PassWordPassWord1", COMMON, id="blocklisted-any-case"),
    pytest.param(wide("PasswordPassword1"), COMMON, id="blocklisted-full-width"),
    pytest.param("correcthorsebatterystaple", COMMON, id="blocklisted-passphrase"),
    pytest.param("GroßeGroße12345!", COMMON, id="blocklisted-eszett-folded"),
    pytest.param("STRAßE-Straße-123", COMMON, id="blocklisted-eszett-lowered"),
    pytest.param("aaaaaaaaaaaaaaaa", FEW_CHARS, id="one-char"),
    pytest.param("aAaAaAaAaAaAaAaA", FEW_CHARS, id="one-char-two-cases"),
    pytest.param("ababababababababab", FEW_CHARS, id="two-chars"),
    pytest.param("abcabcabcabcabcab", FEW_CHARS, id="three-chars"),
    pytest.param("               ", FEW_CHARS, id="spaces-only"),
    pytest.param("abcdefghijklmnop", RUN, id="letters-up"),
    pytest.param("ABCDEFGHIJKLMNOP", RUN, id="letters-up-upper"),
    pytest.param("zyxwvutsrqponmlk", RUN, id="letters-down"),
    pytest.param("123456789012345", RUN, id="digits-up-wrapping"),
    pytest.param("987654321098765", RUN, id="digits-down-wrapping"),
    pytest.param(wide("ABCDEFGHIJKLMNOP"), RUN, id="letters-up-full-width"),
    pytest.param("αβγδεζηθικλμνξο", RUN, id="greek-up"),
    pytest.param("abcdabcdabcdabcd", PATTERN, id="unit-of-four"),
    pytest.param("abcdabcdabcdabc", PATTERN, id="unit-of-four-cut-short"),
    pytest.param("Ab1!Ab1!Ab1!Ab1!", PATTERN, id="unit-of-four-mixed"),
    pytest.param("aliexpressaliexpress", 'contains the name "aliexpress"', id="brand-twice"),
    pytest.param("AliExpress12345!", 'contains the name "aliexpress"', id="brand-plus-six"),
    pytest.param("aliexpress-fan-club-2024", 'contains the name "aliexpress"', id="brand-plus-eight-more"),
    pytest.param("my taobao account rocks", 'contains the name "taobao"', id="brand-in-a-passphrase"),
    pytest.param("Ali Express passphrase 2026", 'contains the name "aliexpress"', id="brand-split"),
    pytest.param("t4ob4o shopping forever", 'contains the name "taobao"', id="brand-in-leet"),
    pytest.param("TaoBao+AliBaba!!", 'contains the name "alibaba"', id="two-brands"),
    pytest.param("chargebackdesk1!", 'contains the name "chargebackdesk"', id="longest-brand"),
    pytest.param("ChargeBack-Desk!", 'contains the name "chargebackdesk"', id="brand-with-separator"),
    pytest.param(wide("taobao") + "-shopping", 'contains the name "taobao"', id="brand-full-width"),
    pytest.param("alice.wonder+shop!!", PERSONAL, id="whole-email-local-part"),
    pytest.param("Wonder-Wonder-42", PERSONAL, id="local-part-piece"),
    pytest.param("M12345678-secret", PERSONAL, id="member-id"),
    pytest.param("m12345678aliexpress", 'contains the name "aliexpress"', id="brand-named-first"),
]


@pytest.mark.parametrize(("password", "reason"), REFUSED)
def test_weak_password_is_refused_with_reason(password: str, reason: str) -> None:
    error = _refusal(password)
    assert error.code == "weak_password"
    assert error.errors == [FieldProblem("password", reason)]
    assert error.detail == f"The password {reason}."


@pytest.mark.parametrize(("password", "reason"), REFUSED)
def test_refusal_never_contains_the_password(password: str, reason: str) -> None:
    error = _refusal(password)
    for text in (error.detail, str(error), *(problem.message for problem in error.errors)):
        assert password not in text
        assert normalise_password(password).casefold() not in text.casefold()


@pytest.mark.parametrize("length", [15, 64, 255, 256])
def test_length_within_bounds_is_accepted(length: int) -> None:
    _check("".join(chr(0x4E00 + (i * 7) % 500) for i in range(length)))


@pytest.mark.parametrize(("min_length", "password"), [(8, "q7Rz!Lm2"), (15, "q7Rz!Lm2-vT9w#k")])
def test_password_at_min_length_is_accepted(min_length: int, password: str) -> None:
    _check(password, min_length=min_length)


@pytest.mark.parametrize(("min_length", "password"), [(8, "q7Rz!Lm"), (20, "q7Rz!Lm2-vT9w#kP0o!")])
def test_password_below_min_length_is_refused(min_length: int, password: str) -> None:
    assert _refusal(password, min_length=min_length).errors == [
        FieldProblem("password", f"must be at least {min_length} characters")
    ]


@pytest.mark.parametrize("min_length", [0, 7, 65])
def test_min_length_outside_8_to_64_is_a_programming_error(min_length: int) -> None:
    with pytest.raises(ValueError, match="min_length"):
        _check("q7Rz!Lm2-vT9w#kP0o!", min_length=min_length)


def test_length_counts_code_points_after_nfkc() -> None:
    # 14 code points as typed, 15 once the ligature "ﬁ" becomes "fi".
    _check("ﬁsh and chips!")
    assert _refusal("fish and chip!").errors == [FieldProblem("password", TOO_SHORT)]


def test_combining_sequence_counts_each_code_point() -> None:
    # "q" + COMBINING ACUTE ACCENT has no precomposed form, so NFKC keeps two code points.
    password = "q\u0301" * 8
    assert len(normalise_password(password)) == 16
    assert _refusal(password).errors == [FieldProblem("password", FEW_CHARS)]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        pytest.param("ﬁsh", "fish", id="ligature"),
        pytest.param(wide("ABC123"), "ABC123", id="full-width-keeps-case"),
        pytest.param("Cafe\u0301", "Caf\u00e9", id="composed"),
        pytest.param("Straße", "Straße", id="never-case-folded"),
        pytest.param("x²", "x2", id="superscript"),
        pytest.param("  spaced  ", "  spaced  ", id="spaces-kept"),
    ],
)
def test_normalise_password_applies_nfkc_only(password: str, expected: str) -> None:
    assert normalise_password(password) == expected


def test_nfkc_equivalent_passwords_normalise_alike() -> None:
    assert normalise_password("ﬁnancial-freedom!") == normalise_password("financial-freedom!")


def test_blocklist_entry_hidden_by_nfkc_is_refused() -> None:
    blocklist = {"financialfreedom"}
    with pytest.raises(WeakPassword):
        check_password("ﬁnancialfreedom", min_length=15, blocklist=blocklist, context=())


def test_empty_blocklist_and_context_accept_a_varied_password() -> None:
    check_password("q7Rz!Lm2-vT9w#kP", min_length=15, blocklist=(), context=())


def test_blocklist_checked_before_patterns() -> None:
    error = _refusal("abcdefghijklmnop", context=())
    assert error.errors == [FieldProblem("password", RUN)]
    with pytest.raises(WeakPassword) as caught:
        check_password("abcdefghijklmnop", min_length=15, blocklist={"abcdefghijklmnop"}, context=())
    assert caught.value.errors == [FieldProblem("password", COMMON)]


@pytest.mark.parametrize("brand", BRAND_WORDS)
def test_a_brand_anywhere_in_a_password_is_refused_and_named(brand: str) -> None:
    for password in (brand.upper() * 2 + "Zq7!Lm2", "Zq7!Lm2x-Pw4#Rt " + brand + " Vb9$Kd3w"):
        assert _refusal(password, context=()).errors[0].message == f'contains the name "{brand}"'


@pytest.mark.parametrize(
    ("context", "password"),
    [
        pytest.param(("ab",), "ab" * 4 + "Zq7!Lm2", id="two-char-word-ignored"),
        pytest.param(("abc",), "abc" * 3 + "Zq7!Lm2", id="three-char-word-ignored"),
        pytest.param(("",), "Zq7!Lm2x-Pw4#Rt", id="empty-word-ignored"),
    ],
)
def test_context_word_shorter_than_four_is_ignored(context: tuple[str, ...], password: str) -> None:
    _check(password, context=context)


@pytest.mark.parametrize(
    ("context", "password"),
    [
        pytest.param(("abcd",), "abcd" * 2 + "Zq7!Lm2", id="four-char-word"),
        pytest.param(("JohnSmith",), "johnsmith-2024!", id="case-folded-word"),
        pytest.param((wide("johnsmith"),), "JohnSmith-2024!", id="full-width-word"),
        pytest.param(("johnsmith", "2024"), "johnsmith-2024-x!!", id="two-words"),
    ],
)
def test_password_built_on_context_word_is_refused(context: tuple[str, ...], password: str) -> None:
    assert _refusal(password, context=context).errors == [FieldProblem("password", PERSONAL)]


def test_password_equal_to_context_word_is_refused_without_echo() -> None:
    password = "JohnSmith-1985!"
    error = _refusal(password, context=[password])
    assert error.errors == [FieldProblem("password", PERSONAL)]
    assert "johnsmith" not in error.detail.casefold()


@pytest.mark.parametrize(
    ("email", "others", "expected"),
    [
        pytest.param(
            "Alice.Wonder+shop@Example.com",
            (),
            ["alice.wonder+shop", "alice", "wonder", "shop", "example"],
            id="split-local-part",
        ),
        pytest.param("li_na-xu@qq.com", (), ["li_na-xu", "qq"], id="short-parts-dropped"),
        pytest.param(
            "bob@mail.example.org", ("Bobby", None, "M00042"), ["bob", "mail", "bobby", "m00042"], id="others"
        ),
        pytest.param(None, ("carol", ""), ["carol"], id="no-email"),
        pytest.param("noatsign", (), ["noatsign"], id="no-at-sign"),
        pytest.param("a@b@host.cn", (), ["a@b", "host"], id="last-at-sign-splits"),
        pytest.param("dave@dave.example", ("Dave",), ["dave"], id="repeats-dropped"),
        pytest.param(
            wide("john.smith@example") + ".com", (), ["john.smith", "john", "smith", "example"], id="nfkc"
        ),
    ],
)
def test_context_words_from_email_and_others(
    email: str | None, others: tuple[str | None, ...], expected: list[str]
) -> None:
    assert context_words(email, *others) == expected


def test_context_words_refuse_a_password_built_on_the_email() -> None:
    words = context_words("wonderland.alice@example.com", "member7781")
    with pytest.raises(WeakPassword):
        check_password("Wonderland-Alice", min_length=15, blocklist=(), context=words)
    check_password("Wonderland-keys-of-glass", min_length=15, blocklist=(), context=words)


def test_policy_constants_follow_nist() -> None:
    assert MAX_PASSWORD_CHARS == 256
    assert SINGLE_FACTOR_MIN_CHARS == 15
    assert MULTI_FACTOR_MIN_CHARS == 8
    assert BRAND_WORDS == ("aliexpress", "taobao", "alibaba", "chargeback", "chargebackdesk")


@pytest.mark.parametrize(
    "password",
    [
        "passwordpassword",  # a common password twice
        "password password",
        "letmein letmein!",  # twice, with a space and a mark between
        "iloveyouiloveyou",
        "Passw0rd!Passw0rd!",  # l33t, twice
        "Password123456789",  # padded with a run
        "qwertyuiopasdfgh",  # keyboard rows
        "1q2w3e4r5t6y7u8i",  # a keyboard zigzag
    ],
)
def test_a_guessable_password_the_other_rules_miss_is_refused(password: str) -> None:
    with pytest.raises(WeakPassword) as info:
        _check(password)
    assert info.value.errors == [FieldProblem("password", GUESSABLE)]


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Correct-Horse-Battery-Staple",
        "purple rain falls down",
        "gardenparty forever and ever",
        "not the password at all",
    ],
)
def test_a_passphrase_of_common_words_is_not_guessable(password: str) -> None:
    _check(password, context=())
