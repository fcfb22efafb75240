"""The service fixture itself: service commits stay inside the test, and ``begin_write`` works there."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.core.config import Settings
from app.core.db import WRITE_OPTION, begin_write
from app.models.seller import Seller, SellerCreate
from app.services import sellers
from tests.services.conftest import T0, make_seller, rolled_back_session


def _sellers_in_database(engine: Engine) -> int:
    with Session(engine) as fresh:
        return int(fresh.execute(select(func.count()).select_from(Seller)).scalar_one())


def test_service_commit_visible_in_test_then_rolled_back_after_it(engine: Engine, settings: Settings) -> None:
    with rolled_back_session(engine) as session:
        created = sellers.create_seller(
            session, settings, SellerCreate(name="Acme", email="a@acme.example", country="DE")
        )
        assert session.get(Seller, created["id"]) is not None
    assert _sellers_in_database(engine) == 0


def test_begin_write_after_a_read_keeps_rows_committed_before_it(session: Session) -> None:
    seller = make_seller(session)
    assert session.get(Seller, seller.id) is not None  # a read transaction is now open
    begin_write(session)  # ends that read transaction: only its savepoint, not the test's rows
    assert session.connection().get_execution_options()[WRITE_OPTION] is True
    assert session.get(Seller, seller.id) is not None


def test_commit_clears_write_flag_as_a_new_app_connection_would(session: Session) -> None:
    begin_write(session)
    session.commit()
    make_seller(session)
    assert not session.connection().get_execution_options().get(WRITE_OPTION)


def test_service_rollback_discards_only_uncommitted_rows(session: Session) -> None:
    kept = make_seller(session, name="Kept")
    session.add(
        Seller(id="sel_gone", name="Gone", email="g@x.example", country="DE", timezone="UTC", created_at=T0)
    )
    session.flush()
    session.rollback()
    assert session.execute(select(col(Seller.name))).scalars().all() == [kept.name]
