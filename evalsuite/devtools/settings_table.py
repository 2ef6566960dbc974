"""README.md's table of ``EVALSUITE_*`` variables, written from :mod:`evalsuite.settings`.

Run ``python -m evalsuite.devtools.settings_table`` after changing a declaration;
``tests/test_settings.py`` fails while the README's table differs from the declarations.
"""

from __future__ import annotations

from pathlib import Path

from evalsuite import settings

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- settings table: written by `python -m evalsuite.devtools.settings_table` from evalsuite/settings.py; do not edit -->\n"
END = "<!-- end of settings table -->\n"


def with_current_table(text: str) -> str:
    """``text`` (the README) with the block between the markers replaced by the declarations' table."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md has no settings table markers; add the lines {BEGIN.strip()!r} and {END.strip()!r}")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return head + BEGIN + settings.markdown_table() + END + tail


def main() -> None:
    README.write_text(with_current_table(README.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
