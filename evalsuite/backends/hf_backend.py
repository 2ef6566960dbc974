"""The ``hf`` backend: lm-eval's reference ``HFLM``, kept for comparisons with ``lm_eval`` (scoring only)."""

from __future__ import annotations

from evalsuite.backends.local import LocalBackend
from evalsuite.backends.protocol import Backend, Capabilities


class HFBackend(LocalBackend):
    """HFLM forwards keywords it does not declare to the model loader, so unknown --backend-arg keys pass."""

    name = "hf"
    capabilities = Capabilities(summary="lm-eval's HFLM", arena=False)
    module = "lm_eval.models.huggingface"
    class_name = "HFLM"
    open_ended = True


BACKEND: Backend = HFBackend()
