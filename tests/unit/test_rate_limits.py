from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from limits import parse

from app.domain.errors import ServiceUnavailable
from app.security import rate_limits
from app.security.rate_limits import MemoryWindows, RateLimiter

KEY = b"k" * 32
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EMAIL = "Buyer.Name+tag@example.com"
PHONE = "+8613800138000"


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    """The same tests on one process's memory and on the shared Redis."""
    if request.param == "memory":
        return RateLimiter("memory://", hash_key=KEY)
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return RateLimiter(url, hash_key=KEY, key_prefix=prefix)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _at(clock: time_machine.Traveller, seconds: float) -> None:
    clock.move_to(T0 + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("rate", "amount", "seconds"),
    [
        (rate_limits.LOGIN_PER_ADDRESS, 10, 60),
        (rate_limits.LOGIN_PER_IDENTIFIER, 20, 3600),
        (rate_limits.CODE_SEND_PER_DESTINATION, 5, 3600),
        (rate_limits.CODE_SEND_PER_ADDRESS, 20, 3600),
        (rate_limits.RESET_PER_IDENTIFIER, 5, 60),
        (rate_limits.RESET_PER_ADDRESS, 20, 60),
        (rate_limits.REGISTER_PER_ADDRESS, 10, 3600),
    ],
)
def test_named_rates_parse_to_their_amount_and_window(rate: str, amount: int, seconds: int) -> None:
    item = parse(rate)
    assert (item.amount, item.get_expiry()) == (amount, seconds)


def test_attempts_within_the_rate_are_allowed_then_refused_for_the_window(
    limiter: RateLimiter, clock: time_machine.Traveller
) -> None:
    assert [limiter.hit("login-ip", "203.0.113.7", "3/minute") for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("login-ip", "203.0.113.7", "3/minute") == 60


def test_wait_shrinks_as_the_window_moves_and_ends(
    limiter: RateLimiter, clock: time_machine.Traveller
) -> None:
    for _ in range(2):
        limiter.hit("login-ip", "203.0.113.7", "2/minute")
    _at(clock, 25)
    assert limiter.hit("login-ip", "203.0.113.7", "2/minute") == 35
    _at(clock, 59.5)
    assert limiter.hit("login-ip", "203.0.113.7", "2/minute") == 1  # never 0 while refused
    _at(clock, 61)
    assert limiter.hit("login-ip", "203.0.113.7", "2/minute") == 0


def test_window_moves_with_each_attempt_not_in_fixed_steps(
    limiter: RateLimiter, clock: time_machine.Traveller
) -> None:
    assert limiter.hit("code-dest", PHONE, "2/minute") == 0
    _at(clock, 30)
    assert limiter.hit("code-dest", PHONE, "2/minute") == 0
    _at(clock, 45)
    assert limiter.hit("code-dest", PHONE, "2/minute") == 15
    _at(clock, 61)  # the first attempt has left the window, the second has not
    assert limiter.hit("code-dest", PHONE, "2/minute") == 0
    _at(clock, 62)
    assert limiter.hit("code-dest", PHONE, "2/minute") == 28


def test_refused_attempts_do_not_extend_the_wait(limiter: RateLimiter, clock: time_machine.Traveller) -> None:
    limiter.hit("reset-id", EMAIL, "1/minute")
    for second in (10, 20, 50):
        _at(clock, second)
        assert limiter.hit("reset-id", EMAIL, "1/minute") == 60 - second
    _at(clock, 61)
    assert limiter.hit("reset-id", EMAIL, "1/minute") == 0


def test_keys_and_scopes_count_separately(limiter: RateLimiter, clock: time_machine.Traveller) -> None:
    assert limiter.hit("login-id", EMAIL, "1/hour") == 0
    assert limiter.hit("login-id", EMAIL, "1/hour") == 3600
    assert limiter.hit("login-id", EMAIL.lower(), "1/hour") == 0
    assert limiter.hit("reset-id", EMAIL, "1/hour") == 0


def test_clear_forgets_the_attempts(limiter: RateLimiter, clock: time_machine.Traveller) -> None:
    limiter.hit("login-id", EMAIL, "1/hour")
    limiter.hit("login-id", PHONE, "1/hour")
    limiter.clear("login-id", EMAIL, "1/hour")
    assert limiter.hit("login-id", EMAIL, "1/hour") == 0
    assert limiter.hit("login-id", PHONE, "1/hour") == 3600


@pytest.mark.parametrize("scope", ["", "Login", "login|id", "login id", "x" * 65])
def test_scope_that_is_not_a_short_lowercase_name_is_refused(scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        RateLimiter("memory://").hit(scope, EMAIL, "1/hour")


def test_any_key_text_is_accepted() -> None:
    limiter = RateLimiter("memory://")
    assert limiter.hit("login-id", "\ud800 é | ", "1/hour") == 0
    assert limiter.hit("login-id", "", "1/hour") == 0


def test_redis_holds_digests_not_emails_or_phone_numbers(redis_url: str, redis_prefix: str) -> None:
    RateLimiter(redis_url, hash_key=KEY, key_prefix=redis_prefix).hit("login-id", EMAIL, "5/hour")
    RateLimiter(redis_url, hash_key=KEY, key_prefix=redis_prefix).hit("code-dest", PHONE, "5/hour")
    RateLimiter(redis_url, hash_key=b"o" * 32, key_prefix=redis_prefix).hit("login-id", EMAIL, "5/hour")
    client = redis.Redis.from_url(redis_url)
    try:
        keys = sorted(key.decode() for key in client.scan_iter(match=f"{redis_prefix}*"))
    finally:
        client.close()
    assert len(keys) == 3  # another hash key, another digest
    assert sum("/login-id/" in key for key in keys) == 2
    for key in keys:
        assert "example.com" not in key.lower()
        assert "13800138000" not in key


def test_unreachable_storage_is_service_unavailable() -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable) as info:
        limiter.hit("login-ip", "203.0.113.7", "1/minute")
    assert info.value.code == "service_unavailable"
    with pytest.raises(ServiceUnavailable):
        limiter.clear("login-ip", "203.0.113.7", "1/minute")


def test_memory_limits_start_no_thread() -> None:
    """``limits``' MemoryStorage sweeps every key from a timer thread, holding the GIL; ours starts none."""
    before = threading.active_count()
    limiter = RateLimiter("memory://", hash_key=KEY)
    for i in range(50):
        limiter.hit("login-ip", f"198.51.100.{i}", "10/minute")
    limiter.clear("login-ip", "198.51.100.1", "10/minute")
    assert threading.active_count() == before


def test_memory_windows_forget_keys_once_their_attempts_are_stale() -> None:
    windows = MemoryWindows()
    for i in range(1000):  # a flood, one attempt from each of many addresses, half of them 30 s later
        assert windows.hit(f"address-{i}", 10, 60, now=1000.0 if i < 500 else 1030.0) == 0.0
    windows.hit("hour-key", 5, 3600, now=1005.0)
    assert len(windows) == 1001
    assert windows.hit("late", 10, 60, now=1065.0) == 0.0  # the first 500 are out of their minute
    assert len(windows) == 500 + 1 + 1
    windows.hit("later", 10, 60, now=1200.0)
    assert len(windows) == 2  # the hour's key is kept: its window has not passed
    assert windows.hit("hour-key", 1, 3600, now=1300.0) == 1005.0 + 3600


def test_memory_windows_count_a_moving_window() -> None:
    windows = MemoryWindows()
    assert [windows.hit("k", 2, 60, now=t) for t in (0.0, 30.0)] == [0.0, 0.0]
    assert windows.hit("k", 2, 60, now=59.0) == 60.0  # the first attempt leaves the window at 60
    assert windows.hit("k", 2, 60, now=60.0) == 0.0
    assert windows.hit("k", 2, 60, now=61.0) == 90.0  # refused attempts were not counted
    windows.clear("k", 60)
    assert windows.hit("k", 2, 60, now=61.0) == 0.0
