"""Printing `evalsuite arena ratings`: the rating table and the sections the options add.

Layout only; every number comes from :func:`evalsuite.arena.report.rating_report`.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from evalsuite.arena.display import RATING_HEADERS, ci_header, ci_text, display_rows
from evalsuite.arena.ratings import CategoryRatings, RatingTable
from evalsuite.arena.report import RatingReport
from evalsuite.cli.common import console, err_console

LEAKS_LISTED = 20


def print_report(report: RatingReport, source: str) -> None:
    """The ratings table (style-controlled columns beside it when fitted), its cautions, then each extra section."""
    _print_ratings(report, source)
    for caution in report.cautions():
        err_console.print(f"warning: {caution}", markup=False)
    _print_leaks(report)
    if report.style is not None:
        _print_style_coefficients(report)
    if report.categories is not None:
        _print_categories(report.categories)
    if report.outliers is not None:
        _print_outliers(report)


def _print_ratings(report: RatingReport, source: str) -> None:
    table = report.table
    title = (f"{RATING_HEADERS[table.method]} ratings from {len(report.battles)} battles ({source}), "
             f"{ci_header(table)} over {table.bootstrap_rounds} bootstrap rounds")
    rows = display_rows(table, bt_unbounded=report.unbounded is not None)
    style = report.style.table if report.style is not None else None
    if style is not None:
        for row in rows:
            styled = style[str(row["Model"])]
            row |= {"Style rank": styled.rank, "Style Bradley–Terry": round(styled.rating),
                    f"Style {ci_header(style)}": ci_text(styled, style.bootstrap_rounds)}
    rich_table = Table(title=title)
    for column in rows[0]:
        rich_table.add_column(column, justify="left" if column == "Model" else "right")
    for row in rows:
        rich_table.add_row(*(Text(str(value)) for value in row.values()))
    console.print(rich_table)


def _print_leaks(report: RatingReport) -> None:
    leaks = report.leaks
    if leaks is None:
        return
    if not leaks.checked:
        console.print("leak filter: not applied — these battles carry no answer texts", markup=False)
        return
    total = len(report.battles) + leaks.excluded
    console.print(
        f"leak filter: {leaks.excluded} of {total} battles excluded (an answer names a model or its maker)",
        markup=False,
    )
    if not leaks.leaks:
        return
    listing = Table(title="answers that name a model or maker")
    for column in ("battle", "model", "word"):
        listing.add_column(column)
    for leak in leaks.leaks[:LEAKS_LISTED]:
        listing.add_row(leak.battle_id or f"row {leak.row}", Text(leak.model), Text(leak.word))
    console.print(listing)
    if len(leaks.leaks) > LEAKS_LISTED:
        console.print(f"... and {len(leaks.leaks) - LEAKS_LISTED} more (--json lists them all)", markup=False)


def _print_style_coefficients(report: RatingReport) -> None:
    assert report.style is not None  # checked by the caller
    style = report.style
    level = round(style.table.ci_level * 100)
    table = Table(title="style coefficients (log-odds per standard deviation of (a - b) / (a + b + 1); > 0: more wins)")
    for column in ("feature", "coefficient", f"{level}% CI", "feature mean", "feature std"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for i, name in enumerate(style.features.names):
        table.add_row(
            name, f"{style.coefficients[name]:.4f}",
            f"{style.coefficient_lower[name]:.4f} – {style.coefficient_upper[name]:.4f}",
            f"{style.features.mean[i]:.4f}", f"{style.features.std[i]:.4f}",
        )
    console.print(table)


def _category_cell(table: RatingTable, model: str) -> str:
    try:
        row = table[model]
    except KeyError:
        return ""
    return f"{round(row.rating)} (#{row.rank}, n={row.battles})"


def _print_categories(categories: list[CategoryRatings]) -> None:
    rated = [c for c in categories if c.table is not None]
    models = sorted({row.model for c in rated for row in c.table.rows})  # type: ignore[union-attr]
    table = Table(title="ratings per prompt category (rating, rank, battles)")
    table.add_column("model")
    for c in rated:
        table.add_column(f"{c.category} ({c.battles})", justify="right")
    for model in models:
        table.add_row(Text(model), *[_category_cell(c.table, model) for c in rated])  # type: ignore[arg-type]
    if rated:
        console.print(table)
    for c in categories:
        if c.table is None:
            console.print(f"category {c.category} ({c.battles} battles) not rated: {c.note}", markup=False)


def _print_outliers(report: RatingReport) -> None:
    assert report.outliers is not None  # checked by the caller
    outliers = report.outliers
    console.print(
        f"outlier voters: {len(outliers.flagged)} flagged of {len(outliers.checks)} tested "
        f"(voters with >= {outliers.min_votes} decisive votes; {outliers.untested_voters} others not tested); "
        f"test: {outliers.test}, alpha {outliers.alpha}. Flagged voters are reported, not dropped.",
        markup=False,
    )
    if not outliers.flagged:
        return
    table = Table(title="flagged voters")
    for column in ("voter", "votes", "agreements", "expected", "p-value", "Holm p"):
        table.add_column(column, justify="left" if column == "voter" else "right")
    for check in outliers.flagged:
        table.add_row(Text(check.voter), str(check.votes), str(check.agreements), f"{check.expected:.1f}",
                      f"{check.p_value:.2e}", f"{check.adjusted_p:.2e}")
    console.print(table)
