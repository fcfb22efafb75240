"""Unit tests for app.domain.email_policy: stored form, lookup key and the blocked-brand rule."""

from __future__ import annotations

import unicodedata

import pytest

from app.domain.email_policy import (
    BLOCKED_BRANDS,
    CONFUSABLES,
    check_email_brand,
    check_email_length,
    email_key,
    normalise_email,
    skeleton,
)
from app.domain.errors import EmailNotAllowed, FieldProblem, InvalidEmail
from tests.unit.unicode_forms import wide

CYR_A = "\N{CYRILLIC SMALL LETTER A}"
CYR_IE = "\N{CYRILLIC SMALL LETTER IE}"
CYR_ER = "\N{CYRILLIC SMALL LETTER ER}"
CYR_HA = "\N{CYRILLIC SMALL LETTER HA}"
CYR_O = "\N{CYRILLIC SMALL LETTER O}"
CYR_TAOBAO_UPPER = "\N{CYRILLIC CAPITAL LETTER TE}\N{CYRILLIC CAPITAL LETTER A}\N{CYRILLIC CAPITAL LETTER O}"
CYR_TAOBAO_UPPER += "\N{CYRILLIC CAPITAL LETTER VE}\N{CYRILLIC CAPITAL LETTER A}\N{CYRILLIC CAPITAL LETTER O}"
GREEK_ALIBABA_UPPER = "\N{GREEK CAPITAL LETTER ALPHA}L\N{GREEK CAPITAL LETTER IOTA}"
GREEK_ALIBABA_UPPER += "\N{GREEK CAPITAL LETTER BETA}\N{GREEK CAPITAL LETTER ALPHA}" * 2
ZWSP = "\N{ZERO WIDTH SPACE}"
SOFT_HYPHEN = "\N{SOFT HYPHEN}"
WORD_JOINER = "\N{WORD JOINER}"
IDEOGRAPHIC_STOP = "\N{IDEOGRAPHIC FULL STOP}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("alibaba", "aiibaba", id="l-reads-as-i"),
        pytest.param("AliExpress", "aiiexpress", id="case-folded"),
        pytest.param("Ali.Baba-Tao_Bao+x", "aiibabataobaox", id="separators-dropped"),
        pytest.param("a1ibaba", "aiibaba", id="digit-one"),
        pytest.param("AL1BABA", "aiibaba", id="digit-one-upper"),
        pytest.param("0 1 l | ! 3 4 @ 5 $ 7 8 9", "oiiiieaasstbg", id="leetspeak-table"),
        pytest.param("2 6 # % & * ~ _ ^", "", id="unmapped-symbols-dropped"),
        pytest.param("Straße", "strasse", id="eszett-is-ss"),
        pytest.param(wide("ALIBABA"), "aiibaba", id="full-width"),
        pytest.param(f"{CYR_A}libaba", "aiibaba", id="cyrillic-a"),
        pytest.param(CYR_TAOBAO_UPPER, "taobao", id="cyrillic-capitals"),
        pytest.param(GREEK_ALIBABA_UPPER, "aiibaba", id="greek-capitals"),
        pytest.param("àlíbábá", "aiibaba", id="accents-removed"),
        pytest.param("al\N{LATIN SMALL LETTER DOTLESS I}baba", "aiibaba", id="dotless-i"),
        pytest.param(f"ali{ZWSP}ba{SOFT_HYPHEN}ba{WORD_JOINER}", "aiibaba", id="invisible-dropped"),
        pytest.param("xn--80ak6aa92e", "appie", id="punycode-decoded"),
        pytest.param("XN--80AK6AA92E.com", "appiecom", id="punycode-upper-decoded"),
        pytest.param("xn--zz", "xnzz", id="bad-punycode-kept"),
        pytest.param("张伟 ivan Иван", "ivanbah", id="other-letters-dropped-look-alikes-kept"),
        pytest.param("", "", id="empty"),
    ],
)
def test_skeleton_maps_look_alikes_to_latin(text: str, expected: str) -> None:
    assert skeleton(text) == expected


def test_confusables_map_to_one_latin_letter() -> None:
    assert all(len(latin) == 1 and "a" <= latin <= "z" for latin in CONFUSABLES.values())
    # Keys must already be NFKC, case-folded and decomposed, or the lookup would never see them.
    for key in CONFUSABLES:
        assert unicodedata.normalize("NFD", unicodedata.normalize("NFKC", key).casefold()) == key


BLOCKED = [
    pytest.param("alibaba@example.com", id="plain-local-part"),
    pytest.param("ALIBABA@EXAMPLE.COM", id="upper-case"),
    pytest.param("shop@taobao.com", id="domain"),
    pytest.param("shop@mail.TaoBao.com", id="subdomain"),
    pytest.param("bob+aliexpress@example.com", id="plus-tag"),
    pytest.param("my-aliexpress-orders@example.com", id="inside-local-part"),
    pytest.param("a1ibaba@example.com", id="digit-one"),
    pytest.param("AL1BABA@example.com", id="digit-one-upper"),
    pytest.param("aIibaba@example.com", id="capital-i-for-l"),
    pytest.param("a|ibaba@example.com", id="pipe-for-l"),
    pytest.param("4l1b4b4@example.com", id="leetspeak"),
    pytest.param("ali8a8a@example.com", id="eight-for-b"),
    pytest.param("t40b40@example.com", id="taobao-leetspeak"),
    pytest.param("7ao8ao@example.com", id="seven-and-eight"),
    pytest.param("ali3xpre$$@example.com", id="aliexpress-leetspeak"),
    pytest.param("a!iexpre55@example.com", id="bang-and-fives"),
    pytest.param("aliexpreß@example.com", id="eszett"),
    pytest.param("ali.baba@example.com", id="dots"),
    pytest.param("ali-baba@example.com", id="hyphen"),
    pytest.param("ali_baba@example.com", id="underscore"),
    pytest.param("ali+baba@example.com", id="plus"),
    pytest.param("tao.bao.ng@example.com", id="separated-by-design"),
    pytest.param("ali@baba.example", id="across-the-at-sign"),
    pytest.param("ali2baba@example.com", id="unmapped-digit-dropped"),
    pytest.param(f"{CYR_A}libaba@example.com", id="cyrillic-a"),
    pytest.param(f"{CYR_A}li{CYR_IE}{CYR_HA}{CYR_ER}r{CYR_IE}ss@example.com", id="cyrillic-mix"),
    pytest.param(f"{CYR_TAOBAO_UPPER}@example.com", id="cyrillic-capitals"),
    pytest.param(f"{GREEK_ALIBABA_UPPER}@example.com", id="greek-capitals"),
    pytest.param(wide("alibaba") + "@example.com", id="full-width"),
    pytest.param(wide("ALIBABA@EXAMPLE.COM"), id="full-width-whole-address"),
    pytest.param(wide("ali@baba.example"), id="full-width-at-sign-separates"),
    pytest.param(f"ali{ZWSP}baba@example.com", id="zero-width-space"),
    pytest.param(f"tao{SOFT_HYPHEN}bao@example.com", id="soft-hyphen"),
    pytest.param("àlíbábá@example.com", id="accents"),
    pytest.param("bob@ali" + IDEOGRAPHIC_STOP + "baba.example", id="ideographic-full-stop"),
    pytest.param(
        "bob@xn--libaba-2nf\N{HALFWIDTH IDEOGRAPHIC FULL STOP}com", id="punycode-before-halfwidth-stop"
    ),
    pytest.param("bob@xn--libaba-2nf.com", id="punycode-cyrillic-a-domain"),
    pytest.param("bob@XN--TOBAO-4VE.example", id="punycode-upper"),
    pytest.param('"t@obao"@example.com', id="at-inside-quoted-local-part"),
    pytest.param(f"t{CYR_A}{CYR_O}b{CYR_A}{CYR_O}", id="no-at-sign"),
]


@pytest.mark.parametrize("email", BLOCKED)
def test_address_with_disguised_brand_is_refused(email: str) -> None:
    with pytest.raises(EmailNotAllowed) as caught:
        check_email_brand(email)
    assert caught.value.code == "email_not_allowed"
    assert caught.value.errors == [FieldProblem("email", "contains a blocked brand name")]
    assert caught.value.detail == "The address may not contain the name of aliexpress, taobao or alibaba."


ALLOWED = [
    pytest.param("alice.baker@example.com", id="alice-baker"),
    pytest.param("bob@alibank.example", id="alibank"),
    pytest.param("ali@example.com", id="ali"),
    pytest.param("baba@example.com", id="baba"),
    pytest.param("tao@example.cn", id="tao"),
    pytest.param("mr.taobo@example.com", id="taobo"),
    pytest.param("alibab@example.com", id="alibab"),
    pytest.param("aliexpres@example.com", id="aliexpres"),
    pytest.param("express.ali@example.com", id="express-ali"),
    pytest.param("babaali@example.com", id="reversed"),
    pytest.param("ali2026@example.com", id="digits"),
    pytest.param("张伟@example.cn", id="chinese-local-part"),
    pytest.param("bob@xn--bcher-kva.example", id="punycode-other-word"),
    pytest.param("bob@xn--zz.example", id="bad-punycode"),
    pytest.param("natalia.baranova@example.com", id="natalia"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("email", ALLOWED)
def test_address_without_brand_is_allowed(email: str) -> None:
    check_email_brand(email)


@pytest.mark.parametrize("brand", BLOCKED_BRANDS)
def test_each_brand_alone_is_refused(brand: str) -> None:
    with pytest.raises(EmailNotAllowed):
        check_email_brand(f"{brand}@example.com")
    with pytest.raises(EmailNotAllowed):
        check_email_brand(f"me@{brand}.example")


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        pytest.param("Bob.Smith+Shop@Example.COM", "Bob.Smith+Shop@example.com", id="domain-lowered-only"),
        pytest.param("  bob@example.com\n", "bob@example.com", id="stripped"),
        pytest.param(wide("Bob") + "@" + wide("EXAMPLE.com"), "Bob@example.com", id="full-width"),
        pytest.param("bob@XN--BCHER-KVA.example", "bob@bücher.example", id="punycode-to-unicode"),
        pytest.param("bob@Bücher.Example", "bob@bücher.example", id="unicode-domain-lowered"),
        pytest.param("bob@xn--zz.example", "bob@xn--zz.example", id="bad-punycode-kept"),
        pytest.param('"a@b"@Example.com', '"a@b"@example.com', id="last-at-sign-splits"),
        pytest.param("Zhang.Wei@例子.CN", "Zhang.Wei@例子.cn", id="chinese-domain"),
        pytest.param(f"bob@例子{IDEOGRAPHIC_STOP}CN", "bob@例子.cn", id="ideographic-full-stop"),
        pytest.param("bob@例子\N{HALFWIDTH IDEOGRAPHIC FULL STOP}cn", "bob@例子.cn", id="halfwidth-stop"),
    ],
)
def test_normalise_email_lowers_the_domain_only(email: str, expected: str) -> None:
    assert normalise_email(email) == expected
    assert normalise_email(expected) == expected


@pytest.mark.parametrize("email", ["", "bob", "bob@", "@example.com", "   ", "@"])
def test_address_without_local_part_and_domain_is_invalid(email: str) -> None:
    with pytest.raises(InvalidEmail) as caught:
        normalise_email(email)
    assert caught.value.code == "invalid_email"
    assert caught.value.errors == [FieldProblem("email", "must be a local part, an @ and a domain")]


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        pytest.param("Bob.Smith+Shop@Example.COM", "bob.smith+shop@example.com", id="local-part-folded"),
        pytest.param("STRASSE@example.com", "strasse@example.com", id="upper"),
        pytest.param("Straße@example.com", "strasse@example.com", id="eszett-folded"),
        pytest.param("bob@XN--BCHER-KVA.example", "bob@bücher.example", id="punycode"),
        pytest.param(wide("Bob") + "@example.com", "bob@example.com", id="full-width"),
    ],
)
def test_email_key_folds_the_local_part(email: str, expected: str) -> None:
    assert email_key(email) == expected


def test_addresses_differing_in_case_share_a_key_but_not_a_stored_form() -> None:
    assert email_key("Bob@Example.com") == email_key("bob@EXAMPLE.COM")
    assert normalise_email("Bob@Example.com") != normalise_email("bob@EXAMPLE.COM")


def test_plus_tags_are_kept_apart() -> None:
    assert email_key("bob+shop@example.com") != email_key("bob@example.com")


def test_email_key_refuses_what_normalise_refuses() -> None:
    with pytest.raises(InvalidEmail):
        email_key("no-at-sign")


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("a" * 63 + "@example.com", True),
        ("a" * 64 + "@example.com", False),
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 60, True),  # 254 in all
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 61, False),
    ],
)
def test_an_address_is_at_most_63_characters_before_the_at_and_254_in_all(email: str, allowed: bool) -> None:
    if allowed:
        check_email_length(email)
        return
    with pytest.raises(InvalidEmail) as refused:
        check_email_length(email, "new_email")
    assert refused.value.errors == [FieldProblem("new_email", refused.value.errors[0].message)]
