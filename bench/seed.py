"""Seed a benchmark database: sellers, orders and chargebacks shaped like a large marketplace's.

PostgreSQL takes the rows through ``COPY`` with the secondary indexes dropped and rebuilt after, and
foreign keys unchecked while copying (the rows are consistent by construction); SQLite takes them
through ``executemany`` (fine at the 120,000 cases its runs use). The schema must be migrated first.

The shape: ``--per-day`` cases a day, going back as far as ``--cases`` needs, the newest two minutes
old (past the reconcile lag). The measured seller (the one with the API key) owns ``--share`` of
them; the rest are spread over the other sellers. Reasons follow a fraud-heavy mix. A case's
``respond_by`` is 5 to 30 days after it arrived (provider deadlines; longer than the default of 3
working days, so that the open list reaches page 1,000); cases still inside it are mostly
``needs_response``, the rest appealed or accepted; older ones are appealed and awaiting the bank,
or won, lost, accepted or expired, with ``updated_at`` and ``closed_at`` when that happened. One
order of the measured seller carries a tenth of its cases (many 1-unit notices on one large order:
possible through the API, and the only way an ``order_id`` list has a page 1,000); every other case
has its own order, with frozen or debited funds as its status implies.

Writes to ``--out``: ``ids.txt`` (every case id of the measured seller), ``orders.txt`` (orders with
room for new notices) and ``env``: ``SELLER_KEY``, ``MEASURED``, ``DEEP_CURSOR`` (page 1,000 of
the unfiltered list), and for each list in ``LISTS`` its ``QUERY_<list>`` (the filter, URL-encoded),
``ROWS_<list>`` (its length) and ``DEEP_<list>`` (the cursor of its page 1,000, or ``-`` when it is
shorter than that).
"""

from __future__ import annotations

import argparse
import base64
import random
import time
from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, Table, func, insert, select, text, update

from app.core.config import Settings
from app.core.db import make_engine
from app.domain.case_states import CaseStatus
from app.domain.reasons import classify
from app.models import ApiKey, Chargeback, Order, Seller
from app.security.api_keys import generate_api_key
from app.services.pagination import encode_cursor, query_tag
from app.services.reads import SORT_DEADLINE, SORT_NEWEST, CaseFilter

DAY = 86_400.0
PAGE = 50
DEEP_PAGE = 1_000
BATCH = 10_000
INGEST_ORDERS = 2_000
BIG_ORDER_SHARE = 0.1  # of the measured seller's cases
# Reason codes and their weight in percent: fraud 40, not received 25, not as described 15, credit
# not processed 10, duplicate 4, general 6.
REASONS = {
    "10.4": 14,
    "4837": 12,
    "fraudulent": 14,
    "13.1": 12,
    "4855": 7,
    "C08": 3,
    "product_not_received": 3,
    "13.3": 8,
    "4853": 7,
    "13.6": 5,
    "13.2": 3,
    "subscription_canceled": 2,
    "12.6.1": 3,
    "duplicate": 1,
    "general": 6,
}
ORDER_COLUMNS = (
    "id",
    "seller_id",
    "amount_minor",
    "currency",
    "frozen_amount_minor",
    "debited_amount_minor",
    "version",
    "created_at",
    "updated_at",
)
CASE_COLUMNS = (
    "id",
    "order_id",
    "seller_id",
    "reason_code",
    "network",
    "reason_category",
    "reason_title",
    "amount_minor",
    "currency",
    "bank_reference",
    "status",
    "received_at",
    "respond_by",
    "closed_at",
    "version",
    "created_at",
    "updated_at",
)
FROZEN, DEBITED = {"needs_response", "under_review"}, {"lost", "expired", "accepted"}
VERSION = {"needs_response": 1, "under_review": 2, "accepted": 2, "expired": 2, "won": 3, "lost": 3}
_B32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")


def ulid(prefix: str, at: float, rnd: random.Random) -> str:
    """An id shaped as ``app.core.ids.new_id`` makes them, for the instant ``at``, without its lock."""
    value = (int(at * 1000) << 80) | rnd.getrandbits(80)
    return f"{prefix}_{base64.b32encode(value.to_bytes(20, 'big'))[6:].translate(_B32).decode()}"


def _status(
    rnd: random.Random, created: float, respond_by: float, now: float, end: float
) -> tuple[str, float]:
    """The case's status and when it last changed (``updated_at``), from its age and deadline."""
    u = rnd.random()
    if respond_by > now:  # still open to an appeal
        if u < 0.85:
            return "needs_response", created
        return ("under_review" if u < 0.96 else "accepted"), created + rnd.random() * (end - created)
    acted = created + rnd.random() * (respond_by - created)
    if now < respond_by + 45 * DAY:  # appeals still before the bank
        if u < 0.5:
            return "under_review", acted
        if u < 0.7:
            status = "won"
        elif u < 0.85:
            status = "lost"
        elif u < 0.95:
            return "accepted", acted
        else:
            return "expired", respond_by
    elif u < 0.45:
        status = "won"
    elif u < 0.78:
        status = "lost"
    elif u < 0.9:
        return "accepted", acted
    else:
        return "expired", respond_by
    return status, min(respond_by + rnd.random() * 45 * DAY, end)


def generate(
    a: argparse.Namespace, sellers: list[str], big_order: str, now: float, end: float, measured: list[str]
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (order rows, case rows), oldest first; appends the measured seller's case ids."""
    rnd = random.Random(a.seed)
    reasons = [(r.code, r.network, r.category.value, r.title) for r in map(classify, REASONS)]
    weighted = [reason for reason, w in zip(reasons, REASONS.values(), strict=True) for _ in range(w)]
    step = DAY / a.per_day
    others = sellers[1:] or sellers
    stamp = datetime.fromtimestamp
    orders: list[tuple[Any, ...]] = []
    cases: list[tuple[Any, ...]] = []
    for i in range(a.cases):
        created = end - (a.cases - 1 - i) * step
        mine = rnd.random() < a.share
        seller = sellers[0] if mine else others[int(rnd.random() * len(others))]
        respond_by = created + (5 + rnd.random() * 25) * DAY
        status, updated = _status(rnd, created, respond_by, now, end)
        updated = min(updated, end)  # every change older than the reconcile lag
        amount = 1_000 + int(rnd.random() * 49_000)
        created_at, updated_at = stamp(created, UTC), stamp(updated, UTC)
        if mine and rnd.random() < BIG_ORDER_SHARE:
            order_id = big_order
        else:
            order_id = ulid("ord", created - 3 * DAY, rnd)
            frozen = amount if status in FROZEN else 0
            debited = amount if status in DEBITED else 0
            orders.append((order_id, seller, amount, "EUR", frozen, debited, 2, created_at, updated_at))
        case_id = ulid("cb", created, rnd)
        code, network, category, title = weighted[int(rnd.random() * len(weighted))]
        closed_at = None if status in FROZEN else updated_at
        head = (case_id, order_id, seller, code, network, category, title, amount, "EUR", f"ARN{i:012d}")
        respond_at = stamp(respond_by, UTC)
        cases.append(
            (*head, status, created_at, respond_at, closed_at, VERSION[status], created_at, updated_at)
        )
        if mine:
            measured.append(case_id)
        if len(cases) == BATCH:
            yield orders, cases
            orders, cases = [], []
    if cases:
        yield orders, cases


def _copy(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


def _drop_secondary_indexes(conn: Connection, tables: list[str]) -> list[str]:
    """Drop the indexes no constraint needs; returns the statements that recreate them."""
    found = conn.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE t.relname = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        ),
        {"tables": tables},
    ).all()
    for name, _ in found:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def measured_lists(
    big_order: str, now: datetime, end: datetime, span: timedelta
) -> dict[str, dict[str, str]]:
    """Each list the benchmark measures, as its filter's query parameters."""
    return {
        "all": {},
        "status": {"status": "needs_response"},
        "reason_category": {"reason_category": "not_received"},
        "order_id": {"order_id": big_order},
        "respond_by_before": {"respond_by_before": _iso(now + timedelta(days=3))},
        # The same horizon as a work queue: soonest deadline first.
        "due_first": {"respond_by_before": _iso(now + timedelta(days=3)), "sort": "respond_by"},
        # A reconciler catching up on the last three quarters of the history.
        "updated_since": {"updated_since": _iso(end - span * 0.75)},
    }


def cursor_tag(params: dict[str, str]) -> str:
    """The tag ``GET /v1/chargebacks`` binds its cursors to, for a seller's query with ``params``."""
    f = CaseFilter(
        status=CaseStatus(params["status"]) if "status" in params else None,
        reason_category=params.get("reason_category"),
        order_id=params.get("order_id"),
        respond_by_before=_at(params.get("respond_by_before")),
        updated_since=_at(params.get("updated_since")),
        sort=params.get("sort", SORT_NEWEST),
    )
    return query_tag("chargebacks", *astuple(f))


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value is not None else None


def deep_cursor(
    conn: Connection, seller: str, params: dict[str, str], now: datetime, lag: int
) -> tuple[str | None, int]:
    """The cursor of page 1,000 of a list (None when it is shorter) and the list's length.

    The same predicates and order as ``GET /v1/chargebacks``, by ``OFFSET`` (this runs once, at seeding).
    """
    c = Chargeback.__table__.c  # type: ignore[attr-defined]
    q = select(c.id, c.created_at, c.updated_at, c.respond_by).where(c.seller_id == seller)
    if "status" in params:  # needs_response only: its deadline must lie ahead
        q = q.where(c.status == params["status"], c.respond_by >= now)
    if "reason_category" in params:
        q = q.where(c.reason_category == params["reason_category"])
    if "order_id" in params:
        q = q.where(c.order_id == params["order_id"])
    if "respond_by_before" in params:
        q = q.where(c.respond_by < datetime.fromisoformat(params["respond_by_before"]))
    since = params.get("updated_since")
    if since is not None:
        q = q.where(
            c.updated_at >= datetime.fromisoformat(since), c.updated_at <= now - timedelta(seconds=lag)
        )
        order = (c.updated_at.asc(), c.id.asc())
    elif params.get("sort") == SORT_DEADLINE:
        order = (c.respond_by.asc(), c.id.asc())
    else:
        order = (c.created_at.desc(), c.id.desc())
    rows = conn.execute(q.order_by(*order).offset(PAGE * (DEEP_PAGE - 1) - 1).limit(2)).all()
    length = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    if len(rows) < 2:  # page 1,000 would be empty
        return None, length
    last = rows[0]
    at = last.updated_at if since is not None else getattr(last, params.get("sort", SORT_NEWEST))
    return encode_cursor(at, last.id, cursor_tag(params)), length


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--cases", type=int, default=120_000)
    ap.add_argument("--sellers", type=int, default=10)
    ap.add_argument("--share", type=float, default=0.6, help="of the cases owned by the measured seller")
    ap.add_argument("--per-day", type=float, default=8_000, help="cases a day (sets how far back they go)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=a.database_url)
    engine = make_engine(settings)
    postgres = engine.dialect.name == "postgresql"
    started = time.perf_counter()
    now_at = datetime.now(UTC)
    end_at = now_at - timedelta(minutes=2)
    now, end = now_at.timestamp(), end_at.timestamp()
    span = timedelta(days=a.cases / a.per_day)
    rnd = random.Random(a.seed + 1)
    sellers = [ulid("sel", end - 400 * DAY, rnd) for _ in range(a.sellers)]
    big_order = ulid("ord", end - span.total_seconds(), rnd)
    ingest_orders = [ulid("ord", end, rnd) for _ in range(INGEST_ORDERS)]
    key, prefix, digest = generate_api_key()
    orders_t: Table = Order.__table__  # type: ignore[attr-defined]
    cases_t: Table = Chargeback.__table__  # type: ignore[attr-defined]
    measured: list[str] = []
    with engine.begin() as conn:
        rebuild: list[str] = []
        if postgres:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            if conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK triggers
            rebuild = _drop_secondary_indexes(conn, ["order", "chargeback"])
        conn.execute(
            insert(Seller),
            [
                {
                    "id": s,
                    "name": f"Seller {i}",
                    "email": f"s{i}@shop.example",
                    "country": "DE",
                    "timezone": "Europe/Berlin",
                    "created_at": end_at - timedelta(days=400),
                }
                for i, s in enumerate(sellers)
            ],
        )
        conn.execute(
            insert(ApiKey),
            [
                {
                    "id": ulid("key", end, rnd),
                    "seller_id": sellers[0],
                    "name": "bench",
                    "prefix": prefix,
                    "key_hash": digest,
                    "created_at": end_at,
                }
            ],
        )
        # Orders with room for the ingestion benchmark (notices of 1 minor unit), and the large order,
        # whose amounts are filled in once its cases are known.
        first = end_at - span
        _copy(
            conn,
            orders_t,
            ORDER_COLUMNS,
            [(o, sellers[0], 1_000_000, "EUR", 0, 0, 1, end_at, end_at) for o in ingest_orders]
            + [(big_order, sellers[0], 1, "EUR", 0, 0, 1, first, first)],
        )
        for orders, cases in generate(a, sellers, big_order, now, end, measured):
            _copy(conn, orders_t, ORDER_COLUMNS, orders)
            _copy(conn, cases_t, CASE_COLUMNS, cases)
        c = cases_t.c
        of_big = select(
            func.sum(c.amount_minor),
            func.sum(c.amount_minor).filter(c.status.in_(FROZEN)),
            func.sum(c.amount_minor).filter(c.status.in_(DEBITED)),
        ).where(c.order_id == big_order)
        total, frozen, debited = conn.execute(of_big).one()
        conn.execute(
            update(orders_t)
            .where(orders_t.c.id == big_order)
            .values(
                amount_minor=total or 1, frozen_amount_minor=frozen or 0, debited_amount_minor=debited or 0
            )
        )
        copied = time.perf_counter()
        print(f"seed: {a.cases} cases written in {copied - started:.0f} s", flush=True)
        for statement in rebuild:
            conn.exec_driver_sql(statement)
        if rebuild:
            print(f"seed: {len(rebuild)} indexes rebuilt in {time.perf_counter() - copied:.0f} s", flush=True)
    # Planner statistics (and on PostgreSQL the visibility map), as the dispatcher's hourly
    # PRAGMA optimize or PostgreSQL's autovacuum would keep them.
    analysed = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)" if postgres else "ANALYZE")
    print(f"seed: {'VACUUM (ANALYZE)' if postgres else 'ANALYZE'} in {time.perf_counter() - analysed:.0f} s")
    env = [f"SELLER_KEY={key}", f"MEASURED={len(measured)}"]
    lists = measured_lists(big_order, now_at, end_at, span)
    env.append(f"LISTS={','.join(lists)}")
    with engine.connect() as conn:
        for name, params in lists.items():
            cursor, length = deep_cursor(conn, sellers[0], params, now_at, settings.reconcile_lag_seconds)
            if name == "all":
                env.append(f"DEEP_CURSOR={cursor or '-'}")
            env += [
                f"QUERY_{name}={urlencode(params)}",
                f"ROWS_{name}={length}",
                f"DEEP_{name}={cursor or '-'}",
            ]
            print(f"seed: list {name or 'all'}: {length} rows{'' if cursor else ', no page 1,000'}")
    engine.dispose()
    (a.out / "ids.txt").write_text("\n".join(measured) + "\n")
    (a.out / "orders.txt").write_text("\n".join(ingest_orders) + "\n")
    (a.out / "env").write_text("\n".join(env) + "\n")
    print(
        f"seeded {a.cases} cases ({len(measured)} for the measured seller) into {engine.url!r} "
        f"in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
