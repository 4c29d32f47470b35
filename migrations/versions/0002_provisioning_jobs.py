"""Provisioning jobs (claim, lease, attempts) and the shared Zoom rate-limit slot.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:37:37.587044

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "zoom_rate_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_slot_epoch", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_rate_slots")),
    )
    with op.batch_alter_table("subaccount_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("zoom_attempts", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("subaccount_requests", schema=None) as batch_op:
        batch_op.drop_column("zoom_attempts")
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")

    op.drop_table("zoom_rate_slots")
