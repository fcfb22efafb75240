"""Initial schema: sellers, API keys, orders, chargebacks, audit trail, messages, outbox, idempotency.

Revision ID: 4944655b3ea0
Revises:
Create Date: 2026-11-27 07:41:38.344608
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "4944655b3ea0"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "idempotency_record",
        sa.Column("caller_id", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller_id", "key", name=op.f("pk_idempotency_record")),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_record_expires", ["expires_at"], unique=False)

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_message_dedupe_key")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "seller",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_api_key_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_seller_id"), ["seller_id"], unique=False)

    op.create_table(
        "order",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_account_id", sa.String(length=40), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("frozen_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("debited_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_order_amount_positive")),
        sa.CheckConstraint(
            "frozen_amount_minor >= 0 AND debited_amount_minor >= 0 AND frozen_amount_minor + debited_amount_minor <= amount_minor",
            name=op.f("ck_order_funds_within_amount"),
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_order_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order")),
    )
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.create_index("ix_order_seller_created", ["seller_id", "created_at", "id"], unique=False)
        batch_op.create_index("uq_order_seller_external_ref", ["seller_id", "external_ref"], unique=True)

    op.create_table(
        "chargeback",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=True),
        sa.Column("reason_category", sa.String(length=32), nullable=False),
        sa.Column("reason_title", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appeal_id", sa.String(length=40), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ruling_note", sa.String(length=2000), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_chargeback_amount_positive")),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_chargeback_order_id_order")),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_chargeback_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chargeback")),
    )
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chargeback_seller_category_created",
            ["seller_id", "reason_category", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_chargeback_seller_created", ["seller_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_chargeback_seller_order_created", ["seller_id", "order_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_chargeback_seller_respond_by", ["seller_id", "respond_by", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_chargeback_seller_status_created", ["seller_id", "status", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_chargeback_seller_updated", ["seller_id", "updated_at", "id"], unique=False)
        batch_op.create_index("ix_chargeback_status_respond_by", ["status", "respond_by"], unique=False)
        batch_op.create_index(
            "uq_chargeback_order_bank_reference", ["order_id", "bank_reference"], unique=True
        )

    op.create_table(
        "case_event",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("chargeback_id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chargeback_id"], ["chargeback.id"], name=op.f("fk_case_event_chargeback_id_chargeback")
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_case_event_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_event_chargeback_occurred", ["chargeback_id", "occurred_at", "id"], unique=False
        )

    op.create_table(
        "message",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("chargeback_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chargeback_id"], ["chargeback.id"], name=op.f("fk_message_chargeback_id_chargeback")
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["seller.id"], name=op.f("fk_message_seller_id_seller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index("ix_message_seller_created", ["seller_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_message_seller_unread", ["seller_id", "read_at", "created_at", "id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_seller_unread")
        batch_op.drop_index("ix_message_seller_created")

    op.drop_table("message")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_index("ix_case_event_chargeback_occurred")

    op.drop_table("case_event")
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.drop_index("uq_chargeback_order_bank_reference")
        batch_op.drop_index("ix_chargeback_status_respond_by")
        batch_op.drop_index("ix_chargeback_seller_updated")
        batch_op.drop_index("ix_chargeback_seller_status_created")
        batch_op.drop_index("ix_chargeback_seller_respond_by")
        batch_op.drop_index("ix_chargeback_seller_order_created")
        batch_op.drop_index("ix_chargeback_seller_created")
        batch_op.drop_index("ix_chargeback_seller_category_created")

    op.drop_table("chargeback")
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index("uq_order_seller_external_ref")
        batch_op.drop_index("ix_order_seller_created")

    op.drop_table("order")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_seller_id"))

    op.drop_table("api_key")
    op.drop_table("seller")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_due")

    op.drop_table("outbox_message")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_record_expires")

    op.drop_table("idempotency_record")
