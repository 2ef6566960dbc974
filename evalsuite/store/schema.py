"""The tables evalsuite stores, as SQLModel classes.

Everything a run produces is kept in one SQLite file (or any SQLAlchemy URL):
models and their weights identity, runs with their full configuration, one row
per (task, metric, filter) score, one row per scored document, the request cache
that makes runs resumable, and the arena's prompts, answers, battles and votes.

Scores are columns ``(task, metric, filter, value, stderr)``; lm-eval's packed
``"acc,none"`` keys exist only in exports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from evalsuite.store.revisions import schema_version

RUN_RUNNING = "running"
RUN_COMPLETE = "complete"
RUN_FAILED = "failed"
# Never stored: how readers show a `running` row whose heartbeat stopped (see queries.effective_status).
RUN_INTERRUPTED = "interrupted"
RUN_STATUSES = (RUN_RUNNING, RUN_COMPLETE, RUN_FAILED)

VOTE_OUTCOMES = ("a", "b", "tie", "both_bad")


def utcnow() -> datetime:
    """Timezone-aware UTC: every stored time is in one zone, whatever the server's."""
    return datetime.now(UTC)


def _json_column() -> Any:
    return Field(default=None, sa_column=Column(JSON))


def _text_column() -> Any:
    return Field(default=None, sa_column=Column(Text))


class ModelRecord(SQLModel, table=True):
    """A model as evaluated: same name with other weights, tokenizer or config is another row."""

    __tablename__ = "model"
    __table_args__ = (UniqueConstraint("name", "weights_sha256", "tokenizer_sha256", "config_sha256"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    source: str
    revision: Optional[str] = None
    weights_sha256: str
    tokenizer_sha256: Optional[str] = None  # sha256 of the tokenizer files (None: stored before they were hashed)
    config_sha256: Optional[str] = None  # sha256 of config.json + generation_config.json
    params: Optional[int] = None
    dtype: Optional[str] = None
    architecture: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)


class RunRecord(SQLModel, table=True):
    """One `evalsuite run`: its configuration, environment and status."""

    __tablename__ = "run"

    id: Optional[int] = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model.id", index=True)
    identity_id: Optional[int] = Field(default=None, foreign_key="model_identity.id", index=True)  # request-cache identity
    backend: str
    status: str = Field(default=RUN_RUNNING, index=True)
    config: Optional[dict] = _json_column()
    config_hash: str = Field(index=True)
    tasks: Optional[list] = _json_column()
    suite: Optional[str] = None
    seed: int = 0
    apply_chat_template: bool = False
    system_instruction: Optional[str] = None
    versions: Optional[dict] = _json_column()
    hardware: Optional[dict] = _json_column()
    error: Optional[str] = _text_column()
    pid: Optional[int] = None
    host: Optional[str] = None
    requests_computed: int = 0
    requests_cached: int = 0
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None
    duration_s: Optional[float] = None
    schema_version: int = Field(default_factory=schema_version)  # the newest migration's number when the run was written
    # Liveness: written every few seconds by the working process (any host); a `running` row whose
    # heartbeat is older than the timeout is shown as `interrupted` and may be resumed anywhere.
    heartbeat_at: Optional[datetime] = None


class RunAttempt(SQLModel, table=True):
    """One process's go at a run: a resumed run has several, and its time is their sum.

    The run row holds the latest attempt's host, versions and hardware; this table keeps
    every attempt's, so a run resumed on another machine says where each part was computed.
    """

    __tablename__ = "run_attempt"
    __table_args__ = (UniqueConstraint("run_id", "attempt"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    attempt: int
    host: Optional[str] = None
    pid: Optional[int] = None
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: Optional[datetime] = None
    duration_s: Optional[float] = None
    outcome: str = RUN_RUNNING
    versions: Optional[dict] = _json_column()
    hardware: Optional[dict] = _json_column()

# MetricRecord.details key: sha256 of the text a --text-file task scored (part of the board's comparability key).
DATA_SHA256 = "data_sha256"


class MetricRecord(SQLModel, table=True):
    """One score of one task in one run."""

    __tablename__ = "metric"
    __table_args__ = (
        UniqueConstraint("run_id", "task", "metric", "filter"),
        Index("ix_metric_task_metric", "task", "metric"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    task: str
    metric: str
    filter: str = "none"
    value: Optional[float] = None
    stderr: Optional[float] = None
    normalized: Optional[float] = None
    n_samples: Optional[int] = None
    n_shot: Optional[int] = None
    higher_is_better: Optional[bool] = None
    is_group: bool = False
    details: Optional[dict] = _json_column()
    # The board's comparability key (evalsuite.board.rules): lm-eval's task version, the documents the
    # task has (n_samples < n_total_docs: a limited run) and the group the task ran under.
    task_version: Optional[str] = None
    n_total_docs: Optional[int] = None
    parent_task: Optional[str] = None


class SampleRecord(SQLModel, table=True):
    """One scored document: what the model saw, answered, and how it scored."""

    __tablename__ = "sample"
    __table_args__ = (Index("ix_sample_run_task_doc", "run_id", "task", "doc_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    task: str
    doc_id: int
    filter: str = "none"
    prompt: Optional[str] = _text_column()
    target: Optional[str] = _text_column()
    responses: Optional[list] = _json_column()
    logliks: Optional[list] = _json_column()
    metrics: Optional[dict] = _json_column()
    correct: Optional[bool] = None


class RequestCacheRecord(SQLModel, table=True):
    """A model's answer to one request, keyed by model identity + request.

    Written as soon as each chunk of requests finishes, so an interrupted run
    loses at most one chunk, and a resumed run recomputes only what is missing.
    """

    __tablename__ = "request_cache"

    key: str = Field(primary_key=True)
    model_key: str = Field(index=True)  # ModelIdentityRecord.key of the model that answered
    request_type: str
    response: Optional[list] = _json_column()
    computed_by_run_id: Optional[int] = Field(default=None, index=True)  # the run that computed the answer
    created_at: datetime = Field(default_factory=utcnow)


class ModelIdentityRecord(SQLModel, table=True):
    """One distinct ``evalsuite.identity.model_identity.ModelIdentity``: everything that can change a number.

    ``key`` (sha256 over the fields) is the request-cache namespace; the columns say
    what it was computed from. Field names equal ModelIdentity's.
    """

    __tablename__ = "model_identity"

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True)
    weights_sha256: str
    tokenizer_sha256: str
    config_sha256: str
    revision: Optional[str] = None
    backend: str
    dtype: str
    device: str
    max_length: Optional[int] = None
    backend_args: Optional[list] = _json_column()  # sorted [key, value] pairs as given on the command line
    apply_chat_template: bool = False
    chat_template_sha256: Optional[str] = None
    system_instruction: Optional[str] = _text_column()
    scoring_version: int
    lm_eval_version: Optional[str] = None
    transformers_version: Optional[str] = None
    torch_version: Optional[str] = None
    vllm_version: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)


class ArenaPrompt(SQLModel, table=True):
    __tablename__ = "prompt"

    id: Optional[int] = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    category: Optional[str] = Field(default=None, index=True)
    source: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)


class Completion(SQLModel, table=True):
    """A model's answer to an arena prompt, one per (prompt, model identity).

    ``model_key`` identifies the weights, tokenizer files, config and revision that
    answered (``evalsuite.arena.contestant.answer_model_key``), so new weights under an
    old name answer again and are rated apart; ``model_name`` is how it was called.
    """

    __tablename__ = "completion"
    __table_args__ = (UniqueConstraint("prompt_id", "model_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    model_name: str = Field(index=True)
    model_key: str = Field(index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    settings: Optional[dict] = _json_column()
    created_at: datetime = Field(default_factory=utcnow)


class Battle(SQLModel, table=True):
    """A pair shown to a voter; issued by the server so votes cannot pick models.

    ``token`` is an unguessable id handed to the page; a vote must quote it, and
    it can be used once.
    """

    __tablename__ = "battle"

    id: Optional[int] = Field(default=None, primary_key=True)
    token: str = Field(unique=True, index=True)
    prompt_id: int = Field(foreign_key="prompt.id")
    completion_a_id: int = Field(foreign_key="completion.id")
    completion_b_id: int = Field(foreign_key="completion.id")
    model_a: str
    model_b: str
    model_a_key: Optional[str] = None  # Completion.model_key of each answer shown
    model_b_key: Optional[str] = None
    voter: str
    created_at: datetime = Field(default_factory=utcnow)
    voted: bool = False


class Vote(SQLModel, table=True):
    """One verdict on one battle; ``model_a`` is the answer shown as "A"."""

    __tablename__ = "vote"
    # (voter, created_at): the per-voter rate limit counts one voter's votes of the last minute.
    # (address_hash, created_at): the per-address limit of live votes; live_battle_id: one vote per live battle.
    __table_args__ = (
        Index("ix_vote_pair", "model_a", "model_b"),
        Index("ix_vote_voter_created_at", "voter", "created_at"),
        Index("ix_vote_address_hash_created_at", "address_hash", "created_at"),
        Index("ix_vote_live_battle_id", "live_battle_id", unique=True),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    battle_id: Optional[int] = Field(default=None, foreign_key="battle.id", unique=True)
    prompt_id: Optional[int] = Field(default=None, foreign_key="prompt.id")
    model_a: str
    model_b: str
    model_a_key: Optional[str] = None  # the identities voted on (None: a vote stored without them)
    model_b_key: Optional[str] = None
    outcome: str
    voter: str = Field(index=True)
    voter_kind: str = "human"
    category: Optional[str] = None
    position_a: str = "left"
    created_at: datetime = Field(default_factory=utcnow, index=True)
    live_battle_id: Optional[int] = Field(default=None, foreign_key="live_battle.id")  # a vote cast in a live battle
    address_hash: Optional[str] = None  # live votes: sha256 of the client's address (the per-address limit)


LIVE_OPEN = "open"
LIVE_VOTED = "voted"
LIVE_ABANDONED = "abandoned"
LIVE_FAILED = "failed"
LIVE_OUTCOMES = (LIVE_OPEN, LIVE_VOTED, LIVE_ABANDONED, LIVE_FAILED)
LIVE_SIDES = ("a", "b")
NO_SIDE = ""  # model_b and model_b_key of a direct chat: one contestant, side a only, never voted on


class LiveBattle(SQLModel, table=True):
    """One live battle: a person's own prompts answered by two contestants, turn after turn, then (maybe) a vote.

    ``anonymous`` battles' votes become :class:`Vote` rows and count in the ratings; a named
    battle (the person picked the models) keeps its ``winner`` here only, never counted. A
    direct chat (the person picked one model) is a named battle whose side b is :data:`NO_SIDE`.
    ``outcome`` says how it ended: open, voted, abandoned (a new round without a vote) or
    failed (a contestant failed mid-answer: nothing counted). The conversations are the
    :class:`LiveTurn` rows; voter and client address are stored as sha256 hashes only.
    """

    __tablename__ = "live_battle"

    id: Optional[int] = Field(default=None, primary_key=True)
    token: str = Field(unique=True, index=True)
    anonymous: bool = True
    outcome: str = Field(default=LIVE_OPEN, index=True)
    winner: Optional[str] = None  # FastChat's words: model_a, model_b, tie, tie (bothbad)
    model_a: str
    model_b: str
    model_a_key: str
    model_b_key: str
    settings_a: Optional[dict] = _json_column()  # backend, sampling settings, identity fields of each side
    settings_b: Optional[dict] = _json_column()
    voter_hash: str = Field(index=True)
    address_hash: Optional[str] = None
    turns: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
    ended_at: Optional[datetime] = None


class LiveTurn(SQLModel, table=True):
    """One side's answer to one turn of a live battle, with how it was produced.

    ``replaced`` marks an answer the person regenerated: kept for the record, not part of
    the conversation the vote is about.
    """

    __tablename__ = "live_turn"
    __table_args__ = (Index("ix_live_turn_battle_turn", "battle_id", "turn", "side"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    battle_id: int = Field(foreign_key="live_battle.id")
    turn: int
    side: str
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    ttft_s: Optional[float] = None
    tokens: Optional[int] = None
    seconds: Optional[float] = None
    replaced: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ContestantFailure(SQLModel, table=True):
    """A live contestant that failed or stalled (the operator's outage list)."""

    __tablename__ = "contestant_failure"

    id: Optional[int] = Field(default=None, primary_key=True)
    contestant: str = Field(index=True)
    model_key: Optional[str] = None
    battle_id: Optional[int] = Field(default=None, foreign_key="live_battle.id")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class HiddenModel(SQLModel, table=True):
    """A model name the operator hid from the public pages (``evalsuite admin hide-model``).

    Hiding is a fact about a *name*, kept apart from the rows it hides: the board's
    models and the arena's contestants are matched by name (every identity and run of
    it), and un-hiding deletes this row, so nothing else is ever changed or lost.
    """

    __tablename__ = "hidden_model"

    name: str = Field(primary_key=True)
    hidden_at: datetime = Field(default_factory=utcnow)


class SchemaMigration(SQLModel, table=True):
    """Which revisions have been applied to this database, by number (written by ``revisions.record_applied``)."""

    __tablename__ = "schema_migration"

    version: int = Field(primary_key=True)
    applied_at: datetime = Field(default_factory=utcnow)
