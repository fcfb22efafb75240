"""app.services.sellers.revoke_api_key: only the seller's own key, revoked once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session
from time_machine import TimeMachineFixture

from app.domain.errors import NotFound
from app.services import sellers
from tests.services.conftest import T0, make_key, make_seller


def test_own_key_revoked_at_now_and_other_keys_untouched(
    session: Session, time_machine: TimeMachineFixture
) -> None:
    seller = make_seller(session)
    key, other = make_key(session, seller), make_key(session, seller)
    time_machine.shift(timedelta(minutes=5))
    sellers.revoke_api_key(session, seller.id, key.id)
    session.refresh(key)
    session.refresh(other)
    assert (key.revoked_at, other.revoked_at) == (T0 + timedelta(minutes=5), None)


def test_key_of_another_seller_not_found_and_left_active(session: Session) -> None:
    owner, intruder = make_seller(session), make_seller(session, name="Other Shop")
    key = make_key(session, owner)
    with pytest.raises(NotFound) as exc_info:
        sellers.revoke_api_key(session, intruder.id, key.id)
    assert exc_info.value.code == "not_found"
    assert key.id in exc_info.value.detail
    session.refresh(key)
    assert key.revoked_at is None


def test_unknown_key_not_found(session: Session) -> None:
    seller = make_seller(session)
    with pytest.raises(NotFound):
        sellers.revoke_api_key(session, seller.id, "key_unknown")


def test_revoking_revoked_key_keeps_first_revocation_time(
    session: Session, time_machine: TimeMachineFixture
) -> None:
    seller = make_seller(session)
    key = make_key(session, seller)
    sellers.revoke_api_key(session, seller.id, key.id)
    time_machine.shift(timedelta(days=1))
    sellers.revoke_api_key(session, seller.id, key.id)
    session.refresh(key)
    assert key.revoked_at == T0
