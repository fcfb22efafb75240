"""Lifetimes and one-time-code rules of buyer accounts.

Business rules, from the security checklist (items 10-14, 18, 25) and its sources: NIST SP 800-63B-4
§3.1.3.2 (out-of-band codes), §3.2.2 (rate limiting), §4.2.1.2 (recovery codes), OWASP ASVS 5.0 6.5.5,
7.2.3, 2.4.1 and the OWASP Multifactor Authentication cheat sheet (send limits against SMS pumping).

* A one-time code (registration, recovery, email or phone change, deactivation) lives
  :data:`CODE_TTL` and takes at most :data:`CODE_MAX_TRIES` wrong entries; then it is void.
* A code to one destination is re-sent at most once per :data:`RESEND_COOLDOWN` and
  :data:`RESEND_HOURLY_CAP` times per hour, the first send included.
* A pending registration expires :data:`REGISTRATION_TTL` after it starts; an activation link after
  :data:`ACTIVATION_TTL`; an access token after :data:`ACCESS_TTL`; a refresh-token family after
  :data:`REFRESH_TTL` at most, however often it is rotated.
* Changing the email, phone or username, or binding a payment account, needs a login at most
  :data:`REAUTH_WINDOW` old, or the current password with the request (checklist items 24 and 29).

Instants are timezone-aware; waits are whole seconds rounded up, so a client that waits that long is
never early.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "ACCESS_TTL",
    "ACTIVATION_TTL",
    "CODE_MAX_TRIES",
    "CODE_TTL",
    "REAUTH_WINDOW",
    "REFRESH_TTL",
    "REGISTRATION_TTL",
    "RESEND_COOLDOWN",
    "RESEND_HOURLY_CAP",
    "RESEND_WINDOW",
    "CodeState",
    "code_state",
    "login_is_recent",
    "registration_status",
    "resend_wait",
    "seconds_until",
]

CODE_TTL = timedelta(minutes=10)
CODE_MAX_TRIES = 5
RESEND_COOLDOWN = timedelta(seconds=60)
RESEND_HOURLY_CAP = 5
RESEND_WINDOW = timedelta(hours=1)

ACTIVATION_TTL = timedelta(hours=24)
ACCESS_TTL = timedelta(minutes=10)
REFRESH_TTL = timedelta(days=30)
REGISTRATION_TTL = timedelta(hours=1)
REAUTH_WINDOW = timedelta(minutes=5)

CodeState = Literal["valid", "expired", "exhausted"]

_SECOND = timedelta(seconds=1)


def seconds_until(until: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``until``, rounded up; 0 when ``until`` has come."""
    remaining = until - now
    if remaining <= timedelta(0):
        return 0
    whole, part = divmod(remaining, _SECOND)
    return whole + (1 if part else 0)


def code_state(issued_at: datetime, tries: int, now: datetime) -> CodeState:
    """Whether a one-time code issued at ``issued_at`` with ``tries`` wrong entries so far may be tried.

    Business rule: NIST SP 800-63B-4 §3.1.3.2 and ASVS 5.0 6.5.5 (lifetime at most 10 minutes), §3.2.2
    (at most 5 wrong entries, then void). ``"exhausted"`` wins over ``"expired"``: it holds whatever
    the clock says. The code expires at ``issued_at + CODE_TTL`` exactly.
    """
    _require_count(tries, "tries")
    if tries >= CODE_MAX_TRIES:
        return "exhausted"
    if now >= issued_at + CODE_TTL:
        return "expired"
    return "valid"


def resend_wait(last_sent_at: datetime | None, sent_in_last_hour: int, now: datetime) -> int:
    """Seconds before another code may be sent to one destination; 0 when it may be sent now.

    Business rule: checklist item 14 (OWASP MFA cheat sheet, ASVS 5.0 2.4.1): a cooldown of
    :data:`RESEND_COOLDOWN` after the last send and at most :data:`RESEND_HOURLY_CAP` sends in the
    last hour. At the cap, knowing only the last send, we wait until it is an hour old: by then every
    send of the window has left it.
    """
    _require_count(sent_in_last_hour, "sent_in_last_hour")
    if last_sent_at is None:
        if sent_in_last_hour:
            raise ValueError("sent_in_last_hour is positive but last_sent_at is None")
        return 0
    wait = seconds_until(last_sent_at + RESEND_COOLDOWN, now)
    if sent_in_last_hour >= RESEND_HOURLY_CAP:
        wait = max(wait, seconds_until(last_sent_at + RESEND_WINDOW, now))
    return wait


def _require_count(value: int, name: str) -> None:
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")


def login_is_recent(logged_in_at: datetime, now: datetime) -> bool:
    """Whether a login is fresh enough to change the account's contacts or bindings without the password.

    Business rule: checklist item 29 (ASVS 5.0 7.5.1; allauth's 300 s): at most :data:`REAUTH_WINDOW`
    old, the window's end included. A login from the future (a clock step) is not recent.
    """
    return timedelta(0) <= now - logged_in_at <= REAUTH_WINDOW


def registration_status(stored: str, expires_at: datetime, code_tries: int, now: datetime) -> str:
    """What a registration shows: ``expired`` once it has passed :data:`REGISTRATION_TTL` or a code
    took :data:`CODE_MAX_TRIES` wrong entries (it can only be started again), else its stored status.

    Business rule: checklist items 12 and 13 (the same rule the verification applies, 410).
    A completed registration stays completed.
    """
    if stored != "completed" and (now > expires_at or code_tries >= CODE_MAX_TRIES):
        return "expired"
    return stored
