"""Seed a benchmark database: one migrated schema, sellers, orders and 100,000+ chargebacks.

Writes ``<out>/ids.txt`` (case ids of the measured seller), ``<out>/orders.txt`` (orders with room
for new notices) and ``<out>/env`` (keys and the deep-page cursor).
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import make_engine
from app.core.ids import new_id
from app.domain.reasons import classify
from app.models import ApiKey, Chargeback, Order, Seller
from app.security.api_keys import generate_api_key
from app.services.pagination import encode_cursor

REASONS = ["10.4", "13.1", "13.3", "13.6", "12.6.1", "4837", "4853", "4855", "fraudulent", "general"]
STATUSES = ["needs_response"] * 5 + ["under_review", "won", "lost", "accepted"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--sellers", type=int, default=10)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=a.database_url)
    engine = make_engine(settings)
    rnd = random.Random(7)
    now = datetime.now(UTC)
    seller_ids = [new_id("sel") for _ in range(a.sellers)]
    key, prefix, digest = generate_api_key()
    with Session(engine) as session:
        session.execute(
            insert(Seller),
            [
                {
                    "id": s,
                    "name": f"Seller {i}",
                    "email": f"s{i}@shop.example",
                    "country": "DE",
                    "timezone": "Europe/Berlin",
                    "created_at": now,
                }
                for i, s in enumerate(seller_ids)
            ],
        )
        session.execute(
            insert(ApiKey),
            [
                {
                    "id": new_id("key"),
                    "seller_id": seller_ids[0],
                    "name": "bench",
                    "prefix": prefix,
                    "key_hash": digest,
                    "created_at": now,
                }
            ],
        )
        measured: list[str] = []
        batch_orders: list[dict[str, object]] = []
        batch_cases: list[dict[str, object]] = []
        for i in range(a.cases):
            seller = seller_ids[i % a.sellers]
            order_id = new_id("ord")
            created = now - timedelta(seconds=a.cases - i)
            amount = rnd.randint(1_000, 500_000)
            batch_orders.append(
                {
                    "id": order_id,
                    "seller_id": seller,
                    "amount_minor": amount,
                    "currency": "EUR",
                    "frozen_amount_minor": amount,
                    "debited_amount_minor": 0,
                    "version": 2,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            reason = classify(rnd.choice(REASONS))
            case_id = new_id("cb")
            batch_cases.append(
                {
                    "id": case_id,
                    "order_id": order_id,
                    "seller_id": seller,
                    "reason_code": reason.code,
                    "network": reason.network,
                    "reason_category": reason.category.value,
                    "reason_title": reason.title,
                    "amount_minor": amount,
                    "currency": "EUR",
                    "bank_reference": f"ARN{i:012d}",
                    "status": rnd.choice(STATUSES),
                    "received_at": created,
                    "respond_by": created + timedelta(days=rnd.randint(-10, 10)),
                    "version": 1,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if seller == seller_ids[0]:
                measured.append(case_id)
            if len(batch_cases) == 5_000:
                session.execute(insert(Order), batch_orders)
                session.execute(insert(Chargeback), batch_cases)
                batch_orders, batch_cases = [], []
        if batch_cases:
            session.execute(insert(Order), batch_orders)
            session.execute(insert(Chargeback), batch_cases)
        # Orders with room for the ingestion benchmark (100 notices of 1 minor unit each).
        ingest_orders = [new_id("ord") for _ in range(2_000)]
        session.execute(
            insert(Order),
            [
                {
                    "id": o,
                    "seller_id": seller_ids[0],
                    "amount_minor": 1_000_000,
                    "currency": "EUR",
                    "frozen_amount_minor": 0,
                    "debited_amount_minor": 0,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for o in ingest_orders
            ],
        )
        session.commit()
        # Planner statistics, as the dispatcher's hourly PRAGMA optimize / PostgreSQL's autovacuum keep them.
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()
        # The cursor of page 1,000 (50 per page) of the measured seller's newest-first list.
        c = Chargeback.__table__.c  # type: ignore[attr-defined]
        last = session.execute(
            select(c.created_at, c.id)
            .where(c.seller_id == seller_ids[0])
            .order_by(c.created_at.desc(), c.id.desc())
            .offset(50 * 999 - 1)
            .limit(1)
        ).one()
        cursor = encode_cursor(last.created_at, last.id)
    engine.dispose()
    (a.out / "ids.txt").write_text("\n".join(measured) + "\n")
    (a.out / "orders.txt").write_text("\n".join(ingest_orders) + "\n")
    (a.out / "env").write_text(f"SELLER_KEY={key}\nDEEP_CURSOR={cursor}\nMEASURED={len(measured)}\n")
    print(f"seeded {a.cases} cases ({len(measured)} for the measured seller) into {a.database_url}")


if __name__ == "__main__":
    main()
