"""Keep the last lines that child processes write to stderr, while still showing them.

vLLM starts its engine in a separate process. When that process fails (no memory
for the KV cache, an unsupported architecture), the parent only gets "Engine core
initialization failed. See root cause above." The root cause exists only as text
the child wrote to the inherited stderr. To turn it into an error with a fix hint,
file descriptor 2 is routed through a pipe while the engine starts: a thread copies
everything to the real stderr and remembers the tail. Children started meanwhile
keep writing into the pipe for their whole life, and the thread keeps forwarding.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
from types import TracebackType

TAIL_LINES = 200


class StderrTail:
    """Context manager: while active, fd 2 of this process (and of children it starts) is teed.

    ``text()`` returns the remembered tail; safe to call after the block.
    """

    def __init__(self, keep_lines: int = TAIL_LINES) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._partial = ""
        self._lock = threading.Lock()
        self._saved_fd: int | None = None
        self._forward_fd: int | None = None

    def __enter__(self) -> StderrTail:
        try:
            sys.stderr.flush()
            self._saved_fd = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): do nothing
            return self
        self._forward_fd = os.dup(self._saved_fd)  # the pump's own copy, open as long as children write
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        threading.Thread(target=self._pump, args=(read_fd,), name="stderr-tail", daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._saved_fd is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved_fd, 2)  # this process writes to the real stderr again; children keep the pipe
        os.close(self._saved_fd)
        self._saved_fd = None

    def text(self) -> str:
        with self._lock:
            return "\n".join([*self._lines, self._partial])

    def _pump(self, read_fd: int) -> None:
        forward_fd = self._forward_fd
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            for chunk in iter(lambda: pipe.read(65536), b""):
                if forward_fd is not None and not _write_all(forward_fd, chunk):
                    forward_fd = None
                self._remember(chunk.decode("utf-8", errors="replace"))
        if forward_fd is not None:
            os.close(forward_fd)

    def _remember(self, text: str) -> None:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            self._lines.extend(lines)


def _write_all(fd: int, data: bytes) -> bool:
    """os.write until everything is written (pipes and terminals may take part of it); False if fd is gone."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError:
            return False
    return True
