"""The ``transformers`` backend: evalsuite's own scorer (shared-prefix scoring, batched rolling windows).

Its ``LM`` is :class:`evalsuite.backends.transformers.TransformersLM`, imported when built.
"""

from __future__ import annotations

from evalsuite.backends.local import LocalBackend
from evalsuite.backends.protocol import Backend, Capabilities


class TransformersBackend(LocalBackend):
    """torch on the device ``--device`` picks; the default backend (see ``registry.DEFAULT_BACKEND``)."""

    name = "transformers"
    capabilities = Capabilities(summary="evalsuite's scorer, the default")
    module = "evalsuite.backends.transformers"
    class_name = "TransformersLM"


BACKEND: Backend = TransformersBackend()
