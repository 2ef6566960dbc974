"""HFLM's tokenisation rules, shared by every evalsuite backend.

Identical numbers across backends start with identical tokens: the same
prefix token for an empty context, the same "no second BOS" rule, the same
window length and the same chat rendering. Both ``TransformersLM`` and
``VLLMLM`` mix this in, so the rules live in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import jinja2
import transformers

log = logging.getLogger(__name__)


class HFTokenizerRules:
    """lm-eval ``TemplateLM`` tokenizer members over a Hugging Face tokenizer.

    The host class sets ``tokenizer`` and ``_max_length``, then calls
    ``_remember_prefix_text()`` once the tokenizer is loaded. ``add_bos_token``
    (``--backend-arg add_bos_token=false``) overrides the tokenizer's default for
    prompts: lm-eval v0.3's ``hf-causal``, which LLM AutoEval's Nous numbers come
    from, encoded with ``add_special_tokens=False``, so Llama-family models saw no BOS.
    """

    tokenizer: transformers.PreTrainedTokenizerBase
    _max_length: int
    _prefix_text: str = ""
    add_bos_token: bool | None = None  # None: the tokenizer's default (HFLM 0.4's rule)

    def _remember_prefix_text(self) -> None:
        """The decoded prefix token: strings already starting with it get no second BOS (HFLM's rule)."""
        self._prefix_text = str(self.tokenizer.decode([self.prefix_token_id]))

    # ----- lm-eval properties -------------------------------------------------------------

    @property
    def eot_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def prefix_token_id(self) -> int:
        """Token that stands in for an empty context: BOS if the tokenizer has one, else EOS (HFLM)."""
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self.eot_token_id

    @property
    def max_length(self) -> int:
        """lm-eval's window (HFLM's rule: explicit, else config, else 2048); prompts never exceed it."""
        return self._max_length

    @property
    def tokenizer_name(self) -> str:
        return str(self.tokenizer.name_or_path).replace("/", "__")

    def count_tokens(self, text: str) -> int:
        """Tokens ``loglikelihood_rolling`` predicts for ``text`` (every token of its encoding)."""
        return len(self.tok_encode(text))

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render a chat with the tokenizer's template; drops the system turn if the template rejects it."""
        def render(turns: list[dict[str, str]]) -> str:
            return str(
                self.tokenizer.apply_chat_template(
                    turns, tokenize=False, add_generation_prompt=add_generation_prompt, continue_final_message=not add_generation_prompt
                )
            )

        try:
            return render(chat_history)
        except jinja2.exceptions.TemplateError:
            log.warning("chat template rejected the system role; retrying without it")
            return render([turn for turn in chat_history if turn["role"] != "system"])

    # ----- tokenisation ---------------------------------------------------------------------

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        """Encode like HFLM: tokenizer defaults, but no second BOS if the text starts with one."""
        return self.encode_many([string], add_special_tokens)[0]

    def tok_decode(self, tokens: Sequence[int], skip_special_tokens: bool = True) -> str:
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=skip_special_tokens))

    def encode_many(self, strings: Sequence[str], add_special_tokens: bool | None = None) -> list[list[int]]:
        """Batch version of ``tok_encode`` (one fast-tokenizer call per special-token setting)."""
        settings: list[bool | None] = [self._special_tokens_setting(text, add_special_tokens) for text in strings]
        encoded: list[list[int]] = [[] for _ in strings]
        for setting in set(settings):
            positions = [i for i, s in enumerate(settings) if s == setting]
            options = {} if setting is None else {"add_special_tokens": setting}
            ids = self.tokenizer([strings[i] for i in positions], **options)["input_ids"]
            for position, tokens in zip(positions, ids, strict=True):
                encoded[position] = list(tokens)
        return encoded

    def _special_tokens_setting(self, text: str, asked: bool | None) -> bool | None:
        if asked is None and self._prefix_text and text.startswith(self._prefix_text):
            return False
        if asked is None and self.add_bos_token is not None:
            return self.add_bos_token
        return asked
