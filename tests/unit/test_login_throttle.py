"""Unit tests for app.domain.login_throttle: delays after consecutive login failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.login_throttle import (
    FIRST_DELAY,
    FREE_FAILURES,
    MAX_DELAY,
    delay_after,
    locked_until,
    retry_after,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
US = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        (0, 0),
        (1, 0),
        (4, 0),
        (5, 30),
        (6, 60),
        (7, 120),
        (8, 240),
        (9, 480),
        (10, 960),
        (11, 1920),
        (12, 3600),
        (13, 3600),
        (100, 3600),
        (10**9, 3600),
    ],
)
def test_delay_after_failures(failures: int, seconds: int) -> None:
    assert delay_after(failures) == timedelta(seconds=seconds)


def test_negative_failures_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="failures"):
        delay_after(-1)


def test_fastest_attacker_gets_fewer_than_100_guesses_in_any_hour() -> None:
    # Each guess comes as soon as the delay imposed by the failures before it allows.
    guesses, at = [], T0
    for failures in range(1, 400):
        guesses.append(at)
        at += delay_after(failures)
    hour = timedelta(hours=1)
    assert max(sum(start <= t < start + hour for t in guesses) for start in guesses) < 100
    assert sum(T0 <= t < T0 + hour for t in guesses) == 11


@pytest.mark.parametrize(
    ("last_failure_at", "failures", "expected"),
    [
        pytest.param(None, 0, None, id="never-failed"),
        pytest.param(None, 7, None, id="no-instant"),
        pytest.param(T0, FREE_FAILURES - 1, None, id="free-failures"),
        pytest.param(T0, FREE_FAILURES, T0 + FIRST_DELAY, id="fifth-failure"),
        pytest.param(T0, 8, T0 + timedelta(minutes=4), id="eighth-failure"),
        pytest.param(T0, 40, T0 + MAX_DELAY, id="capped"),
    ],
)
def test_locked_until_adds_the_delay(
    last_failure_at: datetime | None, failures: int, expected: datetime | None
) -> None:
    assert locked_until(last_failure_at, failures) == expected


@pytest.mark.parametrize(
    ("since_failure", "failures", "expected"),
    [
        pytest.param(timedelta(0), 4, 0, id="free"),
        pytest.param(timedelta(0), 5, 30, id="just-failed-fifth"),
        pytest.param(timedelta(seconds=12), 5, 18, id="part-way"),
        pytest.param(timedelta(seconds=29, microseconds=999_999), 5, 1, id="last-microsecond-is-one"),
        pytest.param(FIRST_DELAY, 5, 0, id="delay-over"),
        pytest.param(timedelta(minutes=30), 5, 0, id="long-after"),
        pytest.param(timedelta(minutes=1), 20, 3540, id="capped"),
        pytest.param(MAX_DELAY, 20, 0, id="capped-over"),
        pytest.param(-timedelta(seconds=10), 5, 40, id="failure-stamped-ahead-by-skew"),
    ],
)
def test_retry_after_counts_whole_seconds_up(since_failure: timedelta, failures: int, expected: int) -> None:
    assert retry_after(T0 + since_failure, T0, failures) == expected


def test_retry_after_without_a_failure_instant_is_zero() -> None:
    assert retry_after(T0, None, 50) == 0


def test_never_locked_for_good() -> None:
    assert all(retry_after(T0 + MAX_DELAY, T0, failures) == 0 for failures in range(0, 1000, 37))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(FREE_FAILURES, 5, id="free-failures"),
        pytest.param(FIRST_DELAY, timedelta(seconds=30), id="first-delay"),
        pytest.param(MAX_DELAY, timedelta(hours=1), id="max-delay"),
    ],
)
def test_throttle_constants_match_the_checklist(value: object, expected: object) -> None:
    assert value == expected
