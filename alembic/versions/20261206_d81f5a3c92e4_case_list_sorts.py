"""The case list sorts by deadline (``sort=respond_by``), and the platform's lists across sellers seek
an index in each order instead of sorting every case.

Revision ID: d81f5a3c92e4
Revises: 4f8a2b6c1d37
Create Date: 2026-12-06 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d81f5a3c92e4"
down_revision: str | None = "4f8a2b6c1d37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Always true (a CHECK constraint); only the lists across sellers name it, so only they use these.
_ACROSS_SELLERS = sa.text("amount_minor > 0")


def upgrade() -> None:
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.drop_index("ix_chargeback_seller_respond_by")
        batch_op.create_index("ix_chargeback_seller_respond_by", ["seller_id", "respond_by", "id"], unique=False)
        for name, column in (("created", "created_at"), ("respond_by", "respond_by"), ("updated", "updated_at")):
            batch_op.create_index(
                f"ix_chargeback_{name}",
                [column, "id"],
                unique=False,
                sqlite_where=_ACROSS_SELLERS,
                postgresql_where=_ACROSS_SELLERS,
            )


def downgrade() -> None:
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.drop_index("ix_chargeback_updated")
        batch_op.drop_index("ix_chargeback_respond_by")
        batch_op.drop_index("ix_chargeback_created")
        batch_op.drop_index("ix_chargeback_seller_respond_by")
        batch_op.create_index(
            "ix_chargeback_seller_respond_by", ["seller_id", "respond_by", "created_at", "id"], unique=False
        )
