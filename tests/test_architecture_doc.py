"""docs/ARCHITECTURE.md stays true to the code: every room it must name is named, every room it names exists.

A room is a top-level module of ``evalsuite/`` or a folder of ``evalsuite/`` and ``leaderboard/``;
the map's "Rooms" table lists each in its first column as a backticked path.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MAP = REPO_ROOT / "docs" / "ARCHITECTURE.md"
PACKAGES = ("evalsuite", "leaderboard")


def _rooms_table(text: str) -> set[str]:
    """First-column paths of the table under the ``## Rooms`` heading."""
    section = text.split("\n## Rooms\n", 1)[1].split("\n## ", 1)[0]
    return {match.group(1) for match in re.finditer(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)}


def _rooms_in_code(root: Path) -> set[str]:
    """What the map must name: each package's top-level modules (``evalsuite`` only) and every folder."""
    rooms = {f"evalsuite/{path.name}" for path in (root / "evalsuite").glob("*.py")}
    for package in PACKAGES:
        rooms.add(f"{package}/")
        rooms.update(
            f"{package}/{path.name}/"
            for path in (root / package).iterdir()
            if path.is_dir() and not path.name.startswith(("_", ".")) and any(path.iterdir())
        )
    return rooms


def _missing(named: set[str], needed: set[str]) -> list[str]:
    return sorted(needed - named)


def test_the_map_names_every_module_and_package() -> None:
    missing = _missing(_rooms_table(MAP.read_text(encoding="utf-8")), _rooms_in_code(REPO_ROOT))
    assert missing == [], f"docs/ARCHITECTURE.md's Rooms table lacks {missing}: add a row saying what each owns"


def test_every_room_the_map_names_exists() -> None:
    stale = sorted(room for room in _rooms_table(MAP.read_text(encoding="utf-8")) if not (REPO_ROOT / room.rstrip("/")).exists())
    assert stale == [], f"docs/ARCHITECTURE.md names rooms that are gone: {stale}"


def test_the_check_notices_a_module_the_map_leaves_out(tmp_path: Path) -> None:
    (tmp_path / "evalsuite" / "newroom").mkdir(parents=True)
    (tmp_path / "evalsuite" / "newroom" / "__init__.py").write_text("")
    (tmp_path / "evalsuite" / "fresh.py").write_text("")
    (tmp_path / "leaderboard").mkdir()
    table = "intro\n## Rooms\n| room | owns |\n|---|---|\n| `evalsuite/` | x |\n| `leaderboard/` | y |\n"
    assert _missing(_rooms_table(table), _rooms_in_code(tmp_path)) == ["evalsuite/fresh.py", "evalsuite/newroom/"]
