"""Which metric can I trust? The page of `evalsuite metrics agreement`: SummEval's experts and the arena's voters.

* **SummEval**: each automatic metric's rank correlation with the experts, at summary and
  system level, Spearman and Kendall, with bootstrap intervals over documents, from
  :func:`evalsuite.agreement.summeval.agreement_cells`, the command's own computation. It is
  computed here, not read back: the command stores no table (only a judge's samples), and
  the table depends on the documents, resamples and seed asked for, while the data file
  never changes, so a cached computation is exact. The full 100 documents take about four
  minutes on CPU (most of it ROUGE), so the page opens on the first few and a switch runs
  all of them (cached once done). BERTScore is left out unless asked for: its encoder is
  large and on CPU slow.
* **Arena**: each model judge against the people on the same battles (with and without
  ties) and the arena's ratings against each board column, from the store through
  :mod:`evalsuite.agreement.arena`, recomputed when the store changes (30 s cache).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from evalsuite import settings
from evalsuite.agreement import arena, summeval
from evalsuite.errors import EvalsuiteError
from evalsuite.metrics import agreement
from leaderboard.board_ui.common import database, database_url, escape_markdown

DEFAULT_DOCUMENTS = 5
DEFAULT_ROUNDS = 200
SEED = 0
METHOD_NAMES = {"spearman": "Spearman ρ", "kendall": "Kendall τ-b"}


@st.cache_data(show_spinner="Scoring SummEval's summaries…", max_entries=8)
def _summeval_cells(data_dir: str, limit: int | None, rounds: int, with_bertscore: bool) -> tuple[list[summeval.AgreementCell], dict[str, str], int]:
    """The command's cells for these documents (the file never changes: cached for good), what was left out, documents."""
    data = summeval.load(Path(data_dir), limit)
    scores, unavailable = summeval.automatic_metrics(data, with_bertscore=with_bertscore)
    return summeval.agreement_cells(scores, data.human, rounds=rounds, seed=SEED), unavailable, len(data.doc_ids)


def correlation_frame(table: dict[str, dict[str, agreement.Correlation]]) -> pd.DataFrame:
    """One row per metric: per dimension the point value and its 95 % interval (None where undefined)."""
    rows = []
    for metric, cells in table.items():
        row: dict[str, object] = {"metric": metric}
        for dimension, value in cells.items():
            row[dimension] = value.value
            row[f"{dimension} 95% CI"] = f"[{value.low:.2f}, {value.high:.2f}]" if value.low is not None and value.high is not None else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _summeval_controls() -> tuple[int | None, int, bool]:
    """How many documents, resamples, and whether BERTScore is tried."""
    every = st.checkbox("All 100 documents (about 4 minutes on CPU the first time)", key="agreement_all_documents")
    documents = int(st.number_input("Documents (the first N, sorted ids)", 1, 100, DEFAULT_DOCUMENTS, key="agreement_documents", disabled=every))
    rounds = int(st.number_input("Bootstrap resamples over documents", 0, 2000, DEFAULT_ROUNDS, step=100, key="agreement_rounds"))
    bertscore = st.checkbox("BERTScore (only when its model is in the local cache; slow on CPU)", key="agreement_bertscore")
    return (None if every else documents), rounds, bertscore


def _show_summeval() -> None:
    st.header("SummEval: metrics against the experts")
    data_dir = settings.default_data_dir()
    if data_dir is None or not (data_dir / summeval.DATA_FILE).is_file():
        st.info(f"SummEval's file {summeval.DATA_FILE} was not found: set EVALSUITE_DATA_DIR to the data directory holding it "
                "(e.g. ../shared/data) and restart the leaderboard.")
        return
    limit, rounds, bertscore = _summeval_controls()
    try:
        cells, unavailable, documents = _summeval_cells(str(data_dir), limit, rounds, bertscore)
    except EvalsuiteError as error:
        st.error(escape_markdown(f"{error.message} — {error.hint}"))
        return
    st.caption(f"{documents} documents; 95 % percentile bootstrap over documents, {rounds} resamples, seed {SEED}. "
               "Summary level: per document the correlation across the systems, then the mean. System level: one correlation of "
               "the system means. As `evalsuite metrics agreement`; a judge's row needs the command (`--judge`).")
    for level in agreement.LEVELS:
        for method in agreement.METHODS:
            st.subheader(f"{level.capitalize()} level, {METHOD_NAMES[method]}")
            st.dataframe(correlation_frame(summeval.by_metric(cells, level, method)), hide_index=True, width="stretch")
    for name, reason in unavailable.items():
        st.caption(escape_markdown(f"{name}: unavailable — {reason}"))


@st.cache_data(ttl=30, show_spinner=False)
def _arena_tables(url: str) -> tuple[list[arena.JudgeAgreement], list[arena.BenchmarkAgreement]]:
    return arena.judge_agreement(database()), arena.benchmark_agreement(database())


def judge_frame(judges: list[arena.JudgeAgreement]) -> pd.DataFrame:
    return pd.DataFrame([
        {"judge": row.judge, "battles": row.battles, "vote pairs": row.agreement.pairs, "agreement w/ tie": row.agreement.with_ties,
         "pairs w/o tie": row.agreement.pairs_without_ties, "agreement w/o tie": row.agreement.without_ties}
        for row in judges
    ])


def benchmark_frame(benchmarks: list[arena.BenchmarkAgreement]) -> pd.DataFrame:
    return pd.DataFrame([
        {"board column": row.column, "higher is better": row.higher_is_better, "models": row.models, "Spearman ρ": row.spearman,
         "Kendall τ-b": row.kendall}
        for row in benchmarks
    ])


def _show_arena() -> None:
    st.header("Arena: judges against people, ratings against the board")
    judges, benchmarks = _arena_tables(database_url())
    st.subheader("Model judges vs people on the same battles")
    if judges:
        st.caption("Every (judge vote, person vote) pair on the same prompt and the same two answers counts once (the MT-Bench "
                   "paper's agreement); without ties, only pairs where neither voted a tie or both bad.")
        st.dataframe(judge_frame(judges), hide_index=True, width="stretch")
    else:
        st.info("No model judge has voted yet: run `evalsuite arena judge --judge MODEL`.")
    st.subheader("Arena rating vs each board column")
    if benchmarks:
        st.caption("People's votes, Bradley–Terry, against each column over the models both cover (empty below 3 models). "
                   "A lower-is-better column agrees when the correlation is negative.")
        st.dataframe(benchmark_frame(benchmarks), hide_index=True, width="stretch")
    else:
        st.info("No scores are stored on the board yet.")


def main() -> None:
    st.title("Which metric can I trust?")
    _show_summeval()
    _show_arena()


main()
