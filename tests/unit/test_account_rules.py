"""Unit tests for app.domain.account_rules: one-time codes, resend limits and lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.account_rules import (
    ACCESS_TTL,
    ACTIVATION_TTL,
    CODE_MAX_TRIES,
    CODE_TTL,
    REAUTH_WINDOW,
    REFRESH_TTL,
    REGISTRATION_TTL,
    RESEND_COOLDOWN,
    RESEND_HOURLY_CAP,
    RESEND_WINDOW,
    CodeState,
    code_state,
    login_is_recent,
    registration_status,
    resend_wait,
    seconds_until,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(timedelta(0), 0, id="now"),
        pytest.param(-timedelta(seconds=5), 0, id="past"),
        pytest.param(US, 1, id="one-microsecond-rounds-up"),
        pytest.param(timedelta(seconds=1), 1, id="one-second"),
        pytest.param(timedelta(seconds=1) + US, 2, id="just-over-one-second"),
        pytest.param(timedelta(seconds=59, milliseconds=999), 60, id="just-under-a-minute"),
        pytest.param(timedelta(days=2), 172_800, id="days"),
    ],
)
def test_seconds_until_rounds_up(after: timedelta, expected: int) -> None:
    assert seconds_until(T0 + after, T0) == expected


@pytest.mark.parametrize(
    ("age", "tries", "expected"),
    [
        pytest.param(timedelta(0), 0, "valid", id="fresh"),
        pytest.param(-timedelta(seconds=3), 0, "valid", id="issued-in-the-future-by-skew"),
        pytest.param(CODE_TTL - US, 0, "valid", id="last-microsecond"),
        pytest.param(CODE_TTL, 0, "expired", id="at-ttl"),
        pytest.param(timedelta(days=1), 0, "expired", id="long-gone"),
        pytest.param(timedelta(minutes=1), CODE_MAX_TRIES - 1, "valid", id="fourth-wrong-entry"),
        pytest.param(timedelta(minutes=1), CODE_MAX_TRIES, "exhausted", id="fifth-wrong-entry"),
        pytest.param(timedelta(minutes=1), 50, "exhausted", id="many-wrong-entries"),
        pytest.param(CODE_TTL, CODE_MAX_TRIES, "exhausted", id="exhausted-wins-over-expired"),
        pytest.param(CODE_TTL, CODE_MAX_TRIES - 1, "expired", id="expired-with-tries-left"),
    ],
)
def test_code_state_by_age_and_tries(age: timedelta, tries: int, expected: CodeState) -> None:
    assert code_state(T0, tries, T0 + age) == expected


def test_negative_tries_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="tries"):
        code_state(T0, -1, T0)


@pytest.mark.parametrize(
    ("since_last", "sent", "expected"),
    [
        pytest.param(None, 0, 0, id="never-sent"),
        pytest.param(timedelta(0), 1, 60, id="just-sent"),
        pytest.param(timedelta(seconds=30), 1, 30, id="mid-cooldown"),
        pytest.param(RESEND_COOLDOWN - MS, 1, 1, id="last-millisecond-of-cooldown"),
        pytest.param(RESEND_COOLDOWN, 1, 0, id="cooldown-over"),
        pytest.param(timedelta(minutes=5), RESEND_HOURLY_CAP - 1, 0, id="below-cap"),
        pytest.param(timedelta(seconds=10), RESEND_HOURLY_CAP - 1, 50, id="below-cap-in-cooldown"),
        pytest.param(timedelta(minutes=5), RESEND_HOURLY_CAP, 3300, id="at-cap"),
        pytest.param(timedelta(seconds=10), RESEND_HOURLY_CAP, 3590, id="at-cap-in-cooldown"),
        pytest.param(timedelta(minutes=5), RESEND_HOURLY_CAP + 3, 3300, id="over-cap"),
        pytest.param(RESEND_WINDOW - MS, RESEND_HOURLY_CAP, 1, id="at-cap-last-millisecond"),
        pytest.param(RESEND_WINDOW, RESEND_HOURLY_CAP, 0, id="at-cap-hour-over"),
    ],
)
def test_resend_wait_by_cooldown_and_hourly_cap(
    since_last: timedelta | None, sent: int, expected: int
) -> None:
    last_sent_at = None if since_last is None else T0 - since_last
    assert resend_wait(last_sent_at, sent, T0) == expected


@pytest.mark.parametrize(
    ("last_sent_at", "sent", "match"),
    [
        pytest.param(None, 1, "last_sent_at", id="count-without-instant"),
        pytest.param(T0, -1, "sent_in_last_hour", id="negative-count"),
    ],
)
def test_inconsistent_resend_facts_are_a_programming_error(
    last_sent_at: datetime | None, sent: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        resend_wait(last_sent_at, sent, T0)


def test_naive_and_aware_instants_do_not_mix() -> None:
    with pytest.raises(TypeError):
        code_state(T0.replace(tzinfo=None), 0, T0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(CODE_TTL, timedelta(minutes=10), id="code-ttl"),
        pytest.param(CODE_MAX_TRIES, 5, id="code-max-tries"),
        pytest.param(RESEND_COOLDOWN, timedelta(seconds=60), id="resend-cooldown"),
        pytest.param(RESEND_HOURLY_CAP, 5, id="resend-hourly-cap"),
        pytest.param(RESEND_WINDOW, timedelta(hours=1), id="resend-window"),
        pytest.param(ACTIVATION_TTL, timedelta(hours=24), id="activation-ttl"),
        pytest.param(ACCESS_TTL, timedelta(minutes=10), id="access-ttl"),
        pytest.param(REFRESH_TTL, timedelta(days=30), id="refresh-ttl"),
        pytest.param(REGISTRATION_TTL, timedelta(hours=1), id="registration-ttl"),
    ],
)
def test_rule_constants_match_the_checklist(value: object, expected: object) -> None:
    assert value == expected


def test_a_login_is_recent_for_five_minutes_and_never_from_the_future() -> None:
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert login_is_recent(at, at)
    assert login_is_recent(at, at + REAUTH_WINDOW)
    assert not login_is_recent(at, at + REAUTH_WINDOW + timedelta(microseconds=1))
    assert not login_is_recent(at + timedelta(seconds=1), at)


def test_a_registration_shows_expired_past_its_hour_or_its_tries_and_completed_stays() -> None:
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    ends = at + REGISTRATION_TTL
    assert (
        registration_status("pending_verification", ends, CODE_MAX_TRIES - 1, ends) == "pending_verification"
    )
    assert registration_status("verified", ends, 0, ends + timedelta(microseconds=1)) == "expired"
    assert registration_status("pending_verification", ends, CODE_MAX_TRIES, at) == "expired"
    assert registration_status("completed", ends, CODE_MAX_TRIES, ends + timedelta(days=1)) == "completed"
