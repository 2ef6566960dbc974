"""Fourth schema: the live arena (people's own prompts answered live by two contestants).

- table ``live_battle``: one battle (token, anonymous flag, outcome, winner, both sides'
  names, identities and sampling settings, voter and address hashes, times).
- table ``live_turn``: each side's answer to each turn (prompt, text, time to first token,
  tokens, seconds; ``replaced`` where the person regenerated it).
- table ``contestant_failure``: the operator's outage list (contestant, time, reason).
- columns ``vote.live_battle_id`` (unique: one vote per live battle) and
  ``vote.address_hash`` (indexed with ``created_at``: the per-address vote limit).

New tables and nullable columns only: every existing row is kept as it is.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _live_battle()
    _live_turn()
    _contestant_failure()
    with op.batch_alter_table("vote") as batch_op:
        batch_op.add_column(sa.Column("live_battle_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("address_hash", sa.String(), nullable=True))
        batch_op.create_foreign_key("fk_vote_live_battle_id_live_battle", "live_battle", ["live_battle_id"], ["id"])
        batch_op.create_index("ix_vote_live_battle_id", ["live_battle_id"], unique=True)
        batch_op.create_index("ix_vote_address_hash_created_at", ["address_hash", "created_at"])


def _live_battle() -> None:
    op.create_table(
        "live_battle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("winner", sa.String(), nullable=True),
        sa.Column("model_a", sa.String(), nullable=False),
        sa.Column("model_b", sa.String(), nullable=False),
        sa.Column("model_a_key", sa.String(), nullable=False),
        sa.Column("model_b_key", sa.String(), nullable=False),
        sa.Column("settings_a", sa.JSON(), nullable=True),
        sa.Column("settings_b", sa.JSON(), nullable=True),
        sa.Column("voter_hash", sa.String(), nullable=False),
        sa.Column("address_hash", sa.String(), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_live_battle_token", "live_battle", ["token"], unique=True)
    op.create_index("ix_live_battle_outcome", "live_battle", ["outcome"])
    op.create_index("ix_live_battle_voter_hash", "live_battle", ["voter_hash"])
    op.create_index("ix_live_battle_created_at", "live_battle", ["created_at"])


def _live_turn() -> None:
    op.create_table(
        "live_turn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("ttft_s", sa.Float(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("replaced", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["battle_id"], ["live_battle.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_live_turn_battle_turn", "live_turn", ["battle_id", "turn", "side"])


def _contestant_failure() -> None:
    op.create_table(
        "contestant_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contestant", sa.String(), nullable=False),
        sa.Column("model_key", sa.String(), nullable=True),
        sa.Column("battle_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["battle_id"], ["live_battle.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contestant_failure_contestant", "contestant_failure", ["contestant"])
    op.create_index("ix_contestant_failure_created_at", "contestant_failure", ["created_at"])


def downgrade() -> None:
    raise NotImplementedError("evalsuite databases are upgraded only; restore a backup to go back")
