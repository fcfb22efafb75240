"""Service fixtures: a session inside an outer transaction that is rolled back, and row factories.

As Polar's ``tests/fixtures/database.py``: the test's connection opens a transaction and the
session joins it with ``join_transaction_mode="create_savepoint"``, so a service's ``commit()``
releases a savepoint and its ``rollback()`` returns to one; nothing the test writes outlives it.
Factories insert rows directly, in whatever state a test needs, and commit like a service would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session
from time_machine import TimeMachineFixture

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import WRITE_OPTION, make_engine
from app.core.ids import new_id
from app.domain.reasons import classify
from app.models.chargeback import Chargeback
from app.models.order import Order
from app.models.seller import ApiKey, Seller
from app.security.api_keys import generate_api_key

# Tue 1 Dec 2026, 10:00 in Shanghai: a working day, far from CN holidays.
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        database_pool_size=1,
        dispatch_in_process=False,
        password_hash_profile="test",
        business_timezone="Asia/Shanghai",
        business_calendar="CN",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    # The app's engine (on SQLite: its pragmas and the BEGIN it emits itself, which savepoints need).
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session whose commits become savepoint releases inside one transaction, rolled back at the end."""
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")

        @event.listens_for(session, "after_transaction_end")
        def _fresh_connection(_session: Session, transaction: SessionTransaction) -> None:
            # In the app each session transaction gets its own pooled connection, so the write flag
            # that ``begin_write`` sets ends with it; here the one connection would keep it.
            if transaction.parent is None:
                _clear_write_flag(connection)

        try:
            yield session
        finally:
            session.close()
            outer.rollback()


def _clear_write_flag(connection: Connection) -> None:
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.execution_options(**{WRITE_OPTION: False})


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with rolled_back_session(engine) as s:
        yield s


# Factories: rows as the test needs them, committed (a savepoint released) like a service would.


def make_seller(session: Session, **overrides: Any) -> Seller:
    fields: dict[str, Any] = {
        "name": "Acme Shop",
        "email": "orders@acme-shop.example",
        "country": "DE",
        "timezone": "Europe/Berlin",
    }
    seller = Seller(id=new_id("sel"), created_at=utcnow(), **(fields | overrides))
    session.add(seller)
    session.commit()
    return seller


def make_order(
    session: Session, seller: Seller, amount_minor: int = 10_000, frozen: int = 0, debited: int = 0
) -> Order:
    now = utcnow()
    order = Order(
        id=new_id("ord"),
        seller_id=seller.id,
        amount_minor=amount_minor,
        currency="EUR",
        frozen_amount_minor=frozen,
        debited_amount_minor=debited,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.commit()
    return order


_bank_refs = iter(range(1, 10**9))


def make_case(
    session: Session,
    order: Order,
    amount_minor: int = 3_000,
    respond_by: datetime | None = None,
    status: str = "needs_response",
    **overrides: Any,
) -> Chargeback:
    """A case on ``order``; it does not touch the order's funds (set them with ``make_order``)."""
    now = utcnow()
    reason = classify("13.1", "visa")
    case = Chargeback(
        id=new_id("cb"),
        order_id=order.id,
        seller_id=order.seller_id,
        reason_code=reason.code,
        network=reason.network,
        reason_category=reason.category.value,
        reason_title=reason.title,
        amount_minor=amount_minor,
        currency=order.currency,
        bank_reference=f"ARN{next(_bank_refs):010d}",
        status=status,
        received_at=now,
        respond_by=respond_by or now + timedelta(days=3),
        created_at=now,
        updated_at=now,
        **overrides,
    )
    session.add(case)
    session.commit()
    return case


def make_key(session: Session, seller: Seller, **overrides: Any) -> ApiKey:
    _, prefix, key_hash = generate_api_key()
    key = ApiKey(
        id=new_id("key"),
        seller_id=seller.id,
        name="erp",
        prefix=prefix,
        key_hash=key_hash,
        created_at=utcnow(),
        **overrides,
    )
    session.add(key)
    session.commit()
    return key
