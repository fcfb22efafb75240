"""``updated_at`` on evidence, payment accounts, favourites and coupons, and the indexes each list's
``updated_since`` keyset walks (orders too, which had the column already).

Revision ID: 6e1b3d9f2a58
Revises: a4c1f0d2b7e9
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "6e1b3d9f2a58"
down_revision: str | None = "a4c1f0d2b7e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, owner column of its list, the backfill (the row's last change so far)
_TABLES = [
    ("evidence", "chargeback_id", "created_at"),
    ("payment_account", "account_id", "COALESCE(unbound_at, created_at)"),
    ("favourite", "account_id", "created_at"),
    ("coupon", "account_id", "COALESCE(used_at, created_at)"),
]
_ORDER_INDEXES = [
    ("ix_order_seller_updated", ["seller_id", "updated_at", "id"]),
    ("ix_order_buyer_updated", ["buyer_account_id", "updated_at", "id"]),
    ("ix_order_created", ["created_at", "id"]),
    ("ix_order_updated", ["updated_at", "id"]),
]


def _index(table: str, owner: str) -> str:
    return f"ix_{table}_{owner.removesuffix('_id')}_updated"


def upgrade() -> None:
    for table, owner, backfill in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        op.execute(f"UPDATE {table} SET updated_at = {backfill}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
            batch_op.create_index(_index(table, owner), [owner, "updated_at", "id"], unique=False)
    with op.batch_alter_table("order", schema=None) as batch_op:
        for name, columns in _ORDER_INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        for name, _columns in reversed(_ORDER_INDEXES):
            batch_op.drop_index(name)
    for table, owner, _backfill in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(_index(table, owner))
            batch_op.drop_column("updated_at")
