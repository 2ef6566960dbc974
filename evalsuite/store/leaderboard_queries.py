"""Every read the Streamlit leaderboard makes; the pages themselves hold no SQL.

The leaderboard must stay fast with thousands of runs and millions of samples, so
it aggregates in SQL: "latest complete run per (model, task)" is one GROUP BY with
``max(run.id)`` joined back to the metric rows, and the samples table is only ever
read one page, one task or one pair of runs at a time.

Board reads start from :mod:`evalsuite.store.visibility` (models the operator hid are not
in its base rows); only the admin page's run picker asks for every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Text, and_, cast, func, null, or_, select
from sqlalchemy.sql import Select
from sqlmodel import SQLModel

from evalsuite.store.db import Database
from evalsuite.store.schema import DATA_SHA256, RUN_COMPLETE, MetricRecord, ModelRecord, RunRecord, SampleRecord
from evalsuite.store.visibility import hidden_names, visible_model_ids, visible_models

_TABLES = SQLModel.metadata.tables  # SQLAlchemy Core tables of the schema's SQLModel classes
_RUN = _TABLES[RunRecord.__tablename__]
_MODEL = _TABLES[ModelRecord.__tablename__]
_METRIC = _TABLES[MetricRecord.__tablename__]
_SAMPLE = _TABLES[SampleRecord.__tablename__]

# Per-sample metric preferred for paired comparisons, in order, when a sample has several.
PREFERRED_SAMPLE_METRICS = ("acc", "acc_norm", "exact_match", "mc1", "mc2", "f1", "em")
CORRECT_METRIC = "correct"


@dataclass(frozen=True)
class FilterOptions:
    """What the leaderboard's filter widgets offer (complete runs only)."""

    suites: list[str]
    tasks: list[str]
    backends: list[str]
    models: list[str]


@dataclass(frozen=True)
class BoardFilter:
    """The leaderboard's filters; empty tuples mean "all".

    ``pinned_runs``: runs chosen by hand; a model with a pinned run is shown with that
    run's scores only, every other model with its latest complete run per task.
    ``runs``: nothing but these runs.
    """

    suites: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    model_search: str = ""
    pinned_runs: tuple[int, ...] = ()
    runs: tuple[int, ...] = ()  # only these runs (`results export --run`); empty: all


class BoardCell(NamedTuple):
    """One score on the leaderboard: a (model, task, metric, filter) from one run, as stored.

    The fields after ``is_group`` are the raw run and identity columns that
    ``evalsuite.board.keys.comparability_key`` builds its key from (the board decides what they mean).
    """

    model_id: int
    model: str
    weights_sha256: str
    params: int | None
    run_id: int
    backend: str
    suite: str | None
    task: str
    metric: str
    filter: str
    value: float | None
    stderr: float | None
    normalized: float | None
    higher_is_better: bool | None
    n_samples: int | None
    is_group: bool
    n_shot: int | None = None
    task_version: str | None = None
    n_total_docs: int | None = None
    parent_task: str | None = None
    data_sha256: str | None = None  # the scored text's hash, for a task over the user's file (--text-file)
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool | None = None  # the run's --fewshot-as-multiturn choice (None: not given)
    system_instruction: str | None = None
    judge: str | None = None  # a judged run's judge label (``name [backend] key8``)
    scoring_version: int | None = None  # from the run's identity row (None: no identity, e.g. an imported run)
    chat_template_sha256: str | None = None


@dataclass(frozen=True)
class BoardCells:
    """The leaderboard's cells as plain tuples in :class:`BoardCell` field order.

    Kept as tuples because a board can hold tens of thousands of cells and the page
    turns them straight into a DataFrame; iterate to get :class:`BoardCell` values.
    """

    rows: list[tuple[Any, ...]]
    fields: tuple[str, ...] = BoardCell._fields

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[BoardCell]:
        return (BoardCell._make(row) for row in self.rows)


class RunChoice(NamedTuple):
    """A run as offered in pickers."""

    id: int
    model: str
    backend: str
    suite: str | None
    status: str
    started_at: datetime


@dataclass(frozen=True)
class SampleQuery:
    """One page of a run's samples; ``page`` counts from 0."""

    run_id: int
    task: str | None = None
    only_wrong: bool = False
    search: str = ""
    page: int = 0
    page_size: int = 50


@dataclass(frozen=True)
class SamplePage:
    rows: list[SampleRecord]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class PairedScores:
    """Per-sample scores of two runs on the documents both scored (same task, doc_id, filter)."""

    task: str
    filter: str
    metric: str
    doc_ids: list[int]
    a: list[float]
    b: list[float]


class SamplePair(NamedTuple):
    """One document as both runs saw and answered it."""

    doc_id: int
    prompt: str | None
    target: str | None
    responses_a: list[Any] | None
    responses_b: list[Any] | None
    metrics_a: dict[str, Any] | None
    metrics_b: dict[str, Any] | None


# ---------------------------------------------------------------- leaderboard


def filter_options(database: Database) -> FilterOptions:
    """Distinct suites, tasks, backends and model names over complete runs (hidden models' names left out)."""
    complete = _RUN.c.status == RUN_COMPLETE
    shown = visible_models()
    with database.engine.connect() as connection:
        suites = connection.execute(select(_RUN.c.suite).where(complete, _RUN.c.suite.is_not(None)).distinct())
        backends = connection.execute(select(_RUN.c.backend).where(complete).distinct())
        tasks = connection.execute(select(_METRIC.c.task).distinct())
        models = connection.execute(
            select(shown.c.name).join(_RUN, _RUN.c.model_id == shown.c.id).where(complete).distinct()
        )
        return FilterOptions(
            suites=sorted(r[0] for r in suites),
            tasks=sorted(r[0] for r in tasks),
            backends=sorted(r[0] for r in backends),
            models=sorted(r[0] for r in models),
        )


def board_version(database: Database) -> tuple[float, ...]:
    """A fingerprint that changes whenever the board's data can change.

    (max run id, complete runs, metric rows, max metric id, sum of metric values, hidden
    models): a rescored run keeps its row count and may even reuse its ids, but not its
    sum; hiding or un-hiding a model changes the last number (a hash of the hidden names).
    Cheap (one pass over the metric table's values), so pages cache the board until it changes.
    """
    statement = select(
        select(func.max(_RUN.c.id)).scalar_subquery(),
        select(func.count()).select_from(_RUN).where(_RUN.c.status == RUN_COMPLETE).scalar_subquery(),
        select(func.count(), func.max(_METRIC.c.id), func.coalesce(func.sum(_METRIC.c.value), 0.0))
        .select_from(_METRIC).subquery(),
    )
    with database.engine.connect() as connection:
        row = connection.execute(statement).one()
        hidden = sorted(name for (name,) in connection.execute(hidden_names()))
    hidden_hash = int.from_bytes(hashlib.sha256("\n".join(hidden).encode()).digest()[:6], "big")
    return (*(float(value or 0) for value in row), float(hidden_hash))


def _eligible_runs(board_filter: BoardFilter) -> Select[Any]:
    """Complete runs of models not hidden that pass the filters; pinned runs replace their model's others."""
    statement = select(_RUN.c.id, _RUN.c.model_id).where(_RUN.c.status == RUN_COMPLETE, _RUN.c.model_id.in_(visible_model_ids()))
    if board_filter.suites:
        statement = statement.where(_RUN.c.suite.in_(board_filter.suites))
    if board_filter.backends:
        statement = statement.where(_RUN.c.backend.in_(board_filter.backends))
    if board_filter.model_search.strip():
        matching = select(_MODEL.c.id).where(
            _MODEL.c.name.contains(board_filter.model_search.strip(), autoescape=True)
        )
        statement = statement.where(_RUN.c.model_id.in_(matching))
    if board_filter.runs:
        statement = statement.where(_RUN.c.id.in_(board_filter.runs))
    if board_filter.pinned_runs:
        pinned_models = select(_RUN.c.model_id).where(_RUN.c.id.in_(board_filter.pinned_runs))
        statement = statement.where(
            or_(_RUN.c.id.in_(board_filter.pinned_runs), _RUN.c.model_id.not_in(pinned_models))
        )
    return statement


def _multiturn() -> Any:
    """The run's --fewshot-as-multiturn choice (JSON null: follow the chat template), portable JSON access."""
    return _RUN.c.config["fewshot_as_multiturn"].as_string()


def leaderboard_cells(database: Database, board_filter: BoardFilter = BoardFilter()) -> BoardCells:
    """Every score of each model's latest eligible complete run per task and comparable setting.

    "Latest" is the highest run id among the model's eligible runs that scored the task
    with the same task version, shots, documents, chat template, few-shot format and suite (one
    GROUP BY), so a limited run never replaces a full one, nor a plain run a suite's run; ``evalsuite.board.rules`` decides what
    is shown. A model's tasks may come from different runs (each cell names its run).
    """
    run_settings = [
        _RUN.c.apply_chat_template, _multiturn().label("multiturn"), _RUN.c.system_instruction, _judge().label("judge"),
        _RUN.c.suite,  # a suite run's scores are never replaced by a later run of the same tasks outside the suite
    ]
    if "identity_id" in _RUN.c:  # the scoring identity, where the schema records one
        run_settings.append(_RUN.c.identity_id)
    eligible = _eligible_runs(board_filter).add_columns(*run_settings).subquery("eligible")  # JSON read once per run
    settings = [
        _METRIC.c.task_version, _METRIC.c.n_samples, _METRIC.c.n_total_docs, _METRIC.c.n_shot, _data_sha256(),
        *(eligible.c[column.name] for column in run_settings),
    ]
    latest = (
        select(eligible.c.model_id, _METRIC.c.task, func.max(_METRIC.c.run_id).label("run_id"))
        .join(eligible, eligible.c.id == _METRIC.c.run_id)
    )
    if board_filter.tasks:
        latest = latest.where(_METRIC.c.task.in_(board_filter.tasks))
    chosen = latest.group_by(eligible.c.model_id, _METRIC.c.task, *settings).distinct().subquery("chosen")
    identity, identity_columns = _identity_columns()
    statement = (
        select(
            _MODEL.c.id, _MODEL.c.name, _MODEL.c.weights_sha256, _MODEL.c.params, _RUN.c.id, _RUN.c.backend,
            _RUN.c.suite, _METRIC.c.task, _METRIC.c.metric, _METRIC.c.filter, _METRIC.c.value, _METRIC.c.stderr,
            _METRIC.c.normalized, _METRIC.c.higher_is_better, _METRIC.c.n_samples, _METRIC.c.is_group,
            _METRIC.c.n_shot, _METRIC.c.task_version, _METRIC.c.n_total_docs, _METRIC.c.parent_task, _data_sha256(),
            _RUN.c.apply_chat_template, _multiturn(), _RUN.c.system_instruction, _judge(), *identity_columns,
        )
        .select_from(chosen)
        .join(_METRIC, and_(_METRIC.c.run_id == chosen.c.run_id, _METRIC.c.task == chosen.c.task))
        .join(_RUN, _RUN.c.id == chosen.c.run_id)
        .join(_MODEL, _MODEL.c.id == chosen.c.model_id)
        .order_by(_MODEL.c.name, _METRIC.c.task, _METRIC.c.metric, _METRIC.c.filter, _RUN.c.id)
    )
    if identity is not None:
        statement = statement.outerjoin(identity, identity.c.id == _RUN.c.identity_id)
    with database.engine.connect() as connection:
        rows = connection.execute(statement).fetchall()  # one fetchall: ~2x faster than row iteration
    return BoardCells(rows=_with_run_settings(rows))


def _with_run_settings(rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Each row as a BoardCell tuple, its stored JSON values decoded once per run (JSON null: None);
    a run's task listed under two groupings is kept once."""
    width = BoardCell._fields.index("fewshot_as_multiturn")  # fields read as they are, up to apply_chat_template
    per_run: dict[int, tuple[bool | None, str | None]] = {}
    seen: set[tuple[int, str, str, str]] = set()
    cells: list[tuple[Any, ...]] = []
    for row in rows:
        key = (row[4], row[7], row[8], row[9])
        if key in seen:
            continue
        seen.add(key)
        multiturn, system, judge, *identity = row[width:]
        if row[4] not in per_run:
            flag = None if multiturn in (None, "null") else str(multiturn).lower() in ("1", "true")
            per_run[row[4]] = (flag, None if judge in (None, "null") else judge)
        flag, judge = per_run[row[4]]
        cells.append((*row[:width], flag, system, judge, *identity))
    return cells


def _identity_columns() -> tuple[Any, list[Any]]:
    """The identity table and its scoring version and chat-template hash (NULL where the schema has none)."""
    identity = _TABLES.get("model_identity")
    wanted = ("scoring_version", "chat_template_sha256")
    if identity is None or "identity_id" not in _RUN.c:
        return None, [null().label(name) for name in wanted]
    return identity, [identity.c[name] if name in identity.c else null().label(name) for name in wanted]


def _data_sha256() -> Any:
    """The hash of the text a score was made on, where the user supplied it (``--text-file``); NULL otherwise."""
    return _METRIC.c.details[DATA_SHA256].as_string()


def _judge() -> Any:
    """A judged run's judge (``name [backend] key8``, from its stored config; NULL for other runs)."""
    return _RUN.c.config["judge_label"].as_string()


def run_choices(
    database: Database, *, complete_only: bool = True, limit: int = 5000, include_hidden: bool = False
) -> list[RunChoice]:
    """Runs for pickers, newest first (capped: a picker with more is unusable anyway).

    Hidden models' runs only with ``include_hidden`` (the admin page, which may delete them).
    """
    models = _MODEL if include_hidden else visible_models()
    statement = (
        select(_RUN.c.id, models.c.name, _RUN.c.backend, _RUN.c.suite, _RUN.c.status, _RUN.c.started_at)
        .join(models, models.c.id == _RUN.c.model_id)
        .order_by(_RUN.c.id.desc())
        .limit(limit)
    )
    if complete_only:
        statement = statement.where(_RUN.c.status == RUN_COMPLETE)
    with database.engine.connect() as connection:
        return [RunChoice(*row) for row in connection.execute(statement)]


# ---------------------------------------------------------------- samples of one run


def sample_tasks(database: Database, run_id: int) -> list[str]:
    """Tasks that have stored samples in a run."""
    statement = select(_SAMPLE.c.task).where(_SAMPLE.c.run_id == run_id).distinct()
    with database.engine.connect() as connection:
        return sorted(row[0] for row in connection.execute(statement))


def _sample_conditions(query: SampleQuery) -> list[Any]:
    conditions: list[Any] = [_SAMPLE.c.run_id == query.run_id]
    if query.task:
        conditions.append(_SAMPLE.c.task == query.task)
    if query.only_wrong:
        conditions.append(_SAMPLE.c.correct.is_(False))
    text = query.search.strip()
    if text:
        conditions.append(
            or_(
                _SAMPLE.c.prompt.contains(text, autoescape=True),
                _SAMPLE.c.target.contains(text, autoescape=True),
                cast(_SAMPLE.c.responses, Text).contains(text, autoescape=True),
            )
        )
    return conditions


def sample_page(database: Database, query: SampleQuery) -> SamplePage:
    """One page of a run's samples (LIMIT/OFFSET in SQL) and how many match in all."""
    if query.page < 0 or query.page_size < 1:
        raise ValueError(f"bad page {query.page} / page size {query.page_size}")
    conditions = _sample_conditions(query)
    count_statement = select(func.count()).select_from(_SAMPLE).where(*conditions)
    statement = (
        select(SampleRecord)
        .where(*conditions)
        .order_by(SampleRecord.task, SampleRecord.doc_id, SampleRecord.filter)  # type: ignore[arg-type]
        .limit(query.page_size)
        .offset(query.page * query.page_size)
    )
    with database.session() as session:
        total = int(session.execute(count_statement).scalar_one())
        rows = list(session.execute(statement).scalars().all())
    return SamplePage(rows=rows, total=total, page=query.page, page_size=query.page_size)


# ---------------------------------------------------------------- comparing two runs


def shared_sample_tasks(database: Database, run_a: int, run_b: int) -> list[tuple[str, str]]:
    """(task, filter) pairs that both runs have samples for."""
    first = select(_SAMPLE.c.task, _SAMPLE.c.filter).where(_SAMPLE.c.run_id == run_a).distinct()
    second = select(_SAMPLE.c.task, _SAMPLE.c.filter).where(_SAMPLE.c.run_id == run_b).distinct()
    with database.engine.connect() as connection:
        found_a = {(t, f) for t, f in connection.execute(first)}
        found_b = {(t, f) for t, f in connection.execute(second)}
    return sorted(found_a & found_b)


def sample_metric_value(metrics: dict[str, Any] | None, correct: bool | None, metric: str) -> float | None:
    """A sample's score under ``metric`` as a float, or None when it has no scalar value.

    Per-sample values of corpus metrics (BLEU's (reference, hypothesis), perplexity's
    (loglik, words)) are pairs, not scores, and give None.
    """
    if metric == CORRECT_METRIC:
        return None if correct is None else float(correct)
    value = (metrics or {}).get(metric)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def sample_metric_names(database: Database, run_id: int, task: str, filter_name: str = "none") -> list[str]:
    """Scalar per-sample metrics of a task in a run, preferred ones first (read from one sample)."""
    statement = (
        select(_SAMPLE.c.metrics, _SAMPLE.c.correct)
        .where(_SAMPLE.c.run_id == run_id, _SAMPLE.c.task == task, _SAMPLE.c.filter == filter_name)
        .limit(1)
    )
    with database.engine.connect() as connection:
        row = connection.execute(statement).first()
    if row is None:
        return []
    metrics, correct = row
    names = [name for name in (metrics or {}) if sample_metric_value(metrics, None, name) is not None]
    if correct is not None:
        names.append(CORRECT_METRIC)
    rank = {name: i for i, name in enumerate(PREFERRED_SAMPLE_METRICS)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def paired_sample_scores(
    database: Database, run_a: int, run_b: int, task: str, filter_name: str, metric: str
) -> PairedScores:
    """Both runs' per-sample ``metric`` on the documents they share, ordered by doc_id."""
    other = _SAMPLE.alias("other")
    statement = (
        select(_SAMPLE.c.doc_id, _SAMPLE.c.metrics, _SAMPLE.c.correct, other.c.metrics, other.c.correct)
        .join(
            other,
            and_(
                other.c.run_id == run_b, other.c.task == _SAMPLE.c.task,
                other.c.doc_id == _SAMPLE.c.doc_id, other.c.filter == _SAMPLE.c.filter,
            ),
        )
        .where(_SAMPLE.c.run_id == run_a, _SAMPLE.c.task == task, _SAMPLE.c.filter == filter_name)
        .order_by(_SAMPLE.c.doc_id)
    )
    doc_ids: list[int] = []
    scores_a: list[float] = []
    scores_b: list[float] = []
    with database.engine.connect() as connection:
        for doc_id, metrics_a, correct_a, metrics_b, correct_b in connection.execute(statement):
            value_a = sample_metric_value(metrics_a, correct_a, metric)
            value_b = sample_metric_value(metrics_b, correct_b, metric)
            if value_a is None or value_b is None:
                continue
            doc_ids.append(int(doc_id))
            scores_a.append(value_a)
            scores_b.append(value_b)
    return PairedScores(task=task, filter=filter_name, metric=metric, doc_ids=doc_ids, a=scores_a, b=scores_b)


def sample_pairs(
    database: Database, run_a: int, run_b: int, task: str, filter_name: str, doc_ids: Sequence[int]
) -> list[SamplePair]:
    """Prompt, target and both runs' answers for a few documents (one page of disagreements)."""
    if not doc_ids:
        return []
    other = _SAMPLE.alias("other")
    statement = (
        select(
            _SAMPLE.c.doc_id, _SAMPLE.c.prompt, _SAMPLE.c.target, _SAMPLE.c.responses, other.c.responses,
            _SAMPLE.c.metrics, other.c.metrics,
        )
        .join(
            other,
            and_(
                other.c.run_id == run_b, other.c.task == _SAMPLE.c.task,
                other.c.doc_id == _SAMPLE.c.doc_id, other.c.filter == _SAMPLE.c.filter,
            ),
        )
        .where(
            _SAMPLE.c.run_id == run_a, _SAMPLE.c.task == task, _SAMPLE.c.filter == filter_name,
            _SAMPLE.c.doc_id.in_(list(doc_ids)),
        )
        .order_by(_SAMPLE.c.doc_id)
    )
    with database.engine.connect() as connection:
        return [SamplePair(*row) for row in connection.execute(statement)]
