"""Bulk requests: request_batches, and batch_id on requests (its rows) and events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:51:19.867424

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "request_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("requester_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("draft_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("approval_channel_id", sa.String(length=32), nullable=True),
        sa.Column("approval_ts", sa.String(length=32), nullable=True),
        sa.Column("approver_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("submitted_at", moment, nullable=True),
        sa.Column("decided_at", moment, nullable=True),
        sa.Column("progress_at", moment, nullable=True),
        sa.Column("finished_at", moment, nullable=True),
        sa.Column("report_claimed_until", moment, nullable=True),
        sa.Column("reported_at", moment, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_batches")),
    )
    with op.batch_alter_table("request_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batches_approval_message", ["approval_channel_id", "approval_ts"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_request_batches_status"), ["status"], unique=False)
    for table in ("request_events", "subaccount_requests"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
            if table == "subaccount_requests":
                batch_op.add_column(sa.Column("batch_row", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_batch_id"), ["batch_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_batch_id_request_batches"),
                "request_batches",
                ["batch_id"],
                ["id"],
            )


def downgrade() -> None:
    """Downgrade schema."""
    for table in ("subaccount_requests", "request_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_batch_id_request_batches"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_batch_id"))
            if table == "subaccount_requests":
                batch_op.drop_column("batch_row")
            batch_op.drop_column("batch_id")
    with op.batch_alter_table("request_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_batches_status"))
        batch_op.drop_index("ix_batches_approval_message")
    op.drop_table("request_batches")
