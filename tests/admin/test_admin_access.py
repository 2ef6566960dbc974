"""Who may write: the admin token on the CLI (CliRunner) and the Admin page (AppTest); public pages write nothing.

Every refusal is checked against the rows (counted with plain SQL): a refused token
changes nothing, not even by creating a database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from admin_fixtures import APP, Filled, count_rows, fill, sql
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from evalsuite.board.admin import require_admin
from evalsuite.cli.app import app
from evalsuite.errors import AdminError, ConfigError
from evalsuite.settings import votes_per_minute

TOKEN = "s3cret-operator-token"
PUBLIC_PAGES = ("views/board.py", "views/plots.py", "views/run.py", "views/compare.py", "views/arena_vote.py", "views/arena_ratings.py",
                "views/agreement.py")
VOTE_BUTTONS = {"vote_a", "vote_b", "vote_tie", "vote_both_bad"}


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Filled:
    return fill(str(tmp_path / "admin.db"))


@pytest.mark.parametrize(
    ("configured", "given", "web", "refusal"),
    [
        (None, None, False, None),  # CLI, no operator token: whoever holds the database is the operator
        (None, TOKEN, True, "admin writes are off"),  # web, no operator token: admin is off entirely
        (TOKEN, TOKEN, True, None),
        (TOKEN, TOKEN + "x", True, "wrong admin token"),
        (TOKEN, "", False, "requires the admin token"),
        (TOKEN, None, True, "requires the admin token"),
    ],
)
def test_require_admin_accepts_only_the_operators_token(
    monkeypatch: pytest.MonkeyPatch, configured: str | None, given: str | None, web: bool, refusal: str | None
) -> None:
    if configured is not None:
        monkeypatch.setenv("EVALSUITE_ADMIN_TOKEN", configured)
    if refusal is None:
        require_admin(given, web=web)
    else:
        with pytest.raises(AdminError, match=refusal):
            require_admin(given, web=web)


def test_votes_per_minute_reads_the_operators_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert votes_per_minute() == 20
    for raw, expected in (("0", 0), (" 7 ", 7)):
        monkeypatch.setenv("EVALSUITE_VOTES_PER_MINUTE", raw)
        assert votes_per_minute() == expected
    for raw in ("-1", "ten"):
        monkeypatch.setenv("EVALSUITE_VOTES_PER_MINUTE", raw)
        with pytest.raises(ConfigError, match="EVALSUITE_VOTES_PER_MINUTE"):
            votes_per_minute()


def _cli(*args: str, token: str | None = None) -> tuple[int, str]:
    env = {"EVALSUITE_ADMIN_TOKEN": token} if token else {}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_cli_admin_commands_follow_the_token_rule(sqlite_db: Filled, tmp_path: Path) -> None:
    db = sqlite_db.url
    before = count_rows(db)
    for given in ([], ["--admin-token", "guess"]):
        code, output = _cli("admin", "hide-model", "beta", *given, "--db", db, token=TOKEN)
        assert code == 1 and "error:" in output and "Traceback" not in output
        assert ("wrong admin token" if given else "requires the admin token") in output
        code, output = _cli("admin", "delete-run", str(sqlite_db.run_ids["alpha"]), *given, "--db", db, token=TOKEN)
        assert code == 1
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "A new question?"}\n', encoding="utf-8")
    code, output = _cli("arena", "prompts", "add", str(prompts), "--admin-token", "guess", "--db", db, token=TOKEN)
    assert code == 1 and "wrong admin token" in output
    code, _ = _cli("arena", "prompts", "add", str(prompts), "--db", str(tmp_path / "new.db"), token=TOKEN)
    assert code == 1 and not (tmp_path / "new.db").exists()  # refused before any database is opened
    assert count_rows(db) == before

    code, output = _cli("admin", "hide-model", "beta", "--admin-token", TOKEN, "--db", db, token=TOKEN)
    assert (code, output.strip()) == (0, "hid beta")
    code, output = _cli("admin", "delete-run", str(sqlite_db.run_ids["alpha"]), "--admin-token", TOKEN, "--db", db, token=TOKEN)
    assert code == 0 and output.startswith(f"deleted run {sqlite_db.run_ids['alpha']} (alpha, complete): 1 metrics, 3 samples")
    code, output = _cli("arena", "prompts", "add", str(prompts), "--admin-token", TOKEN, "--db", db, token=TOKEN)
    assert code == 0 and output.startswith("added 1 prompts")
    assert sql(db, "SELECT name FROM hidden_model") == [("beta",)]
    assert sql(db, "SELECT COUNT(*) FROM run") == [(before["run"] - 1,)]

    code, output = _cli("admin", "unhide-model", "beta", "--db", db)  # no operator token set: the CLI user is the operator
    assert (code, output.strip()) == (0, "beta is shown again")
    code, output = _cli("admin", "hidden", "--db", db)
    assert (code, output) == (0, "")
    code, output = _cli("admin", "delete-run", str(sqlite_db.run_ids["gamma"]), "--db", db)
    assert code == 1 and "still running" in output and "--force" in output
    code, output = _cli("admin", "delete-run", "999", "--db", db)
    assert code == 1 and "no run with id 999" in output


def _page(db: str, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("EVALSUITE_DB", db)
    test = AppTest.from_file(str(APP), default_timeout=60)
    test.switch_page(page)
    test.run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def _messages(test: AppTest) -> str:
    """Every info, error and success text, Markdown escapes removed."""
    return " ".join(str(e.value) for e in [*test.info, *test.error, *test.success]).replace("\\", "")


@pytest.mark.usefixtures("app_env")
def test_admin_page_writes_only_with_the_operators_token(sqlite_db: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite_db.url
    before = count_rows(db)
    page = _page(db, monkeypatch, "views/admin.py")  # no EVALSUITE_ADMIN_TOKEN: no Admin page in the app at all
    assert "Admin" not in [t.value for t in page.title] and not page.button
    monkeypatch.setenv("EVALSUITE_DB", db)
    alone = AppTest.from_file(str(APP.parent / "views" / "admin.py"), default_timeout=60).run()  # the page run by itself
    assert "Admin is off" in _messages(alone) and not alone.text_input and not alone.button

    monkeypatch.setenv("EVALSUITE_ADMIN_TOKEN", TOKEN)
    page = _page(db, monkeypatch, "views/admin.py")
    assert not page.button and [w.label for w in page.text_input] == ["Admin token"]
    page.text_input(key="admin_token").input("guess").run()
    assert "wrong admin token" in _messages(page) and not page.button
    assert count_rows(db) == before

    page.text_input(key="admin_token").input(TOKEN).run()
    assert not page.exception
    page.selectbox(key="admin_hide_name").select("beta")
    page.button(key="admin_hide").click().run()
    assert "Hid beta." in _messages(page)
    page.text_area(key="admin_prompts").input("First new prompt\n\nSecond new prompt")
    page.button(key="admin_add_prompts").click().run()
    assert "Added 2 prompts" in _messages(page)
    page.selectbox(key="admin_run").select(sqlite_db.run_ids["beta"])
    page.button(key="admin_delete_run").click().run()
    assert "Deleted run" in _messages(page)
    assert not page.exception
    assert sql(db, "SELECT name FROM hidden_model") == [("beta",)]
    assert sql(db, "SELECT COUNT(*) FROM prompt") == [(before["prompt"] + 2,)]
    assert sql(db, "SELECT COUNT(*) FROM run WHERE id = :r", r=sqlite_db.run_ids["beta"]) == [(0,)]

    monkeypatch.setenv("EVALSUITE_ADMIN_TOKEN", "rotated-token")  # the operator changes the token: the open session loses its rights
    page.selectbox(key="admin_unhide_name").select("beta")
    page.button(key="admin_unhide").click().run()
    assert "wrong admin token" in _messages(page) and not page.button
    assert sql(db, "SELECT name FROM hidden_model") == [("beta",)]


@pytest.mark.usefixtures("app_env")
def test_public_pages_offer_no_write_but_the_vote(sqlite_db: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSUITE_ADMIN_TOKEN", TOKEN)  # even where admin is on, only its own page offers writes
    before = count_rows(sqlite_db.url)
    for page_name in PUBLIC_PAGES:
        page = _page(sqlite_db.url, monkeypatch, page_name)
        buttons = {button.key for button in page.button}
        assert buttons <= (VOTE_BUTTONS if page_name.endswith("arena_vote.py") else set()), (page_name, buttons)
        assert not page.text_area and not [w for w in page.text_input if "token" in str(w.label).lower()], page_name
    after = count_rows(sqlite_db.url)
    assert after == {**before, "battle": before["battle"] + 1}  # the vote page issued its battle; nothing else was written


@pytest.mark.usefixtures("app_env")
def test_vote_page_shows_the_rate_limit_and_stores_nothing_over_it(sqlite_db: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSUITE_VOTES_PER_MINUTE", "1")
    page = _page(sqlite_db.url, monkeypatch, "views/arena_vote.py")
    page.button(key="vote_a").click().run()
    page.button(key="arena_next").click().run()
    page.button(key="vote_b").click().run()
    assert not page.exception
    shown = _messages(page)
    assert "too many votes: at most 1 per minute" in shown and "wait" in shown
    assert not page.button(key="vote_a").disabled  # the battle stays open for later
    assert sql(sqlite_db.url, "SELECT outcome FROM vote") == [("a",)]
    assert sql(sqlite_db.url, "SELECT voted FROM battle ORDER BY id") == [(1,), (0,)]


@pytest.mark.usefixtures("app_env")
def test_admin_page_lists_live_contestant_failures(sqlite_db: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalsuite.store import live_queries
    from evalsuite.store.db import open_database

    with open_database(sqlite_db.url) as database:
        for reason in ("connection refused", "no piece for 30 s"):
            live_queries.record_failure(database, "pico-m", None, None, reason)
        live_queries.record_failure(database, "pico-s", None, None, "HTTP 500")
    monkeypatch.setenv("EVALSUITE_ADMIN_TOKEN", TOKEN)
    page = _page(sqlite_db.url, monkeypatch, "views/admin.py")
    page.text_input(key="admin_token").input(TOKEN).run()
    table = page.dataframe[-1].value
    assert list(table["contestant"]) == ["pico-m", "pico-s"] and list(table["failures"]) == [2, 1]
    assert list(table["last reason"]) == ["no piece for 30 s", "HTTP 500"]
