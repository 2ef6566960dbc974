"""`evalsuite metrics agreement`: how far each metric agrees with people, printed as tables.

Parsing and printing only; the work is in ``evalsuite.agreement`` (data, scores, the judge,
the arena) and ``evalsuite.metrics.agreement`` (the correlations).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from evalsuite.cli.common import DbOption, console, err_console, handles_errors
from evalsuite.cli.options import (
    DataDirOption,
    DeviceOption,
    JudgeApiKeyEnvOption,
    JudgeArgOption,
    JudgeBackendOption,
    JudgeBaseUrlOption,
    JudgeMaxTokensOption,
)
from evalsuite.errors import ConfigError
from evalsuite.settings import default_data_dir, default_db

if TYPE_CHECKING:
    from evalsuite.agreement.summeval import AgreementCell, BertScoreModel
    from evalsuite.backends import BackendOptions
    from evalsuite.metrics.agreement import Correlation

metrics_app = typer.Typer(help="How far metrics and judges agree with people (SummEval, the arena).", no_args_is_help=True)
DATASETS = ("summeval", "arena")
SYMBOLS = {"spearman": "Spearman ρ", "kendall": "Kendall τ-b"}


@metrics_app.command("agreement")
@handles_errors
def agreement_command(
    dataset: str = typer.Option("summeval", "--dataset", help="summeval (16 systems x 100 articles, expert scores) or arena (the database's votes and board)."),
    data_dir: Path | None = DataDirOption,
    limit: int | None = typer.Option(None, help="At most N SummEval documents (sorted ids), every system of each."),
    dimension: list[str] = typer.Option([], "--dimension", help="Only this SummEval dimension (repeatable): coherence, consistency, fluency, relevance."),
    judge: str | None = typer.Option(None, "--judge", help="Also score the summaries with this model, G-Eval style (stored as samples of a run in --db)."),
    judge_backend: str = JudgeBackendOption,
    judge_base_url: str | None = JudgeBaseUrlOption,
    judge_api_key_env: str | None = JudgeApiKeyEnvOption,
    judge_arg: list[str] = JudgeArgOption,
    judge_max_tokens: int | None = JudgeMaxTokensOption,
    device: str = DeviceOption,
    bertscore: bool = typer.Option(True, "--bertscore/--no-bertscore", help="BERTScore when its model is available locally."),
    bertscore_model: str = typer.Option("roberta-large", "--bertscore-model", help="BERTScore's encoder: a name in the local Hugging Face cache, or a local model directory."),
    bertscore_layers: int | None = typer.Option(None, "--bertscore-layers", help="The encoder layer BERTScore compares (needed for a local directory; default: bert-score's choice for a known name)."),
    rounds: int = typer.Option(1000, "--rounds", help="Bootstrap resamples of the documents for the 95% intervals (0: none)."),
    seed: int = typer.Option(0, help="The bootstrap's seed."),
    db: str | None = DbOption,
) -> None:
    """Each metric's rank correlation with people: SummEval's experts (summary and system level), or the arena's voters."""
    if dataset not in DATASETS:
        raise ConfigError(f"unknown --dataset {dataset!r}", f"choose one of: {', '.join(DATASETS)}")
    if rounds < 0:
        raise ConfigError(f"--rounds must be 0 or more, got {rounds}")
    if dataset == "arena":
        _arena(db or default_db())
        return
    options = _judge_options(judge_backend, device, judge_arg, judge_base_url, judge_api_key_env) if judge else None
    encoder = _bertscore_model(bertscore_model, bertscore_layers) if bertscore else None
    _summeval(data_dir or default_data_dir(), limit, tuple(dimension), judge, options, judge_max_tokens, encoder, rounds, seed, db or default_db())


def _bertscore_model(name: str, layers: int | None) -> BertScoreModel:
    """BERTScore's encoder, refused before any scoring when the user must fix it."""
    from evalsuite.agreement.summeval import BertScoreModel

    model = BertScoreModel(name, layers)
    model.check()
    return model


def _judge_options(backend: str, device: str, args: list[str], base_url: str | None, api_key_env: str | None) -> BackendOptions:
    """How the judge loads (as `evalsuite run --judge`: an endpoint judge talks chat unless api=completions)."""
    from evalsuite.backends import BackendOptions
    from evalsuite.backends.registry import backend_entry
    from evalsuite.identity.run_config import decode_scalar, parse_key_values

    decoded = {key: decode_scalar(value) for key, value in parse_key_values(args, "--judge-arg")}
    if not backend_entry(backend).capabilities.local_model:
        decoded.setdefault("api", "chat")
    return BackendOptions(backend=backend, device=device, args=decoded, base_url=base_url, api_key_env=api_key_env)


def _summeval(
    data_dir: Path | None, limit: int | None, dimensions: tuple[str, ...], judge: str | None, options: BackendOptions | None,
    max_tokens: int | None, bertscore: BertScoreModel | None, rounds: int, seed: int, db: str,
) -> None:
    from evalsuite.agreement import summeval

    unknown = sorted(set(dimensions) - set(summeval.DIMENSIONS))
    if unknown:
        raise ConfigError(f"unknown --dimension {', '.join(unknown)}", f"choose from: {', '.join(summeval.DIMENSIONS)}")
    data = summeval.load(data_dir, limit)
    chosen = dimensions or summeval.DIMENSIONS
    human = {name: data.human[name] for name in chosen}
    err_console.print(f"SummEval: {len(data.doc_ids)} documents x {len(data.systems)} systems, scoring the metrics", markup=False)
    scores, unavailable = summeval.automatic_metrics(data, with_bertscore=bertscore is not None, bertscore_model=bertscore or summeval.BertScoreModel())
    metrics: dict[str, object] = dict(scores)
    if judge is not None and options is not None:
        metrics[f"judge {judge}"] = _judge_scores(data, judge, options, max_tokens, chosen, db)
    cells = summeval.agreement_cells(metrics, human, rounds=rounds, seed=seed)  # type: ignore[arg-type]
    for level in ("summary", "system"):
        for method in ("spearman", "kendall"):
            table = _table(cells, level, method, chosen, len(data.doc_ids), len(data.systems), rounds)
            for name in unavailable:
                table.add_row(name, *("unavailable" for _ in chosen))
            console.print(table)
    for name, reason in unavailable.items():
        console.print(f"{name}: unavailable — {reason}", markup=False)


def _judge_scores(data: object, judge: str, options: BackendOptions, max_tokens: int | None, dimensions: tuple[str, ...], db: str) -> object:
    from evalsuite.agreement import geval
    from evalsuite.judged.session import judge_setup
    from evalsuite.store.db import open_database

    tokens = max_tokens or geval.DEFAULT_MAX_TOKENS
    setup = judge_setup(judge, options, (geval.PROMPT_SET,), tokens)
    with open_database(db) as database:
        run_id = geval.judge_and_store(database, setup, data, max_tokens=tokens, dimensions=dimensions,  # type: ignore[arg-type]
                                       report=lambda line: err_console.print(line, markup=False))
        scores, missing = geval.stored_scores(database, run_id, data)  # type: ignore[arg-type]
    err_console.print(f"judge {judge}: run {run_id}, {missing} judgments without a score 1-5 (left out)", markup=False)
    return scores


def _cell_text(value: Correlation) -> str:
    if value.value is None:
        return "n/a"
    interval = f" [{value.low:.2f}, {value.high:.2f}]" if value.low is not None and value.high is not None else ""
    return f"{value.value:.3f}{interval}"


def _table(cells: list[AgreementCell], level: str, method: str, dimensions: tuple[str, ...], docs: int, systems: int, rounds: int) -> Table:
    where = f"mean over {docs} documents of the correlation across {systems} systems" if level == "summary" else f"{systems} system means over {docs} documents"
    ci = f"; [95% bootstrap interval over documents, {rounds} resamples]" if rounds else ""
    table = Table(title=f"SummEval, {level} level, {SYMBOLS[method]} ({where}{ci})")
    table.add_column("metric")
    for dimension in dimensions:
        table.add_column(dimension, justify="right")
    from evalsuite.agreement.summeval import by_metric

    for metric, row in by_metric(cells, level, method).items():
        table.add_row(metric, *(_cell_text(row[dimension]) for dimension in dimensions))
    return table


def _arena(db: str) -> None:
    from evalsuite.agreement import arena
    from evalsuite.store.db import open_database

    with open_database(db, create=False) as database:
        judges = arena.judge_agreement(database)
        benchmarks = arena.benchmark_agreement(database)
    table = Table(title="Model judges vs people on the same battles (MT-Bench paper's agreement)")
    for column in ("judge", "battles", "vote pairs", "agreement w/ tie", "pairs w/o tie", "agreement w/o tie"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for row in judges:
        shown = row.agreement
        table.add_row(row.judge, str(row.battles), str(shown.pairs), _share(shown.with_ties), str(shown.pairs_without_ties), _share(shown.without_ties))
    console.print(table)
    table = Table(title="Arena rating (people's votes, Bradley–Terry) vs each board column, over the models both cover")
    for column in ("board column", "higher is better", "models", "Spearman ρ", "Kendall τ-b"):
        table.add_column(column, justify="left" if column == "board column" else "right")
    for bench in benchmarks:
        direction = "—" if bench.higher_is_better is None else ("yes" if bench.higher_is_better else "no")
        table.add_row(bench.column, direction, str(bench.models), _number(bench.spearman), _number(bench.kendall))
    console.print(table)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _number(value: float | None) -> str:
    return "n/a (fewer than 3 models)" if value is None else f"{value:.3f}"
