"""The Slack outbox: slack_outbox, slack_pacing, held_reactions, worker_heartbeats; and
submission_key on requests (one request per confirmation step).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 19:42:26.392449

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "held_reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("reaction", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_reactions")),
        sa.UniqueConstraint(
            "channel_id",
            "message_ts",
            "user_id",
            "reaction",
            name=op.f("uq_held_reactions_channel_id"),
        ),
    )
    with op.batch_alter_table("held_reactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_held_reactions_message", ["channel_id", "message_ts"], unique=False
        )

    op.create_table(
        "slack_pacing",
        sa.Column("queue", sa.String(length=96), nullable=False),
        sa.Column("next_slot_epoch", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("queue", name=op.f("pk_slack_pacing")),
    )
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeats")),
    )
    op.create_table(
        "slack_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=96), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("maybe_sent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=96), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subaccount_requests.id"],
            name=op.f("fk_slack_outbox_request_id_subaccount_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_outbox")),
    )
    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_slack_outbox_due", ["status", "queue", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_slack_outbox_request_id"), ["request_id"], unique=False
        )

    with op.batch_alter_table("subaccount_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_subaccount_requests_submission_key"), ["submission_key"]
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("subaccount_requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_subaccount_requests_submission_key"), type_="unique"
        )
        batch_op.drop_column("submission_key")

    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_outbox_request_id"))
        batch_op.drop_index("ix_slack_outbox_due")

    op.drop_table("slack_outbox")
    op.drop_table("worker_heartbeats")
    op.drop_table("slack_pacing")
    with op.batch_alter_table("held_reactions", schema=None) as batch_op:
        batch_op.drop_index("ix_held_reactions_message")

    op.drop_table("held_reactions")
