"""Model outputs and names are data: HTML and Markdown in them must render as literal text."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fixtures import UNSAFE_MODEL, UNSAFE_TEXT, run_app
from markdown_it import MarkdownIt
from rendered_answers import parse_answer
from streamlit.testing.v1 import AppTest

from leaderboard.board_ui.answer_markdown import EMPTY_ANSWER, answer_html
from leaderboard.board_ui.common import escape_markdown

pytestmark = pytest.mark.usefixtures("app_env")


def _markdown_texts(app: AppTest) -> list[str]:
    """Everything the page sent through Markdown (markdown, captions, titles, headers)."""
    kinds = (app.markdown, app.caption, app.title, app.header, app.subheader, app.info, app.warning, app.error)
    return [element.value for elements in kinds for element in elements]


def test_escaped_markdown_renders_no_html_image_or_link() -> None:
    rendered = MarkdownIt("commonmark").render(escape_markdown(UNSAFE_TEXT + " [a](http://x) **b** `c`"))
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "<strong>" not in rendered and "<code>" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "![x](http://example.invalid/x.png)" in rendered


def test_unsafe_model_name_is_a_plain_table_cell_on_the_leaderboard(
    unsafe_db: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_app(unsafe_db[0], monkeypatch)
    assert list(app.dataframe[0].value["Model"]) == [UNSAFE_MODEL]
    assert not any("<script" in text or "](http" in text for text in _markdown_texts(app))


def test_unsafe_sample_is_literal_text_on_the_run_page(unsafe_db: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    path, run_id = unsafe_db
    app = run_app(path, monkeypatch, "views/run.py", run=str(run_id))
    samples = app.dataframe[2].value
    assert list(samples["target"]) == [UNSAFE_TEXT] * 4
    assert samples["prompt"].iloc[0] == f"0: {UNSAFE_TEXT}"
    assert [code.value for code in app.code[:3]] == [f"0: {UNSAFE_TEXT}", UNSAFE_TEXT, UNSAFE_TEXT]
    assert not any("<script" in text or "](http" in text for text in _markdown_texts(app))
    assert not app.get("html") and not app.get("image")


ANSWER = (
    "#### Title\n\n<script>alert(1)</script> **bold** <b>x</b> ![x](http://example.invalid/x.png) "
    "[bad](javascript:alert(1)) [ok](http://example.invalid/page)\n\n```py\na = 1\n\n# c\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


def test_an_answer_renders_as_markdown_with_html_as_text_and_no_image() -> None:
    html = answer_html(ANSWER)
    parsed = parse_answer(html)
    assert "\n" not in html  # one HTML block: a blank line would hand the rest back to Streamlit's Markdown
    assert {"h4", "strong", "pre", "code", "table", "td"} <= set(parsed.tags)
    assert not {"script", "img", "b", "iframe"} & set(parsed.tags)
    assert "<script>alert(1)</script>" in parsed.text and "<b>x</b>" in parsed.text
    assert "[image: x <http://example.invalid/x.png>]" in parsed.text  # named, never fetched
    assert parsed.hrefs == ["http://example.invalid/page"]  # javascript: stays text
    assert "a = 1\n\n# c\n" in parsed.text  # the code block keeps its blank line and its '#'
    assert "####" not in parsed.text


def test_a_blank_answer_says_so() -> None:
    assert parse_answer(answer_html(" \n\t")).text == EMPTY_ANSWER
