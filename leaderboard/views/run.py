"""One run: configuration, versions, hardware, timings, metrics, and its samples page by page."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from evalsuite.errors import DatabaseError
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.queries import RunDetail
from leaderboard.board_ui.common import cached_run_choices, database, database_url, escape_markdown, query_int, run_label

PAGE_SIZES = (25, 50, 100, 200)
PROMPT_PREVIEW_CHARS = 300


def _pick_run() -> int | None:
    choices = cached_run_choices(database_url(), complete_only=False)
    if not choices:
        st.info("No runs in this database yet.")
        return None
    labels = {choice.id: run_label(choice) for choice in choices}  # select options are plain text
    wanted = query_int("run")
    ids = list(labels)
    if wanted is not None and wanted not in labels:
        ids.insert(0, wanted)  # an id from a link: shown even if older than the picker's cap
        labels[wanted] = f"#{wanted}"
    index = ids.index(wanted) if wanted in ids else 0
    run_id = st.selectbox("Run", ids, index=index, format_func=labels.__getitem__, key="run_pick")
    if run_id is not None and query_int("run") != run_id:
        st.query_params["run"] = str(run_id)
    return run_id


def _overview(detail: RunDetail) -> None:
    run, model = detail.run, detail.model
    facts = {
        "model": model.name, "source": model.source, "revision": model.revision or "",
        "weights sha256": model.weights_sha256, "params": "" if model.params is None else f"{model.params:,}",
        "dtype": model.dtype or "", "backend": run.backend, "status": run.status, "suite": run.suite or "",
        "tasks": ", ".join(run.tasks or []), "seed": str(run.seed), "chat template": str(run.apply_chat_template),
        "started": str(run.started_at), "finished": str(run.finished_at or ""),
        "duration": "" if run.duration_s is None else f"{run.duration_s:.1f} s",
        "requests computed / cached": f"{run.requests_computed} / {run.requests_cached}", "host": run.host or "",
    }
    st.dataframe(pd.DataFrame({"field": list(facts), "value": list(facts.values())}), hide_index=True)
    if run.error:
        st.error("The run failed:")
        st.code(run.error, language=None)
    for title, value in (("Configuration", run.config), ("Versions", run.versions), ("Hardware", run.hardware)):
        with st.expander(title):
            st.json(value or {})


def _metrics(detail: RunDetail) -> None:
    st.subheader("Metrics")
    rows = [
        {"task": m.task, "metric": m.metric, "filter": m.filter, "value": m.value, "stderr": m.stderr,
         "normalized": m.normalized, "n": m.n_samples, "shots": m.n_shot, "higher is better": m.higher_is_better}
        for m in detail.metrics
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.info("This run stored no metrics.")


def _sample_query(run_id: int) -> lq.SampleQuery:
    tasks = lq.sample_tasks(database(), run_id)
    left, middle, right, size = st.columns([2, 3, 1, 1])
    task = left.selectbox("Task", ["(all)", *tasks], key="run_sample_task")
    search = middle.text_input("Search prompt, target and responses", key="run_sample_search")
    only_wrong = right.checkbox("Only wrong", key="run_sample_wrong")
    page_size = size.selectbox("Per page", PAGE_SIZES, index=1, key="run_sample_page_size")
    page = st.number_input("Page", min_value=1, value=1, step=1, key="run_sample_page")
    return lq.SampleQuery(
        run_id=run_id, task=None if task == "(all)" else task, only_wrong=only_wrong, search=search,
        page=int(page) - 1, page_size=int(page_size),
    )


def _preview(text: str | None) -> str:
    value = text or ""
    return value if len(value) <= PROMPT_PREVIEW_CHARS else value[:PROMPT_PREVIEW_CHARS] + "…"


def _samples(run_id: int) -> None:
    st.subheader("Samples")
    page = lq.sample_page(database(), _sample_query(run_id))
    st.caption(f"{page.total} samples match · page {page.page + 1} of {page.pages}")
    if not page.rows:
        return
    frame = pd.DataFrame(
        {
            "task": [s.task for s in page.rows], "doc_id": [s.doc_id for s in page.rows],
            "filter": [s.filter for s in page.rows], "correct": [s.correct for s in page.rows],
            "target": [s.target for s in page.rows],
            "response": [" | ".join(str(r) for r in (s.responses or [])) for s in page.rows],
            "metrics": [json.dumps(s.metrics, default=str) for s in page.rows],
            "prompt": [_preview(s.prompt) for s in page.rows],
        }
    )
    st.dataframe(frame, hide_index=True)
    _sample_detail(page.rows)


def _sample_detail(rows: list) -> None:
    """The full text of one sample, as literal text (st.code never interprets its content)."""
    labels = {i: f"{s.task} · doc {s.doc_id} · {s.filter}" for i, s in enumerate(rows)}
    index = st.selectbox("Show sample", list(labels), format_func=labels.__getitem__, key="run_sample_detail")
    if index is None:
        return
    sample = rows[index]
    st.text("Prompt")
    st.code(sample.prompt or "", language=None, wrap_lines=True)
    st.text("Target")
    st.code(sample.target or "", language=None, wrap_lines=True)
    st.text("Responses")
    st.code("\n---\n".join(str(r) for r in (sample.responses or [])), language=None, wrap_lines=True)
    st.text("Log-likelihoods and metrics")
    st.json({"logliks": sample.logliks, "metrics": sample.metrics, "correct": sample.correct})


def main() -> None:
    st.title("Run")
    run_id = _pick_run()
    if run_id is None:
        return
    try:
        detail = queries.get_run(database(), run_id)
    except DatabaseError as exc:
        st.error(escape_markdown(exc.message))
        return
    _overview(detail)
    _metrics(detail)
    _samples(run_id)


main()
