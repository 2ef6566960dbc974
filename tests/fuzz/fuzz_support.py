"""What the fuzz tests share: example counting with a hang watchdog, the property, and strategies.

The property of every target: the reader returns, or raises an ``EvalsuiteError`` whose
message and hint are non-empty; through the CLI, a bad input exits non-zero with one
``error: … — hint: …`` line and no traceback. Anything else (another exception, a hang)
fails the example, and hypothesis shrinks it to the smallest input that shows it.
"""

from __future__ import annotations

import codecs
import json
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from hypothesis import strategies as st

from evalsuite.errors import EvalsuiteError

T = TypeVar("T")

# Examples per target, sized so the whole fuzz folder stays under a minute on an idle machine.
MAX_EXAMPLES = {"battles": 150, "prompts": 150, "backend_args": 400, "task_yaml": 120, "data_files": 150}
HANG_SECONDS = 30  # the watchdog: far above any real example (milliseconds), well below CI's patience
TRIED: Counter[str] = Counter()
_MODULE = re.compile(r"test_fuzz_(\w+?)\.py")


def target_of(nodeid: str) -> str | None:
    """``tests/fuzz/test_fuzz_battles.py::test_x`` -> ``battles`` (None outside tests/fuzz)."""
    match = _MODULE.search(nodeid)
    return match.group(1) if match and "fuzz" in nodeid else None


class HangError(AssertionError):
    """An example ran longer than HANG_SECONDS: the reader loops or blows up on this input."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise HangError(f"example still running after {HANG_SECONDS} s")


@contextmanager
def trial(target: str) -> Iterator[None]:
    """Count one example of ``target`` and interrupt it if it hangs (SIGALRM; tests run on the main thread)."""
    TRIED[target] += 1
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def succeeds_or_project_error(call: Callable[[], T]) -> T | EvalsuiteError:
    """``call()``'s value, or the EvalsuiteError it raised (checked to carry a message and a hint).

    Any other exception propagates: that is the crash the fuzzing looks for.
    """
    try:
        return call()
    except EvalsuiteError as exc:
        assert exc.message.strip(), f"{type(exc).__name__} without a message"
        assert exc.hint.strip(), f"{type(exc).__name__} without a hint: {exc.message}"
        assert "\n" not in exc.message and "\n" not in exc.hint, f"the CLI prints one line: {exc}"
        return exc


def cli_fails_cleanly(args: Sequence[str]) -> str:
    """Run the real CLI in-process on a bad input: exit 1, one error line with a hint, no traceback."""
    from typer.testing import CliRunner

    from evalsuite.cli.app import app

    result = CliRunner().invoke(app, list(args))
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{args}: crashed with {result.exception!r}\n{result.output}"
    assert result.exit_code != 0, f"{args}: a bad input was accepted\n{result.output}"
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "— hint:" in errors[0], result.output  # one line: message and hint together
    return result.output


# ----------------------------------------------------------------------------- strategies

# Text that stresses readers: ASCII, accents, CJK, emoji, JSON-legal line separators (U+2028,
# U+0085), control characters, NUL and lone surrogates (legal in JSON's \uXXXX escapes).
text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", " ", "a", "b", "é", "模型", "🦙", "line\u2028sep", "nl\x85", "tab\there", "nul\x00", "\ud800", "x" * 300]
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252")


def dumps(value: Any) -> str:
    """JSON as Python writes it, unicode kept raw (ensure_ascii=False writes U+2028 as is)."""
    return json.dumps(value, ensure_ascii=False)


def encode(text_: str, encoding: str) -> bytes:
    """``text_`` in ``encoding``, unencodable characters replaced (a file saved by another tool)."""
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text_.encode("utf-8", "surrogatepass")
    if encoding == "utf-8":
        return text_.encode("utf-8", "surrogatepass")
    return text_.encode(encoding, "replace")


@st.composite
def file_bytes(draw: st.DrawFn, documents: st.SearchStrategy[str]) -> bytes:
    """A file on disk: a structured document in some encoding, maybe truncated, or raw garbage."""
    kind = draw(st.sampled_from(["structured", "structured", "structured", "truncated", "random", "empty"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"  \n\n", b"\xef\xbb\xbf"]))
    data = encode(draw(documents), draw(st.sampled_from(ENCODINGS)))
    if kind == "truncated" and data:
        return data[: draw(st.integers(min_value=0, max_value=len(data) - 1))]
    return data
