"""Arena ratings: the Elo / Bradley–Terry table with bootstrap intervals, a CI plot, win rates.

Filters: category, vote date range, ties excluded, and whose votes count (people,
model judges, or both). The page opens on people's votes, as `evalsuite arena ratings`
does, unless only model judges have voted; with nothing to rate it says why (no votes
yet, votes of another kind only, or only votes with a hidden model).
As there, votes on answers that name their model or maker are left out (and listed),
and the sidebar adds style-controlled ratings, per-category ratings and the
outlier-voter test; every number comes from ``evalsuite.arena.pipeline.ratings_from_store``,
as for `evalsuite arena ratings` and ``evalsuite.ratings``.
The table shows whole rating points and a "95% CI" of +a/−b (``evalsuite.arena.display``,
the same as the CLI) with a warning when there are too few votes to trust it; the exact
values sit in an expander. Ratings are recomputed only when the filters or the number
of votes change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from evalsuite.arena import voting
from evalsuite.arena.battles import Battles
from evalsuite.arena.display import RATING_HEADERS, display_rows
from evalsuite.arena.pipeline import RatingRequest, ratings_from_store
from evalsuite.arena.ratings import (
    observed_win_rates,
    pair_battle_counts,
)
from evalsuite.arena.report import RatingReport, ReportOptions
from evalsuite.errors import ArenaError
from evalsuite.store import arena_queries
from leaderboard.board_ui.common import database, database_url, escape_markdown

VOTERS = {"People": ("human",), "Model judges": ("judge",), "Both": ("human", "judge")}
ALL_CATEGORIES = "All categories"
ROW_PX = 32  # height of one model's row in the charts
REMEDIES: dict[voting.Remedy, str] = {
    "unhide": "An operator can un-hide it on the Admin page (or run `evalsuite admin unhide-model NAME`).",
    "other_kinds": "Pick another kind under **Votes from** in the sidebar.",
    "vote": "Vote on the Arena page, or run `evalsuite arena judge --judge MODEL`.",
}


@st.cache_data(ttl=30, show_spinner=False, max_entries=16)
def _records(url: str, kinds: tuple[str, ...], votes: tuple[int, int]) -> list[dict]:
    """The stored votes as the sidebar reads them (categories, dates); also the fitted ratings' cache key."""
    return arena_queries.vote_records(database(), voter_kinds=kinds)


@st.cache_data(show_spinner="Fitting ratings…", max_entries=32)
def _ratings(url: str, records: list[dict], request: RatingRequest) -> tuple[pd.DataFrame, RatingReport]:
    """``records`` is only the key: the same votes and request give the cached fit, a changed vote a new one."""
    report = ratings_from_store(database(), request)
    return pd.DataFrame(report.table.to_json_rows()), report


def _extras() -> tuple[bool, bool, bool]:
    """Sidebar switches for the sections beyond the plain table (off by default: they cost fits)."""
    sidebar = st.sidebar
    return (
        sidebar.checkbox("Style control (length and markdown)", key="arena_style_control"),
        sidebar.checkbox("Ratings per category", key="arena_by_category"),
        sidebar.checkbox("Check voters for outliers", key="arena_outliers"),
    )


def _show_leaks(report: RatingReport) -> None:
    leaks = report.leaks
    if leaks is None or not leaks.checked or not leaks.excluded:
        return
    with st.expander(f"{leaks.excluded} votes left out: an answer names a model or its maker"):
        st.dataframe(pd.DataFrame([vars(leak) for leak in leaks.leaks]), hide_index=True, width="stretch")


def _show_style(report: RatingReport) -> None:
    if report.style is None:
        return
    st.subheader("Style-controlled ratings")
    st.caption("Bradley–Terry fitted jointly with answer length and markdown (headers, lists, bold) as covariates, "
               "FastChat's features (a − b) / (a + b + 1), standardised; coefficients in log-odds per standard deviation.")
    plain, header = report.table.ratings(), f"Plain {RATING_HEADERS[report.table.method]}"
    rows = [{**row, header: round(plain[str(row["Model"])])} for row in display_rows(report.style.table)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.dataframe(pd.DataFrame(report.style.to_json()["coefficients"]), hide_index=True, width="stretch")  # type: ignore[arg-type]


def _show_categories(report: RatingReport) -> None:
    if report.categories is None:
        return
    st.subheader("Ratings per category")
    rows = [
        {"Category": c.category, **row} for c in report.categories if c.table is not None
        for row in display_rows(c.table)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for c in report.categories:
        if c.table is None:
            st.caption(escape_markdown(f"{c.category} ({c.battles} votes) not rated: {c.note}"))


def _show_outliers(report: RatingReport) -> None:
    if report.outliers is None:
        return
    outliers = report.outliers
    st.subheader("Outlier voters")
    st.caption(escape_markdown(
        f"{len(outliers.flagged)} flagged of {len(outliers.checks)} tested (at least {outliers.min_votes} decisive votes); "
        f"test: {outliers.test}, alpha {outliers.alpha}. Flagged voters are reported, not dropped."
    ))
    st.dataframe(pd.DataFrame([vars(check) for check in outliers.checks]), hide_index=True, width="stretch")


def _date_bounds(records: list[dict]) -> tuple[date, date]:
    stamps = [r["tstamp"] for r in records]
    first = datetime.fromtimestamp(min(stamps), UTC).date()
    last = datetime.fromtimestamp(max(stamps), UTC).date()
    return first, last


def _request(kinds: tuple[str, ...], records: list[dict]) -> RatingRequest:
    """What the sidebar asks for, as the one request the CLI and the API build too."""
    category, since, until, exclude_ties, method, rounds = _filters(records)
    style_control, by_category, flag_outliers = _extras()
    options = ReportOptions(method=method, bootstrap_rounds=rounds, seed=0, style_control=style_control,  # type: ignore[arg-type]
                            by_category=by_category, flag_outliers=flag_outliers, allow_unbounded=True)
    return RatingRequest(voter_kinds=kinds, category=category, since=since, until=until, exclude_ties=exclude_ties,
                         report=options)


def _filters(records: list[dict]) -> tuple[str | None, datetime | None, datetime | None, bool, str, int]:
    sidebar = st.sidebar
    sidebar.header("Arena filters")
    categories = sorted({r["category"] for r in records if r.get("category")})
    category = sidebar.selectbox("Category", [ALL_CATEGORIES, *categories], key="arena_category")
    first, last = _date_bounds(records)
    picked = sidebar.date_input("Votes cast between", (first, last), min_value=first, max_value=last, key="arena_dates")
    start, end = (picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last))
    exclude_ties = sidebar.checkbox("Exclude ties and both-bad votes", key="arena_exclude_ties")
    method = sidebar.radio("Method", ["bt", "elo"], format_func={"bt": "Bradley–Terry", "elo": "Online Elo"}.get, key="arena_method")
    rounds = int(sidebar.number_input("Bootstrap rounds", 0, 1000, 100, step=50, key="arena_rounds"))
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    return (None if category == ALL_CATEGORIES else category), since, until, exclude_ties, str(method), rounds


def interval_chart(frame: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Point rating per model with its bootstrap interval, best on top.

    Sized per model (a step of :data:`ROW_PX`), not as a whole: Streamlit fits charts to
    their height, and a fixed height leaves the rows only what the axes do not take.
    """
    order = frame.sort_values("rating", ascending=False)["model"].tolist()
    base = alt.Chart(frame).encode(y=alt.Y("model:N", sort=order, title="model"))
    points = base.mark_point(filled=True, size=70).encode(
        x=alt.X("rating:Q", scale=alt.Scale(zero=False), title="rating"),
        tooltip=["model:N", alt.Tooltip("rating:Q", format=".0f"), alt.Tooltip("lower:Q", format=".0f"),
                 alt.Tooltip("upper:Q", format=".0f"), "battles:Q"],
    )
    whiskers = base.mark_errorbar(ticks=True).encode(x=alt.X("lower:Q", title="rating"), x2="upper:Q")
    return alt.layer(whiskers, points).properties(height=alt.Step(ROW_PX))


def win_rate_heatmap(battles: Battles, order: list[str]) -> alt.LayerChart | alt.FacetChart:
    """Observed share of points row model took from column model (ties half), one cell per pair that met.

    Sized per row like :func:`interval_chart`: with a fixed height the opponent labels
    under the x axis took all of it and the rows drew at zero height.
    """
    rates = observed_win_rates(battles).stack(future_stack=True).rename("win_rate")
    counts = pair_battle_counts(battles).stack(future_stack=True).rename("battles")
    data = pd.concat([rates, counts], axis=1).reset_index(names=["model", "opponent"])
    base = alt.Chart(data[data["battles"] > 0]).encode(
        x=alt.X("opponent:N", sort=order, title="opponent", axis=alt.Axis(labelAngle=-30, labelLimit=180)),
        y=alt.Y("model:N", sort=order, title="model", axis=alt.Axis(labelLimit=180)),
        tooltip=["model:N", "opponent:N", alt.Tooltip("win_rate:Q", format=".2f"), "battles:Q"],
    )
    cells = base.mark_rect().encode(
        color=alt.Color("win_rate:Q", scale=alt.Scale(scheme="redblue", domain=[0, 1]), title="win rate"),
    )
    labels = base.mark_text(baseline="middle").encode(
        text=alt.Text("win_rate:Q", format=".2f"),
        color=alt.condition("abs(datum.win_rate - 0.5) > 0.3", alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, labels).properties(height=alt.Step(ROW_PX))


def _voter_kinds(tally: voting.VoteTally) -> tuple[str, ...]:
    """The "Votes from" switch, opening on the kind that has votes (people first)."""
    labels = list(VOTERS)
    first = labels.index(next(label for label, kinds in VOTERS.items() if kinds == (tally.default_kind(),)))
    return VOTERS[str(st.sidebar.radio("Votes from", labels, index=first, key="arena_voters"))]


def _show_table(frame: pd.DataFrame, report: RatingReport) -> None:
    """Cautions first, then the table people read, then the exact values."""
    for caution in report.cautions():
        st.warning(escape_markdown(caution))
    rows = display_rows(report.table, bt_unbounded=report.unbounded is not None)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    with st.expander("Exact values (as `evalsuite arena ratings --json`)"):
        st.dataframe(frame, hide_index=True, width="stretch")


def main() -> None:
    st.title("Arena ratings")
    tally = voting.vote_tally(database())
    kinds = _voter_kinds(tally)
    shortage = tally.shortage(kinds)
    if shortage is not None:
        message = shortage.message[:1].upper() + shortage.message[1:]
        st.info(f"{escape_markdown(message)}. {REMEDIES[shortage.remedy]}")
        return
    records = _records(database_url(), kinds, (sum(tally.stored.values()), tally.rated_of(kinds)))
    request = _request(kinds, records)
    try:
        frame, report = _ratings(database_url(), records, request)
    except ArenaError as error:
        st.info(escape_markdown(f"{error.message}. {error.hint}"))
        return
    battles = report.battles
    st.caption(f"{len(battles)} votes · {len(frame)} models · {RATING_HEADERS[report.table.method]} · "
               f"95 % bootstrap intervals over {request.report.bootstrap_rounds} rounds · ties count half")
    _show_table(frame, report)
    _show_leaks(report)
    _show_style(report)
    _show_categories(report)
    _show_outliers(report)
    st.subheader("Ratings with intervals")
    st.altair_chart(interval_chart(frame), width="stretch")
    st.subheader("Observed win rates")
    st.altair_chart(win_rate_heatmap(battles, frame["model"].tolist()), width="stretch")


main()
