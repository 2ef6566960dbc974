"""The leaderboard is an installed package: imported normally, found by `evalsuite leaderboard`, viewer-only toolbar."""

from __future__ import annotations

import importlib.util
import tomllib

from leaderboard_fixtures import LEADERBOARD_DIR, REPO_ROOT

from evalsuite.cli import app_launcher

PATH_EDIT = "sys." + "path"  # spelled apart so this file does not match its own search


def test_leaderboard_imports_as_a_package_without_path_edits() -> None:
    spec = importlib.util.find_spec("leaderboard.board_ui.tables")
    assert spec is not None and spec.origin == str(LEADERBOARD_DIR / "board_ui" / "tables.py")
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for folder in (LEADERBOARD_DIR, REPO_ROOT / "tests" / "leaderboard")
        for path in folder.rglob("*.py")
        if PATH_EDIT in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
    assert sorted(p.name for p in LEADERBOARD_DIR.rglob("charts*.py")) == ["charts.py"]  # one charts module


def test_launcher_serves_the_installed_app_with_the_viewer_toolbar() -> None:
    assert app_launcher.app_path() == LEADERBOARD_DIR / "app.py"
    config = tomllib.loads((LEADERBOARD_DIR / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["toolbarMode"] == "viewer"  # no Deploy button, no developer menu
    packaging = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]
    assert packaging["targets"]["wheel"]["packages"] == ["evalsuite", "leaderboard"]
