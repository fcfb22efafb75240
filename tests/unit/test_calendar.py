"""Unit tests for the chargeback working-day calendar (app.domain.calendar).

Expected CN dates are checked against holidays 0.109, which carries the State Council schedules up to
2026 (make-up working days included). 2027 is not published yet: the library only estimates its holidays
and knows no 2027 make-up days, so 2027 make-up days are exercised through ``extra_workdays``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from app.domain.calendar import (
    DEFAULT_COUNTRY,
    DEFAULT_RESPONSE_WORKING_DAYS,
    DEFAULT_TIMEZONE,
    WorkingCalendar,
    build_calendar,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def _cn() -> WorkingCalendar:
    return build_calendar(DEFAULT_TIMEZONE, DEFAULT_COUNTRY)


def _sh(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An instant given in Shanghai wall-clock time."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def _eod_sh(y: int, m: int, d: int) -> datetime:
    """End of a Shanghai day in UTC: 15:59:59.999999Z on the same date (UTC+8, no DST)."""
    return datetime(y, m, d, 15, 59, 59, 999999, tzinfo=UTC)


# --- respond_by with the seed configuration (Asia/Shanghai, CN, 3 working days) -----------------------

RESPOND_BY_CN_CASES = [
    pytest.param(_sh(2026, 3, 2), _eod_sh(2026, 3, 5), id="monday-plain-week-thursday"),
    pytest.param(_sh(2026, 3, 4), _eod_sh(2026, 3, 9), id="wednesday-skips-weekend-monday"),
    pytest.param(_sh(2026, 3, 6), _eod_sh(2026, 3, 11), id="friday-to-wednesday"),
    pytest.param(_sh(2026, 3, 7), _eod_sh(2026, 3, 11), id="saturday-to-wednesday"),
    pytest.param(_sh(2026, 3, 8), _eod_sh(2026, 3, 11), id="sunday-to-wednesday"),
    # 2026-03-06 01:30 Shanghai (Friday) is still Thursday 2026-03-05 in UTC: the Shanghai date counts.
    pytest.param(datetime(2026, 3, 5, 17, 30, tzinfo=UTC), _eod_sh(2026, 3, 11), id="utc-thursday-is-sh-fri"),
    pytest.param(
        datetime(2026, 3, 5, 15, 59, 59, tzinfo=UTC), _eod_sh(2026, 3, 10), id="last-second-of-sh-thu"
    ),
    pytest.param(datetime(2026, 3, 5, 16, 0, tzinfo=UTC), _eod_sh(2026, 3, 11), id="first-second-of-sh-fri"),
    # Thursday 20:00 in New York is already Friday 09:00 in Shanghai.
    pytest.param(
        datetime(2026, 3, 5, 20, 0, tzinfo=NEW_YORK), _eod_sh(2026, 3, 11), id="ny-thursday-is-sh-fri"
    ),
    # Spring Festival 2026: Feb 15-23 closed; Sat Feb 14 and Sat Feb 28 are make-up working days.
    pytest.param(_sh(2026, 2, 12), _eod_sh(2026, 2, 24), id="spring-festival-thu-via-makeup-sat"),
    pytest.param(_sh(2026, 2, 13), _eod_sh(2026, 2, 25), id="spring-festival-fri-makeup-sat-counts"),
    pytest.param(_sh(2026, 2, 18), _eod_sh(2026, 2, 26), id="spring-festival-received-during-break"),
    pytest.param(_sh(2026, 2, 25), _eod_sh(2026, 2, 28), id="spring-festival-ends-on-makeup-sat"),
    # National Day 2026: Oct 1-7 closed; Sun Sep 20 and Sat Oct 10 are make-up working days.
    pytest.param(_sh(2026, 9, 18), _eod_sh(2026, 9, 22), id="national-day-makeup-sunday-counts"),
    pytest.param(_sh(2026, 9, 30), _eod_sh(2026, 10, 10), id="golden-week-ends-on-makeup-sat"),
    pytest.param(_sh(2026, 10, 3), _eod_sh(2026, 10, 10), id="received-inside-golden-week"),
    # Year boundaries: 2026 New Year closes Jan 1-3 and makes Sun Jan 4 a working day.
    pytest.param(_sh(2025, 12, 30), _eod_sh(2026, 1, 5), id="year-end-2025-tuesday"),
    pytest.param(_sh(2025, 12, 31), _eod_sh(2026, 1, 6), id="year-end-2025-wednesday"),
    pytest.param(_sh(2026, 12, 31), _eod_sh(2027, 1, 6), id="year-end-2026-into-2027-estimate"),
]


@pytest.mark.parametrize(("received_at", "expected"), RESPOND_BY_CN_CASES)
def test_seed_calendar_received_at_gives_expected_respond_by(
    received_at: datetime, expected: datetime
) -> None:
    result = _cn().respond_by(received_at, DEFAULT_RESPONSE_WORKING_DAYS)

    assert result == expected
    assert result.utcoffset() == timedelta(0)
    assert result.tzinfo is UTC


def test_seed_defaults_match_product_spec() -> None:
    assert (DEFAULT_TIMEZONE, DEFAULT_COUNTRY, DEFAULT_RESPONSE_WORKING_DAYS) == ("Asia/Shanghai", "CN", 3)


# --- the library data the table above relies on ---------------------------------------------------------

CN_2026_MAKE_UP_DAYS = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 9, 20),
    date(2026, 10, 10),
]


def test_library_2026_make_up_days_are_weekend_workdays() -> None:
    lib = holidays.country_holidays("CN", years=2026)

    assert all(day.weekday() >= 5 for day in CN_2026_MAKE_UP_DAYS)
    assert set(CN_2026_MAKE_UP_DAYS) <= lib.weekend_workdays


def test_library_2027_make_up_days_unknown_only_estimated_holidays() -> None:
    lib = holidays.country_holidays("CN", years=2027)

    assert not {day for day in lib.weekend_workdays if day.year == 2027}
    assert date(2027, 2, 8) in lib  # Spring Festival 2027 (estimated)


IS_WORKING_DAY_CN_CASES = [
    pytest.param(date(2026, 3, 9), True, id="plain-monday"),
    pytest.param(date(2026, 3, 7), False, id="plain-saturday"),
    pytest.param(date(2026, 3, 8), False, id="plain-sunday"),
    pytest.param(date(2026, 1, 1), False, id="new-year"),
    pytest.param(date(2026, 1, 2), False, id="new-year-bridge-friday"),
    pytest.param(date(2026, 1, 4), True, id="new-year-makeup-sunday"),
    pytest.param(date(2026, 2, 14), True, id="spring-makeup-saturday-before"),
    pytest.param(date(2026, 2, 16), False, id="spring-festival-eve"),
    pytest.param(date(2026, 2, 23), False, id="spring-festival-last-monday"),
    pytest.param(date(2026, 2, 24), True, id="spring-festival-back-to-work"),
    pytest.param(date(2026, 2, 28), True, id="spring-makeup-saturday-after"),
    pytest.param(date(2026, 9, 20), True, id="national-day-makeup-sunday"),
    pytest.param(date(2026, 10, 1), False, id="national-day"),
    pytest.param(date(2026, 10, 7), False, id="golden-week-last-day"),
    pytest.param(date(2026, 10, 8), True, id="after-golden-week"),
    pytest.param(date(2026, 10, 10), True, id="national-day-makeup-saturday"),
    pytest.param(date(2026, 10, 11), False, id="ordinary-sunday-after-makeup"),
]


@pytest.mark.parametrize(("day", "expected"), IS_WORKING_DAY_CN_CASES)
def test_cn_day_gives_expected_working_status(day: date, expected: bool) -> None:
    assert _cn().is_working_day(day) is expected


# --- configured overrides (BUSINESS_HOLIDAYS / BUSINESS_WORKDAYS) ---------------------------------------

OVERRIDE_CASES = [
    pytest.param((date(2026, 3, 10),), (), _sh(2026, 3, 6), _eod_sh(2026, 3, 12), id="extra-holiday-weekday"),
    pytest.param(
        (date(2026, 3, 7),), (), _sh(2026, 3, 6), _eod_sh(2026, 3, 11), id="extra-holiday-on-weekend"
    ),
    pytest.param((), (date(2026, 3, 7),), _sh(2026, 3, 6), _eod_sh(2026, 3, 10), id="extra-workday-saturday"),
    pytest.param(
        (), (date(2026, 10, 2),), _sh(2026, 9, 30), _eod_sh(2026, 10, 9), id="extra-workday-over-holiday"
    ),
    pytest.param(
        (date(2026, 3, 9),),
        (date(2026, 3, 9),),
        _sh(2026, 3, 6),
        _eod_sh(2026, 3, 11),
        id="workday-beats-holiday",
    ),
    # 2027 make-up days are not in the library yet; configuration supplies them (hypothetical Sat Feb 13).
    pytest.param((), (), _sh(2027, 2, 4), _eod_sh(2027, 2, 15), id="2027-spring-without-makeup"),
    pytest.param(
        (), (date(2027, 2, 13),), _sh(2027, 2, 4), _eod_sh(2027, 2, 13), id="2027-makeup-via-config"
    ),
]


@pytest.mark.parametrize(("extra_holidays", "extra_workdays", "received_at", "expected"), OVERRIDE_CASES)
def test_configured_overrides_give_expected_respond_by(
    extra_holidays: tuple[date, ...],
    extra_workdays: tuple[date, ...],
    received_at: datetime,
    expected: datetime,
) -> None:
    cal = build_calendar(DEFAULT_TIMEZONE, "CN", extra_holidays=extra_holidays, extra_workdays=extra_workdays)

    assert cal.respond_by(received_at, 3) == expected


# --- provider deadline -------------------------------------------------------------------------------

PROVIDER_CASES = [
    pytest.param(
        datetime(2026, 3, 4, 10, 0, tzinfo=UTC), datetime(2026, 3, 4, 10, 0, tzinfo=UTC), id="earlier"
    ),
    pytest.param(datetime(2026, 3, 20, 10, 0, tzinfo=UTC), _eod_sh(2026, 3, 5), id="later"),
    pytest.param(
        datetime(2026, 3, 4, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 3, 4, 14, 0, tzinfo=UTC),
        id="earlier-given-in-other-offset",
    ),
    pytest.param(None, _eod_sh(2026, 3, 5), id="absent"),
]


@pytest.mark.parametrize(("provider_due_at", "expected"), PROVIDER_CASES)
def test_provider_deadline_earlier_of_two_wins(provider_due_at: datetime | None, expected: datetime) -> None:
    result = _cn().respond_by(_sh(2026, 3, 2), 3, provider_due_at=provider_due_at)

    assert result == expected
    assert result.tzinfo is UTC


# --- end of day, add_working_days edges ------------------------------------------------------------------

END_OF_DAY_CASES = [
    pytest.param(
        "Asia/Shanghai", date(2026, 3, 5), datetime(2026, 3, 5, 15, 59, 59, 999999, tzinfo=UTC), id="sh"
    ),
    pytest.param(
        "America/New_York", date(2026, 3, 6), datetime(2026, 3, 7, 4, 59, 59, 999999, tzinfo=UTC), id="ny-est"
    ),
    pytest.param(
        "America/New_York",
        date(2026, 3, 9),
        datetime(2026, 3, 10, 3, 59, 59, 999999, tzinfo=UTC),
        id="ny-edt",
    ),
    pytest.param(
        "America/New_York", date(2026, 3, 8), datetime(2026, 3, 9, 3, 59, 59, 999999, tzinfo=UTC), id="dst"
    ),
]


@pytest.mark.parametrize(("tz", "day", "expected"), END_OF_DAY_CASES)
def test_end_of_day_local_gives_last_microsecond_in_utc(tz: str, day: date, expected: datetime) -> None:
    result = build_calendar(tz, None).end_of_day_utc(day)

    assert result == expected
    assert result.tzinfo is UTC
    assert build_calendar(tz, None).to_local(result).time().isoformat() == "23:59:59.999999"


def test_add_zero_working_days_returns_start_even_on_holiday() -> None:
    assert _cn().add_working_days(date(2026, 10, 1), 0) == date(2026, 10, 1)


def test_add_negative_working_days_raises_value_error() -> None:
    with pytest.raises(ValueError, match="n must be"):
        _cn().add_working_days(date(2026, 3, 2), -1)


def test_zero_working_days_deadline_is_end_of_receipt_day() -> None:
    assert _cn().respond_by(_sh(2026, 3, 7), 0) == _eod_sh(2026, 3, 7)


# --- working_days_left -----------------------------------------------------------------------------------

WORKING_DAYS_LEFT_CASES = [
    pytest.param(_sh(2026, 3, 2, 10), _eod_sh(2026, 3, 5), 4, id="monday-before-thursday-deadline"),
    pytest.param(_sh(2026, 3, 5, 9), _eod_sh(2026, 3, 5), 1, id="morning-of-last-day"),
    pytest.param(_sh(2026, 3, 5, 23, 59), _eod_sh(2026, 3, 5), 1, id="last-minute-of-last-day"),
    pytest.param(_eod_sh(2026, 3, 5), _eod_sh(2026, 3, 5), 1, id="exactly-at-deadline"),
    pytest.param(_sh(2026, 3, 6, 0, 0), _eod_sh(2026, 3, 5), 0, id="just-after-deadline"),
    pytest.param(_sh(2026, 3, 20), _eod_sh(2026, 3, 5), 0, id="long-after-deadline"),
    pytest.param(_sh(2026, 3, 7), _eod_sh(2026, 3, 11), 3, id="weekend-today-not-counted"),
    pytest.param(_sh(2026, 9, 30), _eod_sh(2026, 10, 10), 4, id="golden-week-counts-makeup-sat"),
    pytest.param(
        _sh(2026, 3, 5, 17), datetime(2026, 3, 5, 10, 0, tzinfo=UTC), 1, id="provider-deadline-open"
    ),
    pytest.param(
        _sh(2026, 3, 5, 19), datetime(2026, 3, 5, 10, 0, tzinfo=UTC), 0, id="provider-deadline-passed"
    ),
    pytest.param(_sh(2026, 3, 7), datetime(2026, 3, 7, 12, 0, tzinfo=UTC), 0, id="deadline-on-weekend"),
]


@pytest.mark.parametrize(("now", "respond_by", "expected"), WORKING_DAYS_LEFT_CASES)
def test_working_days_left_counts_open_working_days(
    now: datetime, respond_by: datetime, expected: int
) -> None:
    assert _cn().working_days_left(now, respond_by) == expected


# --- no country, other time zones --------------------------------------------------------------------------

NO_COUNTRY_CASES = [
    pytest.param(None, id="none"),
    pytest.param("", id="empty-string"),
]


@pytest.mark.parametrize("country", NO_COUNTRY_CASES)
def test_no_country_skips_weekends_only(country: str | None) -> None:
    cal = build_calendar(DEFAULT_TIMEZONE, country)

    assert cal.country is None
    assert cal.is_working_day(date(2026, 10, 1)) is True  # CN National Day, but no country configured
    assert cal.is_working_day(date(2026, 2, 14)) is False  # CN make-up Saturday does not apply
    assert cal.respond_by(_sh(2026, 9, 30), 3) == _eod_sh(2026, 10, 5)


NEW_YORK_CASES = [
    # Fri 20:00 EST is Saturday in UTC; deadline Wed Mar 11 ends in EDT (UTC-4) after the Mar 8 DST switch.
    pytest.param(
        datetime(2026, 3, 6, 20, 0, tzinfo=NEW_YORK),
        datetime(2026, 3, 12, 3, 59, 59, 999999, tzinfo=UTC),
        id="friday-evening-across-dst-start",
    ),
    # Fri Oct 30 (EDT) to Wed Nov 4, which ends in EST (UTC-5) after the Nov 1 switch.
    pytest.param(
        datetime(2026, 10, 30, 12, 0, tzinfo=NEW_YORK),
        datetime(2026, 11, 5, 4, 59, 59, 999999, tzinfo=UTC),
        id="friday-across-dst-end",
    ),
    # Thanksgiving (Thu Nov 26) is skipped: Wed 25, Fri 27, Mon 30.
    pytest.param(
        datetime(2026, 11, 24, 12, 0, tzinfo=NEW_YORK),
        datetime(2026, 12, 1, 4, 59, 59, 999999, tzinfo=UTC),
        id="thanksgiving-skipped",
    ),
]


@pytest.mark.parametrize(("received_at", "expected"), NEW_YORK_CASES)
def test_new_york_us_calendar_gives_dst_correct_deadline(received_at: datetime, expected: datetime) -> None:
    assert build_calendar("America/New_York", "us").respond_by(received_at, 3) == expected


def test_local_date_uses_business_timezone() -> None:
    instant = datetime(2026, 3, 5, 17, 30, tzinfo=UTC)

    assert build_calendar("Asia/Shanghai", "CN").local_date(instant) == date(2026, 3, 6)
    assert build_calendar("America/New_York", None).local_date(instant) == date(2026, 3, 5)


# --- rejected input ------------------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 5, 10, 0)
NAIVE_CALLS = [
    pytest.param(lambda cal: cal.local_date(NAIVE), id="local-date"),
    pytest.param(lambda cal: cal.to_local(NAIVE), id="to-local"),
    pytest.param(lambda cal: cal.respond_by(NAIVE, 3), id="respond-by-received"),
    pytest.param(
        lambda cal: cal.respond_by(_sh(2026, 3, 5), 3, provider_due_at=NAIVE), id="respond-by-provider"
    ),
    pytest.param(lambda cal: cal.working_days_left(NAIVE, _eod_sh(2026, 3, 9)), id="days-left-now"),
    pytest.param(lambda cal: cal.working_days_left(_sh(2026, 3, 5), NAIVE), id="days-left-deadline"),
]


@pytest.mark.parametrize("call", NAIVE_CALLS)
def test_naive_datetime_raises_value_error(call: Callable[[WorkingCalendar], object]) -> None:
    cal = _cn()
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal)


BAD_BUILD_CASES = [
    pytest.param("Asia/Shanghai", "XX", "country", id="unknown-country"),
    pytest.param("Mars/Olympus_Mons", "CN", "time zone", id="unknown-timezone"),
    pytest.param("", "CN", "time zone", id="empty-timezone"),
]


@pytest.mark.parametrize(("tz", "country", "message"), BAD_BUILD_CASES)
def test_bad_configuration_raises_value_error(tz: str, country: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_calendar(tz, country)


def test_direct_construction_with_unknown_country_raises_value_error() -> None:
    with pytest.raises(ValueError, match="country"):
        WorkingCalendar(timezone=SHANGHAI, country="XX")


def test_datetime_as_extra_holiday_raises_value_error() -> None:
    with pytest.raises(ValueError, match="extra_holidays"):
        build_calendar(DEFAULT_TIMEZONE, "CN", extra_holidays=[datetime(2026, 3, 10, tzinfo=UTC)])


# --- immutability, laziness, thread safety --------------------------------------------------------------


def test_calendar_is_frozen_and_compares_by_configuration() -> None:
    cal = _cn()

    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.country = "US"  # type: ignore[misc]
    assert cal == _cn()
    assert hash(cal) == hash(_cn())
    assert cal != build_calendar(DEFAULT_TIMEZONE, "CN", extra_holidays=[date(2026, 3, 10)])


def test_holidays_loaded_lazily_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    real = holidays.country_holidays
    years_loaded: list[int | Iterable[int] | None] = []

    def spy(country: str, *, years: int | Iterable[int] | None = None) -> holidays.HolidayBase:
        years_loaded.append(years)
        return real(country, years=years)

    cal = _cn()
    monkeypatch.setattr(holidays, "country_holidays", spy)
    assert years_loaded == []

    cal.is_working_day(date(2026, 12, 31))
    cal.is_working_day(date(2026, 3, 1))
    cal.add_working_days(date(2026, 12, 31), 3)

    assert years_loaded == [2026, 2027]


def test_concurrent_lookups_match_serial_results() -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(0, 4 * 365, 3)]
    expected = [_cn().is_working_day(day) for day in days]
    shared = _cn()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(shared.is_working_day, days * 4))

    assert results == expected * 4


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2026, 12, 1), date(2026, 12, 4), 4),
        (date(2026, 12, 5), date(2026, 12, 6), 0),  # a weekend
        (date(2026, 12, 4), date(2026, 12, 1), 0),  # last before first
        (date(2026, 12, 1), date(2026, 12, 1), 1),
    ],
)
def test_working_days_between_counts_each_day_once_and_remembers_it(
    first: date, last: date, expected: int
) -> None:
    cal = build_calendar(DEFAULT_TIMEZONE, "CN")
    assert cal.working_days_between(first, last) == expected
    assert cal.working_days_between(first, last) == expected  # the remembered answer is the same


def test_working_days_between_agrees_day_by_day_across_the_national_day_week() -> None:
    cal = build_calendar(DEFAULT_TIMEZONE, "CN")
    first = date(2026, 9, 20)
    for span in range(30):
        last = first + timedelta(days=span)
        brute = sum(cal.is_working_day(first + timedelta(days=i)) for i in range(span + 1))
        assert cal.working_days_between(first, last) == brute
