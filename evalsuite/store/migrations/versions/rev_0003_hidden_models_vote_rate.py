"""Third schema: models the operator hid from the public pages, and the index the vote rate limit reads.

- table ``hidden_model`` (name, hidden_at): one row per hidden model name. Hiding is kept
  apart from the rows it hides (runs, answers, votes), so nothing existing changes and
  un-hiding is deleting one row. A new table: every existing row is kept as it is.
- index ``ix_vote_voter_created_at`` on ``vote (voter, created_at)``: the per-voter rate
  limit counts one voter's votes of the last minute on every vote.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hidden_model",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_vote_voter_created_at", "vote", ["voter", "created_at"])


def downgrade() -> None:
    raise NotImplementedError("evalsuite databases are upgraded only; restore a backup to go back")
