"""Two runs side by side: per task the paired difference, its CI and p-values, and where they disagree."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalsuite.board import compare as run_compare
from evalsuite.store import leaderboard_queries as lq
from leaderboard.board_ui.common import cached_run_choices, database, database_url, escape_markdown, query_int, run_label

PAGE_SIZE = 20


def _pick_runs() -> tuple[int, int] | None:
    choices = cached_run_choices(database_url())
    if len(choices) < 2:
        st.info("Comparing needs two complete runs.")
        return None
    labels = {choice.id: run_label(choice) for choice in choices}
    ids = list(labels)
    wanted_a, wanted_b = query_int("a"), query_int("b")
    left, right = st.columns(2)
    run_a = left.selectbox("Run A", ids, index=ids.index(wanted_a) if wanted_a in ids else 1,
                           format_func=labels.__getitem__, key="compare_a")
    run_b = right.selectbox("Run B", ids, index=ids.index(wanted_b) if wanted_b in ids else 0,
                            format_func=labels.__getitem__, key="compare_b")
    if run_a is None or run_b is None:
        return None
    st.query_params.update({"a": str(run_a), "b": str(run_b)})
    return int(run_a), int(run_b)


@st.cache_data(show_spinner=False, max_entries=256)
def _comparison(url: str, run_a: int, run_b: int, seed: int) -> run_compare.Comparison:
    return run_compare.compare_runs(database(), run_a, run_b, seed=seed)


def _results_table(run_a: int, run_b: int, seed: int) -> dict[tuple[str, str], lq.PairedScores]:
    comparison = _comparison(database_url(), run_a, run_b, seed)
    paired: dict[tuple[str, str], lq.PairedScores] = {}
    rows = []
    for row in comparison.rows:
        boot, perm = row.bootstrap, row.permutation
        paired.setdefault((row.scores.task, row.scores.filter), row.scores)
        rows.append({
            "task": row.scores.task, "filter": row.scores.filter, "metric": row.scores.metric, "n shared": boot.n,
            "A": row.shown(boot.mean_a), "B": row.shown(boot.mean_b), "A − B": row.shown(boot.difference),
            "95% CI": f"[{row.shown(boot.ci_low)}, {row.shown(boot.ci_high)}]",
            "p (bootstrap)": boot.p_value, "p (permutation)": perm.p_value,
            "significant (p<0.05)": perm.p_value < run_compare.SIGNIFICANCE, "disagree": row.disagree,
        })
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        st.caption(
            f"Paired over documents both runs scored (same task, doc_id, filter), every per-sample metric; fractions x 100 "
            f"as on the board. CI: percentile paired bootstrap ({run_compare.BOOTSTRAP_ROUNDS} rounds); permutation: "
            f"sign-flip test ({run_compare.PERMUTATION_ROUNDS} rounds or exact); seed {seed}."
        )
    else:
        st.info("These runs share no samples with a per-sample score.")
    for task, filter_name in comparison.untested:
        st.caption(f"{escape_markdown(task)} [{escape_markdown(filter_name)}]: not tested, {run_compare.NOT_TESTED}.")
    return paired


def _disagreements(run_a: int, run_b: int, paired: dict[tuple[str, str], lq.PairedScores]) -> None:
    st.subheader("Where they disagree")
    keys = list(paired)
    key = st.selectbox("Task", keys, format_func=lambda k: f"{k[0]} [{k[1]}]", key="compare_task")
    if key is None:
        return
    scores = paired[key]
    differing = [(d, x, y) for d, x, y in zip(scores.doc_ids, scores.a, scores.b) if x != y]
    pages = max(1, -(-len(differing) // PAGE_SIZE))
    page = st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="compare_page")
    chunk = differing[(int(page) - 1) * PAGE_SIZE : int(page) * PAGE_SIZE]
    st.caption(f"{len(differing)} documents where {escape_markdown(scores.metric)} differs · page {int(page)} of {pages}")
    pairs = {p.doc_id: p for p in lq.sample_pairs(database(), run_a, run_b, key[0], key[1], [d for d, _, _ in chunk])}
    frame = pd.DataFrame([
        {"doc_id": d, f"{scores.metric} A": x, f"{scores.metric} B": y,
         "target": pairs[d].target if d in pairs else None,
         "response A": " | ".join(map(str, (pairs[d].responses_a or []) if d in pairs else [])),
         "response B": " | ".join(map(str, (pairs[d].responses_b or []) if d in pairs else [])),
         "prompt": (pairs[d].prompt or "")[:300] if d in pairs else None}
        for d, x, y in chunk
    ])
    if not frame.empty:
        st.dataframe(frame, hide_index=True)


def main() -> None:
    st.title("Compare two runs")
    picked = _pick_runs()
    if picked is None:
        return
    run_a, run_b = picked
    if run_a == run_b:
        st.warning("Pick two different runs.")
        return
    seed = int(st.number_input("Seed", min_value=0, value=0, step=1, key="compare_seed"))
    paired = _results_table(run_a, run_b, seed)
    if paired:
        _disagreements(run_a, run_b, paired)


main()
