"""Evidence items, appeals (one per case, by a unique index) and the order's shipping address.

Revision ID: 5d1e7a2c9b40
Revises: 4944655b3ea0
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "5d1e7a2c9b40"
down_revision: str | None = "4944655b3ea0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appeal",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("chargeback_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("path", sa.String(length=60), nullable=False),
        sa.Column("package_key", sa.String(length=200), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("package_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("package_pages", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(length=60), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chargeback_id"], ["chargeback.id"], name=op.f("fk_appeal_chargeback_id_chargeback")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_appeal_order_id_order")),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_appeal_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal")),
    )
    with op.batch_alter_table("appeal", schema=None) as batch_op:
        batch_op.create_index("uq_appeal_chargeback_id", ["chargeback_id"], unique=True)

    op.create_table(
        "evidence",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("chargeback_id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("evidence_type", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("appeal_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chargeback_id"], ["chargeback.id"], name=op.f("fk_evidence_chargeback_id_chargeback")
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_evidence_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_chargeback_created", ["chargeback_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipping_address", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_column("shipping_address")

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_chargeback_created")

    op.drop_table("evidence")
    with op.batch_alter_table("appeal", schema=None) as batch_op:
        batch_op.drop_index("uq_appeal_chargeback_id")

    op.drop_table("appeal")
