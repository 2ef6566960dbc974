"""What can change a number: one record for every field of the run description and the model identity.

Each field of ``RunConfig.to_json()`` (the run description, as stored with every run) and
of :class:`~evalsuite.identity.model_identity.ModelIdentity` is classified here, once:
either it changes numbers, saying which keys it belongs to, or it does not, with the
reason. Three keys are derived from this record, each as an explicit allow-list:

* **cache** (:data:`CACHE_KEY_FIELDS`, :func:`cache_key`): the request-cache namespace,
  sha256 over the identity's fields. Run fields marked ``cache`` reach it through the
  identity (``build_identity``) or through the request's own text and settings.
* **resume** (:data:`RESUME_KEY_FIELDS`, :func:`result_hash`, :func:`result_differences`):
  which runs must give identical numbers, so an interrupted run is found again.
* **board** (:data:`BOARD_RUN_FIELDS`, :data:`BOARD_IDENTITY_FIELDS`): what must be equal
  for two scores to share a leaderboard column (built by ``evalsuite.board.keys``).

A new field that is not classified here fails ``tests/test_numbers.py`` with its name:
nothing can silently leave a key, or silently join one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Key(Enum):
    """A key that a field which changes numbers is part of."""

    CACHE = "cache"  # the request-cache namespace (answers are served only under an equal key)
    RESUME = "resume"  # the run's config hash (an interrupted run is resumed only under an equal hash)
    BOARD = "board"  # the leaderboard's comparability key (scores share a column only under an equal key)


@dataclass(frozen=True)
class Changes:
    """The field changes numbers; ``keys`` are the keys it is part of.

    ``follows``: a field derived from another one that is compared itself, so a
    difference is reported under that field's flag (``seeds`` follow ``--seed``).
    """

    keys: frozenset[Key]
    why: str
    follows: str | None = None


@dataclass(frozen=True)
class Unchanged:
    """The field does not change any number; ``reason`` says why in one line."""

    reason: str


Classification = Changes | Unchanged
CACHE, RESUME, BOARD = Key.CACHE, Key.RESUME, Key.BOARD


def changes(*keys: Key, why: str, follows: str | None = None) -> Changes:
    return Changes(frozenset(keys), why, follows)


def unchanged(reason: str) -> Unchanged:
    return Unchanged(reason)


# Every key of RunConfig.to_json(), in its order.
# batch_size: evalsuite's transformers backend packs requests into rows by a token budget and
# masks each request from its neighbours, so the batch size only changes how rows are grouped
# into forward passes, not what a request is scored against (for vLLM it caps concurrent
# sequences, a scheduling choice). Regrouping moves a log-likelihood by float rounding only
# (under 1e-6 measured, bench/bench_cache_flush.py), as resuming a run in other chunks does;
# keying on it would recompute the same answers whenever a user tunes speed.
# backend_args stay in: vLLM's tensor and pipeline parallel sizes and executor split a layer
# over GPUs, which reorders its floating-point sums (all-reduce) by an amount not measured
# here, so answers from one layout are not served to another (evalsuite.backends.parallelism).
RUN_FIELDS: dict[str, Classification] = {
    "model": changes(CACHE, RESUME, why="the weights, tokenizer and config (hashed into the identity)"),
    "backend": changes(CACHE, RESUME, why="each backend computes log-likelihoods and generations its own way"),
    "tasks": changes(CACHE, RESUME, why="the requests themselves"),
    "suite": changes(CACHE, RESUME, why="a suite sets tasks, shots, limits and backend args"),
    "limit": changes(CACHE, RESUME, BOARD, why="the documents scored (the board's n, limited or not)"),
    "num_fewshot": changes(CACHE, RESUME, BOARD, why="the prompts (the board's shots)"),
    "batch_size": unchanged("regrouping packed rows moves a log-likelihood by float rounding only (see above)"),
    "device": changes(CACHE, RESUME, why="kernels differ between device types"),
    "dtype": changes(CACHE, RESUME, why="the precision of every forward pass"),
    "seed": changes(CACHE, RESUME, why="few-shot sampling and generation seeds"),
    "db": unchanged("where results are stored"),
    "data_dir": changes(CACHE, RESUME, why="where task data is read from: another folder may hold other documents"),
    "text_file": changes(CACHE, RESUME, BOARD, why="the text scored (the board keys on its sha256)"),
    "include_path": changes(CACHE, RESUME, why="user task definitions, which may redefine a task"),
    "output": unchanged("where the results JSON is written"),
    "log_samples": unchanged("whether per-sample rows are stored, not what they hold"),
    "revision": changes(CACHE, RESUME, why="which snapshot of the model is loaded"),
    "trust_remote_code": changes(CACHE, RESUME, why="the model's own code may replace transformers' implementation"),
    "apply_chat_template": changes(CACHE, RESUME, BOARD, why="the prompts are wrapped in the chat template"),
    "fewshot_as_multiturn": changes(CACHE, RESUME, BOARD, why="few-shot examples as chat turns or one message"),
    "system_instruction": changes(CACHE, RESUME, BOARD, why="a system message precedes every prompt"),
    "backend_args": changes(CACHE, RESUME, why="context length, parallel layout, BOS token and other model settings"),
    "gen_kwargs": changes(CACHE, RESUME, why="sampling and length of every generation"),
    "resume": unchanged("which stored run to continue, not how it is scored"),
    "dry_run": unchanged("counts requests without scoring any"),
    "show_progress": unchanged("progress bars only"),
    "no_cache": unchanged("recomputes answers that the cache would give identically"),
    "executor": unchanged("where requests are computed; every replica commits the answers one process would (tests/ray)"),
    "ray_address": unchanged("which Ray cluster computes the requests, not how"),
    "replicas": unchanged("splits the pending requests across copies of one model; each answer is the one process's"),
    "base_url": changes(CACHE, RESUME, why="the endpoint that answers (another server may serve another model)"),
    "api_key_env": unchanged("names where the key is read from; the endpoint is base_url"),
    "judge": changes(RESUME, BOARD, why="the model that grades judged tasks (the board: its label)"),
    "judge_backend": changes(RESUME, why="how the judge computes its verdicts"),
    "judge_base_url": changes(RESUME, why="the endpoint that judges"),
    "judge_api_key_env": unchanged("names where the judge's key is read from; the endpoint is judge_base_url"),
    "judge_args": changes(RESUME, why="the judge's own backend settings"),
    "judge_max_tokens": changes(RESUME, why="the length of each judgment"),
    "seeds": changes(CACHE, RESUME, why="lm-eval's four seeds, set by --seed", follows="seed"),
    "parallelism": unchanged("derived from backend_args, which are keyed themselves (its data_parallel_size: from replicas)"),
}

# Every field of ModelIdentity, in its order.
IDENTITY_FIELDS: dict[str, Classification] = {
    "weights_sha256": changes(CACHE, why="the weights"),
    "tokenizer_sha256": changes(CACHE, why="how text becomes tokens"),
    "config_sha256": changes(CACHE, why="the architecture, context length and rope settings"),
    "revision": changes(CACHE, why="the snapshot the files came from"),
    "backend": changes(CACHE, why="each backend computes log-likelihoods its own way"),
    "dtype": changes(CACHE, why="the precision of every forward pass"),
    "device": changes(CACHE, why="kernels differ between device types (the index does not matter)"),
    "max_length": changes(CACHE, why="the context length: longer prompts are truncated"),
    "backend_args": changes(CACHE, why="model settings, vLLM's parallel layout among them"),
    "apply_chat_template": changes(CACHE, why="the prompts are wrapped in the chat template"),
    "chat_template_sha256": changes(CACHE, BOARD, why="the template text itself"),
    "system_instruction": changes(CACHE, BOARD, why="a system message precedes every prompt"),
    "scoring_version": changes(CACHE, BOARD, why="evalsuite's scoring code (bumped when a number moves)"),
    "lm_eval_version": changes(CACHE, why="lm-eval builds the requests and filters the answers"),
    "transformers_version": changes(CACHE, why="the model implementation and tokenizer code"),
    "torch_version": changes(CACHE, why="kernels and their numerics"),
    "vllm_version": changes(CACHE, why="the vLLM engine's kernels and scheduling"),
}


def _with(record: Mapping[str, Classification], key: Key) -> tuple[str, ...]:
    return tuple(name for name, found in record.items() if isinstance(found, Changes) and key in found.keys)


CACHE_KEY_FIELDS = _with(IDENTITY_FIELDS, CACHE)
RESUME_KEY_FIELDS = _with(RUN_FIELDS, RESUME)
BOARD_RUN_FIELDS = _with(RUN_FIELDS, BOARD)
BOARD_IDENTITY_FIELDS = _with(IDENTITY_FIELDS, BOARD)


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def cache_key(identity_columns: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON of the identity's cache fields: the request-cache namespace."""
    return hashlib.sha256(_canonical({name: identity_columns[name] for name in CACHE_KEY_FIELDS}).encode()).hexdigest()


def result_hash(run: Mapping[str, Any], model_identity: str) -> str:
    """Hash of everything in ``run`` (``RunConfig.to_json()``) that determines the numbers, for finding a run to resume."""
    data = {name: value for name, value in run.items() if name in RESUME_KEY_FIELDS}
    data["model_identity"] = model_identity
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def result_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The result-defining options that differ from a stored run's config, as `--limit 5 then, 10 now`.

    Why --resume refuses a run: the user sees which flag to repeat, not only "another configuration".
    A derived field (``seeds``) is not listed: the field it follows is compared itself.
    """
    differences = []
    for name in sorted(set(RESUME_KEY_FIELDS) & (set(current) | set(stored))):
        found = RUN_FIELDS[name]
        if isinstance(found, Changes) and found.follows is not None:
            continue
        before, now = stored.get(name), current.get(name)
        if json.dumps(before, sort_keys=True, default=str) != json.dumps(now, sort_keys=True, default=str):
            differences.append(f"--{name.replace('_', '-')} {_shown(before)} then, {_shown(now)} now")
    return differences


def _shown(value: Any) -> str:
    return "unset" if value in (None, [], {}) else json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
