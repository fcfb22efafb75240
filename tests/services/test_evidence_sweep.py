"""``sweep_orphans``: stored evidence that no row names (a crash between storing and committing) is
removed once it is older than the grace period; what rows name, fresh uploads and foreign files stay."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from app.core.ids import new_id
from app.models.evidence import Evidence
from app.services.evidence import ORPHAN_GRACE, sweep_orphans
from app.storage import LocalStorage
from tests.services.conftest import T0, make_case, make_order, make_seller

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _put(storage: LocalStorage, key: str, age: timedelta) -> Path:
    storage.put(key, io.BytesIO(b"%PDF-1.7 bytes"))
    path = storage.root / key
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_orphans_past_the_grace_period_are_removed(session: Session, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    seller = make_seller(session)
    case = make_case(session, make_order(session, seller))
    known_id = new_id("ev")
    session.add(
        Evidence(
            id=known_id,
            chargeback_id=case.id,
            seller_id=seller.id,
            evidence_type="delivery_proof",
            content_type="application/pdf",
            size_bytes=14,
            sha256="0" * 64,
            pages=1,
            storage_key=f"{case.id}/{known_id}",
            created_by="test",
            created_at=T0,
            updated_at=T0,
        )
    )
    session.commit()
    old = ORPHAN_GRACE + timedelta(minutes=5)
    known = _put(storage, f"{case.id}/{known_id}", old)
    orphan = _put(storage, f"{case.id}/{new_id('ev')}", old)
    orphan_package = _put(storage, f"{case.id}/{new_id('apl')}.pdf", old)
    in_flight = _put(storage, f"{case.id}/{new_id('ev')}", ORPHAN_GRACE - timedelta(minutes=5))
    foreign = _put(storage, "notes/readme.pdf", old)

    assert sweep_orphans(session, storage, now=NOW) == 2

    assert not orphan.exists()
    assert not orphan_package.exists()
    assert known.exists()
    assert in_flight.exists()
    assert foreign.exists()
