"""Leaderboard rules: which scores are comparable, how a suite scores, who is ranked.

Pure functions over stored score cells (no Streamlit, no SQL), shared by the Streamlit
leaderboard and ``evalsuite results export`` so both show the same numbers:

* **Comparability key.** Two scores of one task are comparable only when the task
  version, shots, number of documents scored, chat template, few-shot-as-multiturn,
  scoring code and, for a ``--text-file`` task, the text's hash are equal (:class:`ComparabilityKey`,
  built in :mod:`evalsuite.board.keys`). A column never mixes keys; a run
  limited to fewer documents than the task has gets its own, marked column, so it can
  never replace a full run.
* **Leaf tasks.** A group (``mmlu``) is shown as its own aggregate column; its
  sub-groups and subtasks are not shown beside it unless asked for, and nothing is
  averaged over a group and its members together.
* **Suite scores only as the suite defines them** (``tasks/suites.yaml``, through
  :func:`evalsuite.metrics.normalization.suite_score`): Open LLM v1 is the mean of its
  six raw scores x 100, v2 the mean of its benchmarks' random-baseline-normalised
  scores; a suite with ``average: false`` (mixed units: perplexity, BLEU, accuracy) gets
  no score, and the "all tasks" view has none either: nothing is averaged across scales.
* **One run per suite score.** A suite's score (and its benchmark columns) come from one run
  started with ``--suite NAME`` (:func:`suite_runs`), the one the Runs column names; the same
  tasks scored by other runs (another suite's shots, a plain ``--tasks`` run) are listed
  apart, in the model's "(other runs)" row, and never enter the score.
* **Ranking** only among models that have every score of the view under the same keys;
  the others are listed apart, unranked, with what they lack.
* **Display** as the Open LLM Leaderboard does: fractions x 100, two decimals, and
  ``± stderr`` in the same cell; :func:`view_records` keeps full precision for CSV/JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from evalsuite.board.keys import ComparabilityKey, comparability_key
from evalsuite.judged import mt_bench
from evalsuite.metrics.normalization import SuiteMetric, benchmark_mean, normalize_to_random_baseline, suite_score
from evalsuite.metrics.translation import SACREBLEU_METRICS
from evalsuite.store.leaderboard_queries import BoardCell
from evalsuite.tasks.suites import SuiteSpec

ALL_TASKS = "all tasks"
DECIMALS = 2  # as the Open LLM Leaderboard shows scores
RAW_DECIMALS = 4  # metrics of unknown scale are shown as stored


class Scale(Enum):
    """The unit a metric is stored in, which decides how it is shown and what it may be averaged with."""

    FRACTION = "fraction"  # 0–1 (accuracy, exact match, F1): shown x 100
    PERCENT = "percent"  # 0–100 already (sacrebleu's BLEU, chrF, TER)
    UNBOUNDED = "unbounded"  # perplexities, bits per byte
    RAW = "raw"  # unknown: shown as stored
    COUNT = "count"  # a tally stored beside the scores (MT-Bench's judgments): not a score, no column


_FRACTION_METRICS = frozenset({"acc", "acc_norm", "exact_match", "mc1", "mc2", "f1", "em", "mcc", "macro_f1", "acc_mutual_info"})
_UNBOUNDED_MARKERS = ("perplexity", "bits_per_byte", "bpb")


def metric_scale(metric: str) -> Scale:
    """The scale of a metric, from its name (lm-eval's names; ``*_acc`` as IFEval's)."""
    if metric in mt_bench.COUNTS:
        return Scale.COUNT
    if metric in SACREBLEU_METRICS:
        return Scale.PERCENT
    if any(marker in metric for marker in _UNBOUNDED_MARKERS):
        return Scale.UNBOUNDED
    if metric in _FRACTION_METRICS or metric.endswith("_acc") or metric.startswith(("acc_", "exact_match")) or metric.endswith("_f1"):
        return Scale.FRACTION
    return Scale.RAW


@dataclass(frozen=True)
class Column:
    """One column of a view: a score (or a suite benchmark) under one set of keys."""

    label: str
    task: str
    metric: str
    filter: str
    keys: tuple[ComparabilityKey, ...]
    scale: Scale
    higher_is_better: bool | None
    is_group: bool = False
    benchmark: str | None = None  # suite views: the benchmark this column scores

    def describe(self) -> str:
        """The column's keys in words (a legend row)."""
        return "; ".join(dict.fromkeys(key.describe() for key in self.keys)) or "no model has this score yet"


@dataclass(frozen=True)
class Cell:
    """A value as stored (``value`` in the column's scale; suite benchmarks are 0–100)."""

    value: float | None
    stderr: float | None = None
    run_id: int | None = None


@dataclass(frozen=True)
class Row:
    """One model in a view."""

    model: str
    cells: dict[str, Cell]
    rank: int | None = None
    score: float | None = None
    lacks: tuple[str, ...] = ()
    params: int | None = None
    backends: tuple[str, ...] = ()
    runs: tuple[int, ...] = ()


@dataclass(frozen=True)
class BoardView:
    """A finished board: columns, ranked rows (best first), then unranked rows with what they lack."""

    name: str
    columns: list[Column]
    ranked: list[Row]
    unranked: list[Row]
    score_label: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[Row]:
        return [*self.ranked, *self.unranked]


# ---------------------------------------------------------------- model labels and cell selection


def model_labels(cells: Iterable[BoardCell]) -> dict[int, str]:
    """Model id -> name, or ``name @sha8`` when one name has several weights."""
    ids: dict[str, set[int]] = {}
    sha: dict[int, str] = {}
    for cell in cells:
        ids.setdefault(cell.model, set()).add(cell.model_id)
        sha[cell.model_id] = cell.weights_sha256
    return {
        model_id: name if len(group) == 1 else f"{name} @{sha[model_id][:8]}"
        for name, group in ids.items()
        for model_id in group
    }


_Score = tuple[str, str, str]  # (task, metric, filter)


@dataclass(frozen=True)
class _Keyed:
    cell: BoardCell
    key: ComparabilityKey


LabelOf = Callable[[BoardCell], str]


def _default_labels(cells: Sequence[BoardCell]) -> LabelOf:
    labels = model_labels(cells)
    return lambda cell: labels[cell.model_id]


def _by_model(cells: Sequence[BoardCell], label_of: LabelOf | None = None) -> dict[str, dict[_Score, list[_Keyed]]]:
    """row label -> (task, metric, filter) -> every stored variant, preferred first (full, more docs, newest)."""
    label_of = label_of or _default_labels(cells)
    grouped: dict[str, dict[_Score, list[_Keyed]]] = {}
    for cell in cells:
        if cell.value is None:
            continue
        variants = grouped.setdefault(label_of(cell), {}).setdefault((cell.task, cell.metric, cell.filter), [])
        variants.append(_Keyed(cell, comparability_key(cell)))
    for scores in grouped.values():
        for variants in scores.values():
            variants.sort(key=lambda v: (v.key.preference(), v.cell.run_id), reverse=True)
    return grouped


@dataclass(frozen=True)
class _Facts:
    params: int | None
    backends: tuple[str, ...]
    runs: tuple[int, ...]


def _row_facts(cells: Sequence[BoardCell], label_of: LabelOf | None = None) -> dict[str, _Facts]:
    """Per row label: its model's size, the backends and the runs its cells come from."""
    label_of = label_of or _default_labels(cells)
    params: dict[str, int | None] = {}
    backends: dict[str, set[str]] = {}
    runs: dict[str, set[int]] = {}
    for cell in cells:
        label = label_of(cell)
        params.setdefault(label, cell.params)
        backends.setdefault(label, set()).add(cell.backend)
        runs.setdefault(label, set()).add(cell.run_id)
    return {label: _Facts(params[label], tuple(sorted(backends[label])), tuple(sorted(runs[label]))) for label in params}


def _row(model: str, cells: dict[str, Cell], facts: Mapping[str, _Facts], **extra: object) -> Row:
    """A row naming the runs its shown cells come from (not every run of the model)."""
    fact = facts.get(model, _Facts(None, (), ()))
    runs = tuple(sorted({cell.run_id for cell in cells.values() if cell.run_id is not None}))
    return Row(model, cells, params=fact.params, backends=fact.backends, runs=runs, **extra)  # type: ignore[arg-type]


def _score_label(task: str, metric: str, filter_name: str) -> str:
    return f"{task} · {metric}" + ("" if filter_name == "none" else f" [{filter_name}]")


def _variant_labels(base: str, keys: Sequence[tuple[ComparabilityKey, ...]]) -> dict[tuple[ComparabilityKey, ...], str]:
    """Column labels for the variants of one score: the base alone when only one full variant exists,
    else the base plus what tells the variants apart (limited variants always say so, with n)."""
    labels: dict[tuple[ComparabilityKey, ...], str] = {}
    for variant in keys:
        limited = any(k.limited for k in variant)
        if len(keys) == 1 and not limited:
            labels[variant] = base
            continue
        parts = [_differences(variant, keys)]
        labels[variant] = f"{base} ({', '.join(p for p in parts if p)})" if any(parts) else base
    if len(set(labels.values())) < len(labels):  # still ambiguous: name every part of the key
        labels = {variant: f"{base} ({'; '.join(k.describe() for k in variant)})" for variant in keys}
    return labels


def _differences(variant: tuple[ComparabilityKey, ...], others: Sequence[tuple[ComparabilityKey, ...]]) -> str:
    """The parts of ``variant``'s key that differ among ``others`` (plus n when limited)."""
    first = variant[0]
    parts: list[str] = []
    if len({v[0].n_shot for v in others}) > 1:
        parts.append(f"{first.n_shot}-shot")
    if any(k.limited for k in variant):
        total = sum(k.n_docs or 0 for k in variant)
        parts.append(f"n={total}, limited")
    elif len({tuple(k.n_docs for k in v) for v in others}) > 1:
        parts.append(f"n={sum(k.n_docs or 0 for k in variant)}")
    if len({v[0].task_version for v in others}) > 1:
        parts.append(f"v{first.task_version}")
    if len({(v[0].chat_template, v[0].fewshot_as_multiturn) for v in others}) > 1:
        parts.append("chat" if first.chat_template else "no chat template")
    if len({v[0].scoring for v in others}) > 1:
        parts.append(f"scoring {first.scoring}")
    if len({v[0].data for v in others}) > 1:
        parts.append(first.data_label())
    return ", ".join(parts)


# ---------------------------------------------------------------- the "all tasks" view


def all_tasks_view(cells: Sequence[BoardCell], *, expand_groups: bool = False) -> BoardView:
    """Every stored score: leaf tasks and each top-level group's aggregate (members on request).

    No average and no rank: scores of different tasks have different scales and meanings.
    Every comparable variant of a score is its own column (a full and a limited run both show).
    """
    by_model = _by_model(cells)
    shown = [c for c in cells if (expand_groups or c.parent_task is None) and metric_scale(c.metric) is not Scale.COUNT]
    variants: dict[_Score, dict[ComparabilityKey, BoardCell]] = {}
    for cell in shown:
        if cell.value is not None:
            variants.setdefault((cell.task, cell.metric, cell.filter), {}).setdefault(comparability_key(cell), cell)
    columns: list[Column] = []
    for score in sorted(variants):
        keys = sorted(variants[score], key=lambda k: k.preference(), reverse=True)
        labels = _variant_labels(_score_label(*score), [(k,) for k in keys])
        for key in keys:
            sample = variants[score][key]
            columns.append(
                Column(labels[(key,)], *score, keys=(key,), scale=metric_scale(score[1]),
                       higher_is_better=sample.higher_is_better, is_group=sample.is_group)
            )
    facts = _row_facts(cells)
    rows = []
    for model in sorted(by_model, key=str.lower):
        row_cells = {}
        for column in columns:
            for variant in by_model[model].get((column.task, column.metric, column.filter), []):
                if variant.key == column.keys[0]:
                    row_cells[column.label] = Cell(variant.cell.value, variant.cell.stderr, variant.cell.run_id)
                    break
        rows.append(_row(model, row_cells, facts))
    notes = ["No average over all tasks: their scores have different scales and meanings; see a suite's view for its score."]
    return BoardView(ALL_TASKS, columns, ranked=[], unranked=rows, notes=notes)


# ---------------------------------------------------------------- suite views


@dataclass(frozen=True)
class _Unit:
    """A suite column: one scored item (average: false, or a one-item benchmark) or a benchmark."""

    label: str
    items: tuple[SuiteMetric, ...]
    task_score: bool = False  # a task's own score in an "(other runs)" row, not a benchmark: never rounded as one


def _units(suite: SuiteSpec) -> list[_Unit]:
    if not suite.average:
        return [_Unit(_score_label(*m.key), (m,)) for m in suite.metrics]
    benchmarks: dict[str, list[SuiteMetric]] = {}
    for item in suite.metrics:
        benchmarks.setdefault(item.benchmark or item.task, []).append(item)
    return [
        _Unit(_score_label(*items[0].key) if len(items) == 1 else name, tuple(items))
        for name, items in benchmarks.items()
    ]


def _reference_keys(
    by_model: Mapping[str, Mapping[_Score, list[_Keyed]]], items: Sequence[SuiteMetric]
) -> dict[_Score, ComparabilityKey]:
    """Per scored item, the key most models have (ties: full before limited, then more documents)."""
    reference: dict[_Score, ComparabilityKey] = {}
    for item in items:
        counts: Counter[ComparabilityKey] = Counter()
        for scores in by_model.values():
            counts.update({v.key for v in scores.get(item.key, [])})
        if counts:
            reference[item.key] = max(counts, key=lambda k: (counts[k], k.preference()))
    return reference


def _pick(variants: Sequence[_Keyed], reference: ComparabilityKey | None) -> _Keyed | None:
    """The reference variant when the model has it, else its preferred one."""
    for variant in variants:
        if variant.key == reference:
            return variant
    return variants[0] if variants else None


def _shown_raw(unit: _Unit, suite: SuiteSpec) -> bool:
    """Whether a unit's column shows its one score as stored (average: false, or v1's one-item benchmarks,
    shown x 100 later): only where that equals the benchmark's score, so not when the suite rounds it."""
    only = len(unit.items) == 1
    plain = unit.items[0].random_baseline == 0.0
    return only and (not suite.average or (plain and (unit.task_score or suite.benchmark_decimals is None)))


def _unit_cell(unit: _Unit, picked: Sequence[_Keyed], suite: SuiteSpec) -> Cell:
    """A unit's value: the raw score (:func:`_shown_raw`), or the benchmark's score (0–100) made by
    :func:`benchmark_mean`, the computation the suite's score uses (normalised, averaged, rounded as
    the suite says), so a column and the score agree."""
    if _shown_raw(unit, suite):
        only = picked[0].cell
        return Cell(only.value, only.stderr, only.run_id)
    normalised = [normalize_to_random_baseline(float(v.cell.value or 0.0), item.random_baseline) for item, v in zip(unit.items, picked)]
    value = benchmark_mean(normalised, suite.benchmark_decimals)
    stderr = None
    if len(unit.items) == 1 and picked[0].cell.stderr is not None:  # one item: its stderr, rescaled as its value
        stderr = float(picked[0].cell.stderr) * 100.0 / (1.0 - unit.items[0].random_baseline)
    return Cell(value, stderr, max(v.cell.run_id for v in picked))


def _unit_scale(unit: _Unit, suite: SuiteSpec) -> Scale:
    if _shown_raw(unit, suite):
        return metric_scale(unit.items[0].metric)
    return Scale.PERCENT  # normalised benchmark scores are 0–100


_Picked = tuple[_Keyed, ...]


OTHER_RUNS = "other runs"


def suite_runs(cells: Sequence[BoardCell], suite: SuiteSpec) -> dict[int, int]:
    """Model id -> the run its suite score comes from: its best run started with ``--suite NAME``.

    A suite's score is made under the suite's protocol (its shots, limits, backend arguments),
    so it comes from ONE run of the suite, never from scores of several runs. Best: a run with
    every scored item first, then a full run before a limited one, then the newest.
    """
    wanted = {item.key for item in suite.metrics}
    found: dict[tuple[int, int], set[_Score]] = {}
    limited: set[int] = set()
    for cell in cells:
        score = (cell.task, cell.metric, cell.filter)
        if cell.suite != suite.name or score not in wanted or cell.value is None:
            continue
        found.setdefault((cell.model_id, cell.run_id), set()).add(score)
        if comparability_key(cell).limited:
            limited.add(cell.run_id)
    best: dict[int, tuple[bool, bool, int]] = {}
    for (model_id, run_id), scores in found.items():
        rank = (scores == wanted, run_id not in limited, run_id)
        best[model_id] = max(best.get(model_id, rank), rank)
    return {model_id: rank[2] for model_id, rank in best.items()}


def _protocol_labels(cells: Sequence[BoardCell], suite: SuiteSpec) -> LabelOf:
    """Row labels of a suite with a score: a model's suite run is its row; its scores from any
    other run stand apart in a row of their own (``name (other runs)``), never in the score."""
    labels = model_labels(cells)
    chosen = suite_runs(cells, suite)
    return lambda cell: labels[cell.model_id] if chosen.get(cell.model_id) == cell.run_id else f"{labels[cell.model_id]} ({OTHER_RUNS})"


def _is_other_runs(label: str) -> bool:
    return label.endswith(f" ({OTHER_RUNS})")


def suite_view(cells: Sequence[BoardCell], suite: SuiteSpec) -> BoardView:
    """The suite's scores, its score first (when it defines one, from one run of the suite), ranked where comparable.

    A model's scores from other runs (suites with a score only) are shown task by task in
    a row of their own: never averaged into a benchmark, never ranked.
    """
    label_of = _protocol_labels(cells, suite) if suite.average else None
    by_model = _by_model(cells, label_of)
    units = _units(suite)
    items = [unit.label for unit in units]
    per_task = [_Unit(_score_label(*m.key), (m,), task_score=True) for m in suite.metrics if _score_label(*m.key) not in items]
    primary = {label: scores for label, scores in by_model.items() if not _is_other_runs(label)}
    every_item = list(suite.metrics)
    reference = {**_reference_keys(by_model, every_item), **_reference_keys(primary, every_item)}
    picks: dict[str, dict[str, _Picked | None]] = {}
    for model, scores in by_model.items():
        row_units = [*units, *per_task] if _is_other_runs(model) else units
        chosen = {unit.label: _pick_unit(unit, scores, reference) for unit in row_units if len(unit.items) == 1 or not _is_other_runs(model)}
        if any(chosen.values()):  # models with none of the suite's scores are not in its view
            picks[model] = chosen
    shown = [*units, *(unit for unit in per_task if any(p.get(unit.label) for p in picks.values()))]
    columns: list[Column] = []
    placement: dict[tuple[str, tuple[ComparabilityKey, ...]], str] = {}
    for unit in shown:
        for column in _unit_columns(unit, suite, picks, reference, spell_out=unit in per_task):
            columns.append(column)
            placement[(unit.label, column.keys)] = column.label
    facts = _row_facts(cells, label_of)
    ranked: list[Row] = []
    unranked: list[Row] = []
    for model in sorted(picks, key=str.lower):
        row_cells = {
            placement[(unit.label, _keys(picked))]: _unit_cell(unit, picked, suite)
            for unit in shown
            if (picked := picks[model].get(unit.label))
        }
        if _is_other_runs(model):
            lacks: tuple[str, ...] = (f"not from its `--suite {suite.name}` run: never counted in the {suite.name} score",)
            row = _row(model, row_cells, facts, lacks=lacks)
        else:
            lacks = _lacks(units, picks[model], reference)
            row = _row(model, row_cells, facts, score=_model_score(suite, units, picks[model]), lacks=lacks)
        (unranked if lacks else ranked).append(row)
    label = f"{suite.name} score" if suite.average else None
    return BoardView(suite.name, columns, _ranked(ranked, suite), unranked, score_label=label, notes=_suite_notes(suite, reference))


def _pick_unit(unit: _Unit, scores: Mapping[_Score, list[_Keyed]], reference: Mapping[_Score, ComparabilityKey]) -> _Picked | None:
    """The model's variant of every item of a unit (the board's reference key when it has it), or None."""
    chosen = [_pick(scores.get(item.key, []), reference.get(item.key)) for item in unit.items]
    return None if any(c is None for c in chosen) else tuple(c for c in chosen if c is not None)


def _keys(picked: _Picked | None) -> tuple[ComparabilityKey, ...]:
    return tuple(p.key for p in picked) if picked else ()


def _unit_columns(
    unit: _Unit, suite: SuiteSpec, picks: Mapping[str, Mapping[str, _Picked | None]], reference: Mapping[_Score, ComparabilityKey],
    *, spell_out: bool = False,
) -> list[Column]:
    """One column per set of keys found for the unit: the board's reference keys first, other variants after, marked
    (``spell_out``: every part of the key in the label, for scores made outside the suite's protocol)."""
    ref = tuple(reference[item.key] for item in unit.items if item.key in reference)
    variants = {_keys(p[unit.label]) for p in picks.values() if p.get(unit.label)} or {()}  # () : nobody has it yet
    ordered = sorted(variants, key=lambda keys: (keys != ref, [(-a, -b) for a, b in (k.preference() for k in keys)]))
    labels = _variant_labels(unit.label, ordered)
    if spell_out:
        labels = {keys: f"{unit.label} ({'; '.join(k.describe() for k in keys)})" for keys in ordered}
    first = unit.items[0]
    found = [picked for p in picks.values() if (picked := p.get(unit.label))]
    direction = found[0][0].cell.higher_is_better if found else None
    return [
        Column(
            labels[keys], first.task, first.metric, first.filter, keys=keys, scale=_unit_scale(unit, suite),
            higher_is_better=direction if len(unit.items) == 1 else True,
            benchmark=unit.label if len(unit.items) > 1 else (first.benchmark or first.task),
        )
        for keys in ordered
    ]


def _lacks(
    units: Sequence[_Unit], picks: Mapping[str, _Picked | None], reference: Mapping[_Score, ComparabilityKey]
) -> tuple[str, ...]:
    """What keeps a model out of the ranking: scores it does not have, or has under other settings."""
    lacks: list[str] = []
    for unit in units:
        chosen = picks.get(unit.label)
        if chosen is None:
            lacks.append(f"{unit.label}: missing")
            continue
        for item, variant in zip(unit.items, chosen):
            ref = reference.get(item.key)
            if ref is not None and variant.key != ref:
                lacks.append(f"{_score_label(*item.key)}: {variant.key.describe()} (board: {ref.describe()})")
    return tuple(lacks)


def _model_score(suite: SuiteSpec, units: Sequence[_Unit], picks: Mapping[str, _Picked | None]) -> float | None:
    """The suite's score as the suite defines it; None for ``average: false`` or when a score is missing."""
    if not suite.average:
        return None
    raw: dict[_Score, float] = {}
    for unit in units:
        for item, variant in zip(unit.items, picks.get(unit.label) or ()):
            if variant.cell.value is not None:
                raw[item.key] = float(variant.cell.value)
    return suite_score(suite.metrics, raw, benchmark_decimals=suite.benchmark_decimals).average


def _ranked(rows: list[Row], suite: SuiteSpec) -> list[Row]:
    """Best suite score first, ranks 1..n (ties share a rank); without a suite score no ranks."""
    if not suite.average:
        return rows
    ordered = sorted(rows, key=lambda r: (-(r.score if r.score is not None else float("-inf")), r.model.lower()))
    ranked: list[Row] = []
    for position, row in enumerate(ordered, start=1):
        tied = ranked and ranked[-1].score == row.score
        rank = ranked[-1].rank if tied else position
        ranked.append(Row(row.model, row.cells, rank, row.score, row.lacks, row.params, row.backends, row.runs))
    return ranked


def _suite_notes(suite: SuiteSpec, reference: Mapping[_Score, ComparabilityKey]) -> list[str]:
    """Where the board's settings depart from the suite's protocol (shots, document limits)."""
    notes = [suite.description] if suite.description else []
    if not suite.average:
        notes.append(f"No {suite.name} score: its scores have different units (the suite sets `average: false`).")
    else:
        notes.append(
            f"A {suite.name} score comes from one `--suite {suite.name}` run (the Runs column names it); "
            f"a model's scores from other runs are listed apart as '{OTHER_RUNS}', never in the score."
        )
    shots = {spec.name: spec.num_fewshot for spec in suite.tasks}
    departures = []
    for (task, _metric, _filter), key in reference.items():
        expected = shots.get(task)
        if expected is not None and key.n_shot is not None and key.n_shot != expected:
            departures.append(f"{task} {key.n_shot}-shot (suite: {expected})")
    limited = sorted({task for (task, _, _), key in reference.items() if key.limited})
    if departures:
        notes.append("Not the suite's protocol: " + ", ".join(sorted(set(departures))) + ".")
    if limited:
        notes.append("Limited to fewer documents than the task has: " + ", ".join(limited) + " (n in the column names).")
    return notes


# ---------------------------------------------------------------- views and display


def views(cells: Sequence[BoardCell], suites: Mapping[str, SuiteSpec], *, expand_groups: bool = False) -> dict[str, BoardView]:
    """The "all tasks" view and one view per suite that has any stored score."""
    found = {(c.task, c.metric, c.filter) for c in cells}
    result = {ALL_TASKS: all_tasks_view(cells, expand_groups=expand_groups)}
    for name, suite in suites.items():
        if any(item.key in found for item in suite.metrics):
            result[name] = suite_view(cells, suite)
    return result


def display_value(value: float | None, scale: Scale) -> float | None:
    """The number as shown: fractions x 100, everything else as stored."""
    if value is None:
        return None
    return value * 100.0 if scale is Scale.FRACTION else value


def format_number(value: float | None, scale: Scale) -> str:
    """Fixed decimals: two for scores on a 0–100 scale and perplexities, four for unknown scales."""
    shown = display_value(value, scale)
    if shown is None:
        return ""
    return f"{shown:.{RAW_DECIMALS if scale is Scale.RAW else DECIMALS}f}"


def format_cell(cell: Cell | None, scale: Scale) -> str:
    """``45.20 ± 1.30`` (the stderr in the score's own unit), or the value alone."""
    if cell is None or cell.value is None:
        return ""
    text = format_number(cell.value, scale)
    if cell.stderr is not None:
        text += f" ± {format_number(cell.stderr, scale)}"
    return text


RANK = "Rank"
MODEL = "Model"
LACKS = "Lacks"
PARAMS = "Params"
RUNS = "Runs"


def display_records(view: BoardView, rows: Sequence[Row] | None = None) -> list[dict[str, object]]:
    """Rows as shown on screen: rank, model, suite score, one formatted ``value ± stderr`` per column."""
    records: list[dict[str, object]] = []
    for row in view.rows if rows is None else rows:
        record: dict[str, object] = {}
        if view.score_label:
            record[RANK] = row.rank
        record[MODEL] = row.model
        if view.score_label:
            record[view.score_label] = "" if row.score is None else f"{row.score:.{DECIMALS}f}"
        for column in view.columns:
            record[column.label] = format_cell(row.cells.get(column.label), column.scale)
        records.append(record)
    return records


def view_records(view: BoardView) -> list[dict[str, object]]:
    """Rows at full precision (CSV, JSON): values in the shown scale, stderr in its own column."""
    records: list[dict[str, object]] = []
    for row in view.rows:
        record: dict[str, object] = {RANK: row.rank, MODEL: row.model}
        if view.score_label:
            record[view.score_label] = row.score
        for column in view.columns:
            cell = row.cells.get(column.label)
            record[column.label] = display_value(cell.value, column.scale) if cell else None
            record[f"{column.label} stderr"] = display_value(cell.stderr, column.scale) if cell else None
        record[LACKS] = "; ".join(row.lacks)
        record[PARAMS] = row.params
        record[RUNS] = ", ".join(map(str, row.runs))
        records.append(record)
    return records


def legend(view: BoardView) -> list[dict[str, str]]:
    """One line per column: what it scores and under which settings (shots, n, version, chat)."""
    return [
        {"column": c.label, "task": c.task, "metric": c.metric, "filter": c.filter, "scale": c.scale.value,
         "settings": c.describe()}
        for c in view.columns
    ]
