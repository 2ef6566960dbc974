"""Model answers as Markdown people can read, without letting the answer act on the page.

An answer is data a model wrote, and on the live arena a person's prompt steers it, so
it may carry ``<script>``, ``<img src=…>`` or ``![x](https://tracker/…)``.  Showing it
with ``st.text`` is safe but unreadable (``####`` and ``**`` appear literally), and
Streamlit's own Markdown drops raw HTML silently and loads remote images.  So the
answer is rendered here, on the server, by markdown-it (CommonMark plus tables and
strikethrough) with:

* raw HTML off: ``<b>x</b>`` comes out as the text ``<b>x</b>``;
* images as text: ``![alt](url)`` becomes ``[image: alt <url>]``, so no ``<img>`` is
  ever emitted and the browser fetches nothing;
* markdown-it's link check, which refuses ``javascript:``/``vbscript:``/``file:``/``data:``
  links (they stay as text).

The resulting HTML is handed to ``st.markdown(..., unsafe_allow_html=True)`` as one
line: Streamlit's Markdown parser would end an HTML block at the first blank line (and
parse the rest, code blocks included, as Markdown again), so newlines are written as the
character reference ``&#10;``, which the browser turns back into newlines (in ``<pre>``
too).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import streamlit as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

ANSWER_CLASS = "evalsuite-answer"
EMPTY_ANSWER = "(the model answered with nothing but whitespace)"


def _image_as_text(renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: Any) -> str:
    """An image as escaped text naming its alt text and address (nothing is loaded); bound to the renderer."""
    token = tokens[index]
    alt = "".join(child.content for child in token.children or [])
    return escape(f"[image: {alt} <{token.attrGet('src') or ''}>]")


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_text)
    return parser


_PARSER = _parser()


def answer_html(text: str) -> str:
    """One answer as a single line of safe HTML (see the module docstring)."""
    body = _PARSER.render(text) if text.strip() else f"<p>{escape(EMPTY_ANSWER)}</p>"
    return f'<div class="{ANSWER_CLASS}">{body.strip()}</div>'.replace("\r", "").replace("\n", "&#10;")


def show_answer(text: str, container: Any = st) -> None:
    """Render one answer in ``container`` (the page, a column or a placeholder)."""
    container.markdown(answer_html(text), unsafe_allow_html=True)
