"""The first released schema (schema version 1, evalsuite before Alembic), written out op by op.

Written by hand from that release's tables, not from today's metadata, so that a new
database built by the revisions matches one the first release made. Databases made
by that release have no ``alembic_version``; ``store.db`` stamps them with this
revision (they are recognised by their ``schema_migration`` row) and upgrades on.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    _model_and_cache_tables()
    _run_tables()
    _arena_tables()
    op.create_table(
        "schema_migration",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )


def _model_and_cache_tables() -> None:
    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("revision", sa.String(), nullable=True),
        sa.Column("weights_sha256", sa.String(), nullable=False),
        sa.Column("params", sa.Integer(), nullable=True),
        sa.Column("dtype", sa.String(), nullable=True),
        sa.Column("architecture", sa.String(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "weights_sha256"),
    )
    op.create_index("ix_model_name", "model", ["name"])
    op.create_table(
        "request_cache",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("model_key", sa.String(), nullable=False),
        sa.Column("request_type", sa.String(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_request_cache_model_key", "request_cache", ["model_key"])


def _run_tables() -> None:
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("config_hash", sa.String(), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=True),
        sa.Column("suite", sa.String(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("apply_chat_template", sa.Boolean(), nullable=False),
        sa.Column("system_instruction", sa.String(), nullable=True),
        sa.Column("versions", sa.JSON(), nullable=True),
        sa.Column("hardware", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("requests_computed", sa.Integer(), nullable=False),
        sa.Column("requests_cached", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"]),
    )
    op.create_index("ix_run_model_id", "run", ["model_id"])
    op.create_index("ix_run_status", "run", ["status"])
    op.create_index("ix_run_config_hash", "run", ["config_hash"])
    op.create_table(
        "metric",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("filter", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("normalized", sa.Float(), nullable=True),
        sa.Column("n_samples", sa.Integer(), nullable=True),
        sa.Column("n_shot", sa.Integer(), nullable=True),
        sa.Column("higher_is_better", sa.Boolean(), nullable=True),
        sa.Column("is_group", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "task", "metric", "filter"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
    )
    op.create_index("ix_metric_task_metric", "metric", ["task", "metric"])
    op.create_index("ix_metric_run_id", "metric", ["run_id"])
    op.create_table(
        "sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(), nullable=False),
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.Column("filter", sa.String(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("responses", sa.JSON(), nullable=True),
        sa.Column("logliks", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
    )
    op.create_index("ix_sample_run_task_doc", "sample", ["run_id", "task", "doc_id"])


def _arena_tables() -> None:
    op.create_table(
        "prompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text"),
    )
    op.create_index("ix_prompt_category", "prompt", ["category"])
    op.create_table(
        "completion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prompt_id", "model_name"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
    )
    op.create_index("ix_completion_model_name", "completion", ["model_name"])
    op.create_index("ix_completion_prompt_id", "completion", ["prompt_id"])
    op.create_table(
        "battle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("completion_a_id", sa.Integer(), nullable=False),
        sa.Column("completion_b_id", sa.Integer(), nullable=False),
        sa.Column("model_a", sa.String(), nullable=False),
        sa.Column("model_b", sa.String(), nullable=False),
        sa.Column("voter", sa.String(), nullable=False),
        _created_at(),
        sa.Column("voted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        sa.ForeignKeyConstraint(["completion_a_id"], ["completion.id"]),
        sa.ForeignKeyConstraint(["completion_b_id"], ["completion.id"]),
    )
    op.create_index("ix_battle_token", "battle", ["token"], unique=True)
    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=True),
        sa.Column("prompt_id", sa.Integer(), nullable=True),
        sa.Column("model_a", sa.String(), nullable=False),
        sa.Column("model_b", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("voter", sa.String(), nullable=False),
        sa.Column("voter_kind", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("position_a", sa.String(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("battle_id"),
        sa.ForeignKeyConstraint(["battle_id"], ["battle.id"]),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
    )
    op.create_index("ix_vote_voter", "vote", ["voter"])
    op.create_index("ix_vote_created_at", "vote", ["created_at"])
    op.create_index("ix_vote_pair", "vote", ["model_a", "model_b"])


def downgrade() -> None:
    for table in ("vote", "battle", "completion", "prompt", "sample", "metric", "run", "request_cache", "model", "schema_migration"):
        op.drop_table(table)
