"""The ``openai`` backend: an OpenAI-compatible server (vLLM's, llama.cpp, TGI, OpenAI), ``--base-url URL --model SERVED_NAME``.

Its ``LM`` is :class:`evalsuite.backends.openai_compat.OpenAICompatLM`, imported when checked or built.
The model is not here: the server is asked what it serves, and the server owns the device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalsuite.backends import arg_types
from evalsuite.backends.local import DEFAULT_INSTALL_HINT, RESERVED_ARGS, check_arg_values, import_backend_module
from evalsuite.backends.protocol import Backend, Capabilities

if TYPE_CHECKING:
    from lm_eval.api.model import LM

    from evalsuite.backends.options import BackendOptions
    from evalsuite.identity.models import ModelSpec

MODULE = "evalsuite.backends.openai_compat"
# The class's own names for settings evalsuite sets from flags.
RESERVED = {"model": "--model", "base_url": "--base-url", "api_key_env": "--api-key-env"}


class OpenAIBackend:
    """An endpoint: checked and resolved by asking the server, built with its URL and key variable."""

    name = "openai"
    capabilities = Capabilities(summary="an OpenAI-compatible endpoint, --base-url", local_model=False)

    def accepted_args(self) -> dict[str, Any]:
        return arg_types.init_types(_module().OpenAICompatLM)

    def check_args(self, options: BackendOptions) -> None:
        """A URL, a settable key, no --device/--dtype (the server's), and --backend-arg keys of OpenAICompatLM."""
        _module().check_options(options.base_url, options.api_key_env, options.device, options.dtype)
        check_arg_values(self.name, options.args, self.accepted_args(), {**RESERVED_ARGS, **RESERVED})

    def check_device(self, options: BackendOptions) -> str:
        return "endpoint"  # the server's device, whatever it is: the endpoint's fingerprint stands for it

    def resolve(self, model: str, options: BackendOptions) -> ModelSpec:
        """What the server at ``options.base_url`` serves under that name (asks ``/v1/models``)."""
        return _module().resolve_endpoint(model, str(options.base_url), options.api_key_env, options.args)  # type: ignore[no-any-return]

    def build(self, spec: ModelSpec, options: BackendOptions) -> LM:
        """Its name, URL, key variable and the local tokenizer found for it."""
        tokenizer = str(spec.path) if spec.path.is_dir() else None
        args = {**options.args, "tokenizer": tokenizer}
        return _module().OpenAICompatLM(  # type: ignore[no-any-return]
            model=spec.name, base_url=options.base_url, api_key_env=options.api_key_env, batch_size=options.batch_size, seed=options.seed, **args
        )

    def engine_version(self) -> str | None:
        return None  # the server's weights and tokenizer fingerprints stand for what serves them


def _module() -> Any:
    return import_backend_module(MODULE, DEFAULT_INSTALL_HINT)


BACKEND: Backend = OpenAIBackend()
