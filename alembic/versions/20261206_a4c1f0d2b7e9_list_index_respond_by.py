"""The seller's newest-first case index carries ``respond_by``, so ``respond_by_before`` filters in the index.

Revision ID: a4c1f0d2b7e9
Revises: 9c3d5e7f1a20
Create Date: 2026-12-06 02:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a4c1f0d2b7e9"
down_revision: str | None = "9c3d5e7f1a20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.drop_index("ix_chargeback_seller_created")
        batch_op.create_index(
            "ix_chargeback_seller_created", ["seller_id", "created_at", "id", "respond_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.drop_index("ix_chargeback_seller_created")
        batch_op.create_index("ix_chargeback_seller_created", ["seller_id", "created_at", "id"], unique=False)
