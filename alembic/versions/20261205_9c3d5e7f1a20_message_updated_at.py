"""Messages carry ``updated_at`` (created, or marked read), for ``updated_since`` on the message list.

Revision ID: 9c3d5e7f1a20
Revises: 2b9c7c586cee
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "9c3d5e7f1a20"
down_revision: str | None = "2b9c7c586cee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    # Existing messages changed last when they were read, else when they were created.
    op.execute("UPDATE message SET updated_at = COALESCE(read_at, created_at)")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_message_seller_updated", ["seller_id", "updated_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_seller_updated")
        batch_op.drop_column("updated_at")
