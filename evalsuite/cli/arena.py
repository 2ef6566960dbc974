"""`evalsuite arena …`: prompts, answers, the model judge, ratings and export.

Parsing and printing only; the work is in ``evalsuite.arena`` and ``evalsuite.store.arena_queries``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from evalsuite.cli.common import DbOption, console, err_console, handles_errors
from evalsuite.cli.options import (
    AdminTokenOption,
    ApiKeyEnvOption,
    ArenaBackendOption,
    BackendArgOption,
    BaseUrlOption,
    CategoryOption,
    ContestantsOption,
    DeviceOption,
    DtypeOption,
    HostOption,
    IncludeJudgesOption,
    PortOption,
    RevisionOption,
    TrustRemoteCodeOption,
)
from evalsuite.errors import ArenaError
from evalsuite.identity.run_config import decode_scalar, parse_key_values
from evalsuite.redact import mask_secrets
from evalsuite.settings import default_db

if TYPE_CHECKING:
    from evalsuite.arena.pipeline import RatingRequest
    from evalsuite.arena.report import RatingReport
    from evalsuite.backends import BackendOptions

arena_app = typer.Typer(
    help="Pairwise arena: prompts, model answers, votes (human or model judge), Elo / Bradley–Terry ratings.",
    no_args_is_help=True,
)
prompts_app = typer.Typer(help="Arena prompts: add from a JSONL file or the shipped MT-Bench set, list.", no_args_is_help=True)
arena_app.add_typer(prompts_app, name="prompts")

def _backend_options(
    backend: str, device: str, dtype: str, seed: int, revision: str | None, trust_remote_code: bool, backend_arg: list[str],
    base_url: str | None = None, api_key_env: str | None = None,
) -> BackendOptions:
    """The flags every model-loading arena command takes, as the registry's BackendOptions."""
    from evalsuite.backends import BackendOptions

    return BackendOptions(
        backend=backend, device=device, dtype=dtype, seed=seed, revision=revision, trust_remote_code=trust_remote_code,
        args={key: decode_scalar(value) for key, value in parse_key_values(backend_arg, "--backend-arg")},
        base_url=base_url, api_key_env=api_key_env,
    )


def _open(db: str | None, *, create: bool = True):  # type: ignore[no-untyped-def]
    """Writers create a missing database; readers (create=False) refuse, so a --db typo leaves no empty file."""
    from evalsuite.store.db import open_database

    return open_database(db or default_db(), create=create)


@prompts_app.command("add")
@handles_errors
def prompts_add(
    file: Path | None = typer.Argument(None, help='JSONL file: one {"prompt": ..., "category": ...} per line ("text" also accepted).'),
    mt_bench: bool = typer.Option(False, "--mt-bench", help="Add the shipped MT-Bench set (80 questions, 8 categories, first turns)."),
    admin_token: str | None = AdminTokenOption,
    db: str | None = DbOption,
) -> None:
    """Add arena prompts (texts already stored are skipped)."""
    from evalsuite.arena.prompts import mt_bench_prompts, read_prompt_file
    from evalsuite.board import admin
    from evalsuite.store import arena_queries

    if file is None and not mt_bench:
        raise ArenaError("no prompts given", hint="pass a .jsonl file, or --mt-bench for the shipped MT-Bench set")
    admin.require_admin(admin_token, web=False)  # before opening: a refused token creates no database
    prompts = (read_prompt_file(file) if file is not None else []) + (mt_bench_prompts() if mt_bench else [])
    with _open(db) as database:
        added = admin.add_prompts(database, admin_token, prompts)
        total = arena_queries.prompt_count(database)
    console.print(f"added {added.added} prompts ({added.already_present} already stored); {total} prompts in total")
    if added.duplicates_in_input:
        err_console.print(
            f"warning: {added.duplicates_in_input} duplicate prompts in the input were dropped"
            " (same text as an earlier line; the first one's category is kept)"
        )


@prompts_app.command("list")
@handles_errors
def prompts_list(
    category: str | None = CategoryOption,
    db: str | None = DbOption,
) -> None:
    """List stored prompts with their category and how many models answered each."""
    from evalsuite.store import arena_queries

    with _open(db, create=False) as database:
        rows = arena_queries.list_prompts(database, category=category)
    table = Table(title=f"{len(rows)} arena prompts")
    for column in ("id", "category", "answers", "prompt"):
        table.add_column(column, overflow="fold")
    for row in rows:
        preview = row.text if len(row.text) <= 80 else row.text[:77] + "..."
        table.add_row(str(row.id), Text(row.category or ""), str(row.answers), Text(preview.replace("\n", " ")))
    console.print(table)


@arena_app.command()
@handles_errors
def generate(
    model: str = typer.Option(..., "--model", "-m", help="Hub id, local model directory, or demo alias; answers are stored under this name."),
    backend: str = ArenaBackendOption,
    max_tokens: int = typer.Option(256, "--max-tokens", help="New tokens per answer at most."),
    temperature: float = typer.Option(0.0, help="0 = greedy (default); above 0 samples."),
    seed: int = typer.Option(0, help="Sampling seed (only with --temperature > 0)."),
    limit: int | None = typer.Option(None, help="Answer at most N prompts (oldest unanswered first)."),
    chat_template: bool | None = typer.Option(None, "--chat-template/--no-chat-template", help="Wrap prompts in the model's chat template \\[default: when it has one]."),
    device: str = DeviceOption,
    dtype: str = DtypeOption,
    revision: str | None = RevisionOption,
    trust_remote_code: bool = TrustRemoteCodeOption,
    backend_arg: list[str] = BackendArgOption,
    base_url: str | None = BaseUrlOption,
    api_key_env: str | None = ApiKeyEnvOption,
    db: str | None = DbOption,
) -> None:
    """Generate answers to every prompt the model has not answered (loads MT-Bench if no prompts are stored)."""
    from evalsuite.arena.generate import GenerationRequest, generate_answers

    options = _backend_options(backend, device, dtype, seed, revision, trust_remote_code, backend_arg, base_url, api_key_env)
    request = GenerationRequest(
        model=model, db=db or default_db(), options=options, max_tokens=max_tokens, temperature=temperature,
        limit=limit, chat_template=chat_template,
    )
    report = generate_answers(request)
    if report.loaded_mt_bench:
        err_console.print("the prompt table was empty: loaded the 80 MT-Bench prompts")
    console.print(f"{report.model}: {report.generated} answers generated and stored; {report.still_unanswered} prompts still unanswered")
    _warn_generation(report, max_tokens)


def _warn_generation(report, max_tokens: int) -> None:  # type: ignore[no-untyped-def]
    """Say what a user would otherwise not notice: empty answers, prompts left out for length."""
    if report.empty:
        err_console.print(
            f"warning: {report.empty} of {report.generated} answers are empty (the model ended its turn at once)"
            " — hint: try --no-chat-template, or a model trained to follow its chat template"
        )
    if report.too_long:
        err_console.print(
            f"warning: {report.too_long} prompts not answered: with --max-tokens {max_tokens} they do not fit the model's"
            f" {report.context_tokens}-token context, and a cut prompt is another question"
            " — hint: lower --max-tokens, or pass --backend-arg max_length=N if the model supports more"
        )


@arena_app.command()
@handles_errors
def judge(
    judge_model: str = typer.Option(..., "--judge", help="Model that votes (Hub id, local directory or demo alias); its name is the voter."),
    max_battles: int | None = typer.Option(None, "--max-battles", help="Judge at most N (prompt, pair) battles."),
    backend: str = ArenaBackendOption,
    device: str = DeviceOption,
    dtype: str = DtypeOption,
    seed: int = typer.Option(0, help="The engine's seed (vLLM); verdicts are log-likelihoods, not samples."),
    revision: str | None = RevisionOption,
    trust_remote_code: bool = TrustRemoteCodeOption,
    backend_arg: list[str] = BackendArgOption,
    base_url: str | None = BaseUrlOption,
    api_key_env: str | None = ApiKeyEnvOption,
    protocol: str = typer.Option("loglik", "--protocol", help="loglik (log p(A) vs log p(B), the default) or pair-v2 (FastChat's MT-Bench pairwise prompts, written [[A]]/[[B]]/[[C]] verdicts)."),
    max_tokens: int = typer.Option(2048, "--max-tokens", help="--protocol pair-v2: the judge's new tokens per verdict (FastChat: 2048)."),
    baseline: str | None = typer.Option(None, "--baseline", help="Judge only pairs with this model, and print each model's win rate against it."),
    db: str | None = DbOption,
) -> None:
    """Let a model vote on stored answer pairs (both orders; disagreement is a tie), stored as judge votes."""
    from evalsuite.arena.judge import JudgeRequest, run_judge

    options = _backend_options(backend, device, dtype, seed, revision, trust_remote_code, backend_arg, base_url, api_key_env)
    request = JudgeRequest(
        judge=judge_model, db=db or default_db(), options=options, max_battles=max_battles, protocol=protocol, max_tokens=max_tokens, baseline=baseline,
    )
    report = run_judge(request)
    console.print(
        f"{report.judge} judged {report.judged} battles: {report.wins_x} first-model wins, {report.wins_y} second-model wins, "
        f"{report.ties} ties; skipped {report.skipped_own} pairs with its own answers",
        markup=False,
    )
    if report.no_verdict:
        err_console.print(
            f"warning: {report.no_verdict} pairs not stored: a judgment had no [[A]], [[B]] or [[C]] verdict"
            " — hint: use a judge that follows FastChat's pairwise prompt, or raise --max-tokens",
            markup=False,
        )
    if baseline is not None:
        _print_win_rates(db or default_db(), request.voter, baseline)
    if report.too_long:
        err_console.print(
            f"warning: {report.too_long} pairs not judged: the judge prompt with both answers does not fit"
            f" {report.judge}'s context — hint: generate shorter answers (--max-tokens), or use a judge with a longer context"
        )


def _print_win_rates(db: str, voter: str, baseline: str) -> None:
    """FastChat's pairwise-baseline table over every stored vote of ``voter``."""
    from evalsuite.arena.pair_judge import win_rates
    from evalsuite.store import arena_queries

    with _open(db, create=False) as database:
        records = [r for r in arena_queries.vote_records(database, voter_kinds=("judge",)) if r["voter"] == voter]
    table = Table(title=f"win rate against {baseline} (judge {voter}; a tie counts half in the adjusted rate)")
    for column in ("model", "win", "loss", "tie", "win_rate", "win_rate_adjusted"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for rate in win_rates(records, baseline):
        table.add_row(rate.model, str(rate.wins), str(rate.losses), str(rate.ties), f"{rate.win_rate:.4f}", f"{rate.win_rate_adjusted:.4f}")
    console.print(table)


def _parse_anchor(anchor: str | None) -> dict[str, float] | None:
    if anchor is None:
        return None
    model, sep, value = anchor.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = float("nan")
    if not sep or not model or math.isnan(rating):
        raise ArenaError(f"--anchor expects MODEL=RATING, got {anchor!r}", hint="e.g. --anchor demo/pico-s=1000")
    return {model: rating}


@arena_app.command()
@handles_errors
def ratings(
    method: str = typer.Option("bt", help="bt (Bradley–Terry MLE) or elo (online Elo)."),
    bootstrap: int = typer.Option(100, "--bootstrap", help="Bootstrap rounds for the 95% intervals (0: none)."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    battles: Path | None = typer.Option(None, "--battles", help="Rate a FastChat battles file (.json list or .jsonl) instead of the database."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array: model, rating, lower, upper, rank, battles (+ elo_online), full precision; with --style-control, --by-category or --flag-outliers an object with those sections too. Bradley–Terry not bounded yet (a model never lost or never won) is an error here; the table shows online Elo instead."),
    anchor: str | None = typer.Option(None, help="MODEL=RATING: shift the scale so MODEL has RATING."),
    category: str | None = CategoryOption,
    exclude_ties: bool = typer.Option(False, "--exclude-ties", help="Drop ties and both-bad votes."),
    include_judges: bool = IncludeJudgesOption,
    style_control: bool = typer.Option(False, "--style-control", help="Also fit Bradley–Terry with answer length and markdown (headers, lists, bold) as covariates, as Chatbot Arena does; prints those ratings (always Bradley–Terry) beside the plain ones and the style coefficients."),
    by_category: bool = typer.Option(False, "--by-category", help="Also rate each prompt category on its own."),
    leak_filter: bool = typer.Option(True, "--leak-filter/--no-leak-filter", help="Exclude battles whose answers name a model or its maker (needs answer texts: stored votes, or a file with answer_a/conversation_a)."),
    leak_words: Path | None = typer.Option(None, "--leak-words", help="Word list for the leak filter, one word or phrase per line (# comments); without it, FastChat's identity words and later model families and makers."),
    leak_own_names: bool = typer.Option(False, "--leak-own-names", help="Leak filter: also count an answer naming either contestant (the model name after the last /)."),
    flag_outliers: bool = typer.Option(False, "--flag-outliers", help="Test each voter's agreement with the other voters' consensus and list those flagged (not dropped)."),
    outlier_min_votes: int = typer.Option(10, "--outlier-min-votes", help="--flag-outliers: test voters with at least this many decisive votes."),
    outlier_alpha: float = typer.Option(0.05, "--outlier-alpha", help="--flag-outliers: family-wise error rate (Holm) for flagging."),
    db: str | None = DbOption,
) -> None:
    """Elo / Bradley–Terry ratings with bootstrap intervals, from stored votes or a battles file."""
    from evalsuite.arena.leaks import DEFAULT_LEAK_WORDS, read_leak_words
    from evalsuite.arena.pipeline import RatingRequest, voter_kinds
    from evalsuite.arena.report import ReportOptions

    options = ReportOptions(
        method=method, bootstrap_rounds=bootstrap, seed=seed, anchor=_parse_anchor(anchor),  # type: ignore[arg-type]
        leak_filter=leak_filter, leak_words=read_leak_words(leak_words) if leak_words else DEFAULT_LEAK_WORDS,
        leak_own_names=leak_own_names,
        style_control=style_control, by_category=by_category, flag_outliers=flag_outliers,
        outlier_min_votes=outlier_min_votes, outlier_alpha=outlier_alpha,
        allow_unbounded=not as_json,  # a person gets online Elo and a warning; --json stays strict
    )
    request = RatingRequest(voter_kinds=voter_kinds(include_judges), category=category, exclude_ties=exclude_ties, report=options)
    report, source = _rate(battles, db, request)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json() if report.has_extras else report.table.to_json_rows()) + "\n")
        return
    from evalsuite.cli.arena_report import print_report

    print_report(report, source)


def _rate(battles: Path | None, db: str | None, request: RatingRequest) -> tuple[RatingReport, str]:
    """The report, and a line saying where its votes came from (a battles file, or whose votes in which database)."""
    from evalsuite.arena.battles import read_battles
    from evalsuite.arena.pipeline import rate_battles, ratings_from_store
    from evalsuite.store import arena_queries

    if battles is not None:
        return rate_battles(read_battles(battles), request), str(battles)
    with _open(db, create=False) as database:
        report = ratings_from_store(database, request)
        rated = arena_queries.vote_counts_by_kind(database, rated_only=True)  # the votes it read, per kind
    whose = "people only"
    if "judge" in request.voter_kinds:
        whose = f"{rated.get('human', 0)} by people, {rated.get('judge', 0)} by model judges"
    return report, f"votes in {mask_secrets(db or default_db())}: {whose}"


EXPORT_FORMATS = ("battles", "fastchat")


@arena_app.command()
@handles_errors
def export(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (.jsonl: JSON lines, else a JSON list) instead of stdout."),
    format: str = typer.Option("battles", "--format", help="battles: one vote per object (model_a, model_b, winner, tstamp, voter, battle_id, category), what `arena ratings --battles` reads; fastchat: FastChat's clean_battle_data.py layout with both conversations, an anonymous judge hash, turn and anony (what `arena import` reads)."),
    include_judges: bool = IncludeJudgesOption,
    db: str | None = DbOption,
) -> None:
    """Write stored votes in FastChat's battles format (model_a, model_b, winner, tstamp, ...)."""
    if format not in EXPORT_FORMATS:
        raise ArenaError(f"unknown export format {format!r}", hint=f"use one of {', '.join(EXPORT_FORMATS)}")
    if format == "fastchat":
        _export_fastchat(output, include_judges, db)
        return
    from evalsuite.arena import voting
    from evalsuite.arena.battles import battles_to_records, write_battles

    with _open(db, create=False) as database:
        battles = voting.stored_battles(database, include_judges=include_judges)
    if output is None:
        sys.stdout.write(json.dumps(battles_to_records(battles), indent=1) + "\n")
        return
    write_battles(battles, output)
    err_console.print(f"wrote {len(battles)} battles to {output}")


def _export_fastchat(output: Path | None, include_judges: bool, db: str | None) -> None:
    from evalsuite.arena.fastchat_exchange import export_battles
    from evalsuite.arena.fastchat_format import fastchat_json, write_fastchat
    from evalsuite.arena.pipeline import voter_kinds

    with _open(db, create=False) as database:
        battles = export_battles(database, voter_kinds(include_judges))
    if output is None:
        sys.stdout.write(fastchat_json(battles) + "\n")
        return
    write_fastchat(battles, output)
    err_console.print(f"wrote {len(battles)} battles in FastChat's format to {output}")


@arena_app.command("import")
@handles_errors
def import_(
    file: Path = typer.Argument(..., help="A FastChat battles file (.json list or .jsonl), e.g. `arena export --format fastchat` or FastChat's clean_battle_conv file."),
    db: str | None = DbOption,
) -> None:
    """Store a FastChat battles file's battles (once: importing it again adds nothing); anony=false ones are stored, not counted."""
    from evalsuite.arena.fastchat_exchange import import_battles
    from evalsuite.arena.fastchat_format import read_fastchat

    battles = read_fastchat(file)  # every battle checked before the database is opened
    with _open(db) as database:
        counts = import_battles(database, battles)
    named = counts.added - counts.counted
    console.print(
        f"imported {counts.added} battles from {file} ({counts.counted} counted in the ratings, {named} named battles "
        f"stored but not counted); {counts.already_present} already stored",
        markup=False,
    )


@arena_app.command()
@handles_errors
def serve(
    contestants: Path = ContestantsOption,
    db: str | None = DbOption,
    port: int = PortOption,
    host: str = HostOption,
) -> None:
    """Serve the live arena: people type prompts, two anonymous contestants answer, people vote (Streamlit)."""
    from evalsuite.cli import app_launcher

    raise typer.Exit(app_launcher.launch(db or default_db(), port=port, host=host, contestants=contestants))
