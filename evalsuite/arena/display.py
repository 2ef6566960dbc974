"""The ratings as people read them: whole rating points, a "95% CI" of ``+a/−b``, plain headers.

Chatbot Arena's way: a rating's decimals are far inside its interval, so they only
add noise. Shared by `evalsuite arena ratings` and the Arena ratings page so both
show the same table; the machine-readable outputs (``--json``, ``to_json_rows``, the
page's "exact values") keep full precision and their raw field names.
"""

from __future__ import annotations

from evalsuite.arena.ratings import Method, ModelRating, RatingTable

RATING_HEADERS: dict[Method, str] = {"bt": "Bradley–Terry", "elo": "Elo (online)"}
ONLINE_ELO = RATING_HEADERS["elo"]
NOT_BOUNDED = "not bounded yet"

Cell = int | str


def ci_header(table: RatingTable) -> str:
    return f"{round(table.ci_level * 100)}% CI"


def ci_text(row: ModelRating, rounds: int) -> str:
    """``+a/−b``: rating points up to the upper and down to the lower bound ("—" without a bootstrap)."""
    if rounds == 0:
        return "—"
    return f"+{round(row.upper - row.rating)}/−{round(row.rating - row.lower)}"


def display_rows(table: RatingTable, *, bt_unbounded: bool = False) -> list[dict[str, Cell]]:
    """One dict per model, best first: Rank, Model, the rating, its CI, Battles, and the other rating.

    With ``bt_unbounded`` the table holds online Elo ratings and a "Bradley–Terry"
    column says it is not bounded yet, rather than the table going missing.
    """
    rating, ci = RATING_HEADERS[table.method], ci_header(table)
    rows: list[dict[str, Cell]] = []
    for row in table.rows:
        cells: dict[str, Cell] = {"Rank": row.rank, "Model": row.model, rating: round(row.rating),
                                  ci: ci_text(row, table.bootstrap_rounds), "Battles": row.battles}
        if row.elo_online is not None:
            cells[ONLINE_ELO] = round(row.elo_online)
        if bt_unbounded:
            cells[RATING_HEADERS["bt"]] = NOT_BOUNDED
        rows.append(cells)
    return rows
