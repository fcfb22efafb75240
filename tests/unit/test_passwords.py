from __future__ import annotations

import asyncio
import os
import threading

import anyio
import pytest
from argon2 import Type, extract_parameters

from app.security.passwords import DEFAULT_PROFILE, PROFILES, PasswordHasher

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher("test")


def test_default_profile_meets_owasp_minimum() -> None:
    params = PROFILES[DEFAULT_PROFILE]
    assert DEFAULT_PROFILE == "owasp"
    assert (params.type, params.time_cost, params.parallelism) == (Type.ID, 2, 1)
    assert params.memory_cost >= 19 * 1024


@pytest.mark.parametrize(
    ("profile", "time_cost", "memory_cost", "parallelism"),
    [("owasp", 2, 19_456, 1), ("rfc9106", 3, 65_536, 4), ("test", 1, 8, 1)],
)
def test_profile_parameters_are_argon2id_with_16_byte_salt_and_32_byte_tag(
    profile: str, time_cost: int, memory_cost: int, parallelism: int
) -> None:
    params = PROFILES[profile]
    assert params.type is Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (time_cost, memory_cost, parallelism)
    assert (params.salt_len, params.hash_len) == (16, 32)


def test_hash_records_the_profile_parameters_in_the_phc_string(hasher: PasswordHasher) -> None:
    stored = hasher.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert extract_parameters(stored) == PROFILES["test"]


def test_default_profile_hash_verifies() -> None:
    owasp = PasswordHasher()
    stored = owasp.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert owasp.verify(stored, PASSWORD)
    assert not owasp.needs_rehash(stored)


def test_same_password_twice_gets_different_salts(hasher: PasswordHasher) -> None:
    first, second = hasher.hash(PASSWORD), hasher.hash(PASSWORD)
    assert first != second
    assert hasher.verify(first, PASSWORD)
    assert hasher.verify(second, PASSWORD)


@pytest.mark.parametrize(
    ("password", "attempt"),
    [
        (PASSWORD, PASSWORD + " "),
        (PASSWORD, PASSWORD.upper()),
        ("Straße ist lang genug", "STRASSE IST LANG GENUG"),
        ("a" * 200 + "b", "a" * 200 + "c"),  # no truncation: the last character still counts
        ("パスワードはとても長いです", "パスワードはとても長いで"),
    ],
)
def test_other_password_does_not_verify(hasher: PasswordHasher, password: str, attempt: str) -> None:
    stored = hasher.hash(password)
    assert hasher.verify(stored, password)
    assert not hasher.verify(stored, attempt)


def test_lone_surrogate_hashes_and_verifies(hasher: PasswordHasher) -> None:
    password = "long enough passphrase \ud800"
    stored = hasher.hash(password)
    assert hasher.verify(stored, password)
    assert not hasher.verify(stored, "long enough passphrase ")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=8,t=1,p=1$xx$yy",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$dGFn",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$é",
    ],
)
def test_malformed_stored_hash_verifies_false_without_raising(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify(stored, PASSWORD) is False
    assert hasher.needs_rehash(stored) is True


def test_hash_of_another_profile_needs_rehash_and_still_verifies(hasher: PasswordHasher) -> None:
    older = PasswordHasher("owasp").hash(PASSWORD)
    assert hasher.needs_rehash(older)
    assert hasher.verify(older, PASSWORD)
    assert not hasher.needs_rehash(hasher.hash(PASSWORD))


def test_dummy_hash_costs_the_same_as_a_real_one(hasher: PasswordHasher) -> None:
    assert extract_parameters(hasher._dummy) == hasher.parameters
    hasher.verify_dummy(PASSWORD)
    hasher.verify_dummy("\ud800")  # never raises, whatever arrives


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown password hash profile 'fast'"):
        PasswordHasher("fast")


def test_zero_concurrency_is_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        PasswordHasher("test", concurrency=0)


def test_async_wrappers_hash_and_verify(hasher: PasswordHasher) -> None:
    async def run() -> tuple[bool, bool]:
        stored = await hasher.hash_async(PASSWORD)
        await hasher.verify_dummy_async(PASSWORD)
        return await hasher.verify_async(stored, PASSWORD), await hasher.verify_async(stored, "wrong")

    assert anyio.run(run) == (True, False)


def test_async_hashing_waits_while_the_pool_is_full() -> None:
    hasher = PasswordHasher("test", concurrency=1)
    stored = hasher.hash(PASSWORD)
    order: list[str] = []
    release = threading.Event()

    def blocker() -> None:
        release.wait()
        order.append("released")

    argon2 = hasher._argon2

    class Recorded:
        def verify(self, stored: str, password: bytes) -> bool:
            order.append("verified")
            return argon2.verify(stored, password)

    hasher._argon2 = Recorded()  # type: ignore[assignment]
    busy = hasher._pool.submit(blocker)

    async def run() -> bool:
        task = asyncio.ensure_future(hasher.verify_async(stored, PASSWORD))
        await asyncio.sleep(0)  # the verification is submitted, behind the blocker
        release.set()
        return await task

    assert asyncio.run(run()) is True
    busy.result()
    assert order == ["released", "verified"]  # it ran only once the one slot was free


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_hash_threads_run_at_idle_priority_and_the_caller_does_not() -> None:
    hasher = PasswordHasher("test", concurrency=2)
    policies = {hasher._pool.submit(os.sched_getscheduler, 0).result() for _ in range(4)}
    assert policies == {os.SCHED_IDLE}
    assert hasher.verify(hasher.hash(PASSWORD), PASSWORD)
    assert os.sched_getscheduler(0) != os.SCHED_IDLE
