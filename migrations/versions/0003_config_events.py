"""Config events: each recorded state of an access list, the newest per setting the last seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:29:48.802363

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "config_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("setting", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("added", sa.JSON(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_events")),
        sa.UniqueConstraint("setting", "version", name=op.f("uq_config_events_setting")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("config_events")
