"""Read rendered answers back as a person sees them, with the standard library's HTML parser.

The pages render answers through ``leaderboard.board_ui.answer_markdown`` (markdown-it);
the tests check its output with a different parser, so a mistake in one is not hidden
by the same mistake in the other.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

ANSWER_PREFIX = '<div class="evalsuite-answer">'


class _Collector(HTMLParser):
    """Element names in order and the text content, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_answer(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def answer_texts(app: Any) -> list[str]:
    """The text of every rendered answer on an AppTest page, in page order."""
    return [parse_answer(m.value).text for m in app.markdown if m.value.startswith(ANSWER_PREFIX)]
