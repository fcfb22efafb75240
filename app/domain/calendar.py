"""Working-day calendar for chargeback response deadlines.

Business rule (product spec): a seller has N working days (the seed default is 3) to appeal a chargeback.
The deadline ``respond_by`` is the end (23:59:59.999999 local) of the N-th working day *after* the calendar
date, in the business time zone (default Asia/Shanghai), on which the notice was received. Working days
skip weekends and the configured country's public holidays (default CN) as published by the maintained
``holidays`` library, which also knows China's official make-up working days (调休, weekend days that are
working days) for every year the State Council has announced. Configured extra working days win over
weekends and holidays; configured extra holidays win over normal weekdays. When the payment provider gives
its own deadline, the earlier of the two applies. Deadlines are returned as aware UTC datetimes.

Pure domain code (stdlib, ``holidays``, ``zoneinfo``). Holiday data is computed lazily per year (a December
notice sees January's holidays) and cached under a lock, so one calendar can be shared between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "DEFAULT_COUNTRY",
    "DEFAULT_RESPONSE_WORKING_DAYS",
    "DEFAULT_TIMEZONE",
    "WorkingCalendar",
    "build_calendar",
]

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_COUNTRY = "CN"
DEFAULT_RESPONSE_WORKING_DAYS = 3

_WEEKEND = frozenset({5, 6})  # Saturday, Sunday: the weekend when no country is configured.
_SPAN_CACHE = 4096
_ONE_DAY = timedelta(days=1)


def _require_aware(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {instant.isoformat()}")
    return instant


@dataclass(frozen=True)
class WorkingCalendar:
    """Immutable working-day calendar: business time zone, holiday country and configured overrides.

    Build it with :func:`build_calendar`; instances are safe to share between threads (the per-year
    holiday cache is filled under a lock).
    """

    timezone: ZoneInfo
    country: str | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    _closed_days: dict[int, frozenset[date]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _spans: dict[tuple[date, date], int] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.country is not None:
            try:
                holidays.country_holidays(self.country, years=())
            except NotImplementedError as exc:
                raise ValueError(f"unknown holiday country code: {self.country!r}") from exc

    def _non_working_days(self, country: str, year: int) -> frozenset[date]:
        """Weekends and public holidays of ``year`` that are not make-up working days (cached per year)."""
        cached = self._closed_days.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._closed_days.get(year)
            if cached is None:
                lib = holidays.country_holidays(country, years=year)
                day, closed = date(year, 1, 1), set[date]()
                while day.year == year:
                    # The library's own test, because it knows the 调休 weekend days that are working days.
                    if not lib.is_working_day(day):
                        closed.add(day)
                    day += _ONE_DAY
                cached = self._closed_days[year] = frozenset(closed)
            return cached

    def is_working_day(self, day: date) -> bool:
        """Whether sellers' working days include ``day``.

        Extra working days win over weekends and holidays; extra holidays win over weekdays; otherwise a
        day works unless it is a weekend or a public holiday of the country (for CN: official make-up
        weekend days, 调休, are working days). Without a country only Saturday and Sunday are closed.
        """
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.country is None:
            return day.weekday() not in _WEEKEND
        return day not in self._non_working_days(self.country, day.year)

    def add_working_days(self, start: date, n: int) -> date:
        """Return the ``n``-th working day strictly after ``start`` (``start`` itself when ``n`` is 0)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day = start
        for _ in range(n):
            day += _ONE_DAY
            while not self.is_working_day(day):
                day += _ONE_DAY
        return day

    def to_local(self, instant: datetime) -> datetime:
        """Convert an aware ``instant`` to the business time zone; naive is rejected."""
        return _require_aware(instant, "instant").astimezone(self.timezone)

    def local_date(self, instant: datetime) -> date:
        """Calendar date of ``instant`` in the business time zone: the "day" from which working days count.

        Naive datetimes raise ValueError because the receipt day of a chargeback notice must be unambiguous.
        """
        return self.to_local(instant).date()

    def end_of_day_utc(self, day: date) -> datetime:
        """End of ``day`` (23:59:59.999999 in the business time zone) as an aware UTC datetime.

        Chargeback deadlines fall at the end of the last working day, e.g. 15:59:59.999999Z in Shanghai.
        """
        return datetime.combine(day, time.max, tzinfo=self.timezone).astimezone(UTC)

    def respond_by(
        self, received_at: datetime, working_days: int, provider_due_at: datetime | None = None
    ) -> datetime:
        """Deadline for a seller's appeal, as an aware UTC datetime.

        The end of the ``working_days``-th working day after the local receipt date; if the provider set
        an earlier ``provider_due_at``, that wins. ``working_days == 0`` means the end of the receipt day.
        """
        received_day = self.local_date(_require_aware(received_at, "received_at"))
        deadline = self.end_of_day_utc(self.add_working_days(received_day, working_days))
        if provider_due_at is not None:
            deadline = min(deadline, _require_aware(provider_due_at, "provider_due_at").astimezone(UTC))
        return deadline

    def working_days_left(self, now: datetime, respond_by: datetime) -> int:
        """Working days still open from ``now``'s local date up to and including ``respond_by``'s local date.

        Today counts when it is a working day and the deadline has not passed; the deadline instant itself
        is still open, and once ``now`` is after ``respond_by`` the answer is 0.
        """
        if _require_aware(now, "now") > _require_aware(respond_by, "respond_by"):
            return 0
        return self.working_days_between(self.local_date(now), self.local_date(respond_by))

    def working_days_between(self, first: date, last: date) -> int:
        """Working days from ``first`` up to and including ``last`` (0 when ``last`` is earlier)."""
        # A list shows many cases due on the same few days: count each span of days once.
        count = self._spans.get((first, last))
        if count is None:
            count, day = 0, first
            while day <= last:
                count += self.is_working_day(day)
                day += _ONE_DAY
            if len(self._spans) > _SPAN_CACHE:
                self._spans.clear()
            self._spans[first, last] = count
        return count


def _only_dates(values: Iterable[date], name: str) -> frozenset[date]:
    result: set[date] = set()
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise ValueError(f"{name} must contain dates, got {value!r}")
        result.add(value)
    return frozenset(result)


def build_calendar(
    timezone: str,
    country: str | None,
    extra_holidays: Iterable[date] = (),
    extra_workdays: Iterable[date] = (),
) -> WorkingCalendar:
    """Build the working calendar used for chargeback deadlines from configuration values.

    ``timezone`` is an IANA name; ``country`` an ISO 3166 code known to ``holidays``, or None/empty for
    weekends only. Extra holidays and working days (BUSINESS_HOLIDAYS / BUSINESS_WORKDAYS) override the
    library. Unknown time zones or country codes raise ValueError.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {timezone!r}") from exc
    code = country.strip().upper() if country else ""
    return WorkingCalendar(
        timezone=zone,
        country=code or None,
        extra_holidays=_only_dates(extra_holidays, "extra_holidays"),
        extra_workdays=_only_dates(extra_workdays, "extra_workdays"),
    )
