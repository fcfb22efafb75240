"""A buyer's payment accounts (one active binding per reference, by a partial unique index), favourites,
coupons, and the index of an account's orders.

Revision ID: 2b9c7c586cee
Revises: 7b2e4c1d9a53
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "2b9c7c586cee"
down_revision: str | None = "7b2e4c1d9a53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE_BINDING = sa.text("unbound_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "coupon",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(amount_minor IS NULL) <> (percent_off IS NULL)", name=op.f("ck_coupon_one_discount")
        ),
        sa.CheckConstraint(
            "amount_minor IS NULL OR (amount_minor > 0 AND currency IS NOT NULL)",
            name=op.f("ck_coupon_amount"),
        ),
        sa.CheckConstraint(
            "percent_off IS NULL OR (percent_off >= 1 AND percent_off <= 100)",
            name=op.f("ck_coupon_percent"),
        ),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_coupon_account_id_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon")),
    )
    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.create_index("ix_coupon_account_expires", ["account_id", "expires_at", "id"], unique=False)
        batch_op.create_index("uq_coupon_account_code", ["account_id", "code"], unique=True)

    op.create_table(
        "favourite",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("product_ref", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_favourite_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favourite")),
    )
    with op.batch_alter_table("favourite", schema=None) as batch_op:
        batch_op.create_index(
            "ix_favourite_account_created", ["account_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("uq_favourite_account_product", ["account_id", "product_ref"], unique=True)

    op.create_table(
        "payment_account",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("ref_digest", sa.String(length=64), nullable=False),
        sa.Column("ref_masked", sa.String(length=260), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_payment_account_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_account")),
    )
    with op.batch_alter_table("payment_account", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_account_account_created", ["account_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "uq_payment_account_active_ref",
            ["provider", "ref_digest"],
            unique=True,
            sqlite_where=_ACTIVE_BINDING,
            postgresql_where=_ACTIVE_BINDING,
        )

    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_buyer_created", ["buyer_account_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index("ix_order_buyer_created")

    with op.batch_alter_table("payment_account", schema=None) as batch_op:
        batch_op.drop_index("uq_payment_account_active_ref")
        batch_op.drop_index("ix_payment_account_account_created")

    op.drop_table("payment_account")
    with op.batch_alter_table("favourite", schema=None) as batch_op:
        batch_op.drop_index("uq_favourite_account_product")
        batch_op.drop_index("ix_favourite_account_created")

    op.drop_table("favourite")
    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.drop_index("uq_coupon_account_code")
        batch_op.drop_index("ix_coupon_account_expires")

    op.drop_table("coupon")
