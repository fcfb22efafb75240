"""Login throttling per account and per address: how long to wait after consecutive failures.

Business rule: security checklist item 22, from NIST SP 800-63B-4 §3.2.2 (rate limiting) and OWASP
ASVS 4.0.3 2.2.1 and the Authentication cheat sheet. The first :data:`FREE_FAILURES` consecutive
failures cost nothing; from then on each failure imposes a delay, :data:`FIRST_DELAY` after the
fifth, doubling with every further one, capped at :data:`MAX_DELAY`. The cap is reached at the 12th
failure, so an account takes fewer than 100 wrong guesses an hour (the NIST bound) without ever being
locked for good, and password recovery stays open. The caller counts failures per account and per
address (email or phone), resets the count on success, and keeps the instant of the last failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.domain.account_rules import seconds_until

__all__ = ["FIRST_DELAY", "FREE_FAILURES", "MAX_DELAY", "delay_after", "locked_until", "retry_after"]

FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)

# 30 s doubled 7 times is 3 840 s, past the cap; stopping there keeps huge counts cheap.
_DOUBLINGS_TO_CAP = 7


def delay_after(failures: int) -> timedelta:
    """The wait imposed after ``failures`` consecutive failures: 0, then 30 s, 60 s, 120 s ... up to 1 h."""
    if failures < 0:
        raise ValueError(f"failures must not be negative, got {failures}")
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, _DOUBLINGS_TO_CAP)
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)


def locked_until(last_failure_at: datetime | None, failures: int) -> datetime | None:
    """The instant before which no login is tried, or ``None`` when there is no wait."""
    delay = delay_after(failures)
    if last_failure_at is None or not delay:
        return None
    return last_failure_at + delay


def retry_after(now: datetime, last_failure_at: datetime | None, failures: int) -> int:
    """Seconds until a login may be tried (at least 1 while locked), 0 when it may be tried now."""
    until = locked_until(last_failure_at, failures)
    return 0 if until is None else seconds_until(until, now)
