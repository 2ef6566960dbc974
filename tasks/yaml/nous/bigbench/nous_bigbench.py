"""BIG-bench JSON tasks as the lm-eval v0.3 fork of the Nous suite runs them.

LLM AutoEval's ``nous`` run clones dmahan93/lm-evaluation-harness (branch ``add-agieval``, tip
ca333d9), whose ``bigbench_<name>`` tasks read BIG-bench JSON files shipped in that repository
(``lm_eval/datasets/bigbench_resources/<name>.json``; not a Hub dataset). Their rules, carried over
here (facts, not code):

* documents: the task's ``examples``, duplicates dropped (identical JSON), in file order;
* prompt (0-shot): ``task_prefix`` + ``example_input_prefix`` (default ``"\\nQ: "``) + input, then,
  unless ``append_choices_to_input`` is false, every choice after ``choice_prefix`` (default
  ``"\\n  choice: "``) in the order ``numpy.random.RandomState(42).permutation(sorted(choices))``,
  then ``example_output_prefix`` (default ``"\\nA: "``);
* one log-likelihood request per choice, continuation = the choice text exactly (no space added),
  choices in the file's ``target_scores`` order;
* ``multiple_choice_grade`` = the ``target_scores`` value of the most likely choice, ties broken
  pseudo-randomly but deterministically (SHA-256 of the float64 log-likelihoods picks among the tied).

Records (our schema, the same offline and online): ``query`` (the full 0-shot prompt), ``choices``
(file order), ``scores`` (their target scores), ``gold`` (first best choice, as the fork's
``doc_to_target``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

# The fork's commit that LLM AutoEval clones: where its BIG-bench JSON files are read from online.
FORK_COMMIT = "ca333d98ace43c33800118045c289c2276990555"
FORK_URL = f"https://raw.githubusercontent.com/dmahan93/lm-evaluation-harness/{FORK_COMMIT}/lm_eval/datasets/bigbench_resources/{{name}}.json"
_PERMUTATION_SEED = 42


def _prompt(task: dict[str, Any], example: dict[str, Any]) -> str:
    text = task.get("example_input_prefix", "\nQ: ") + example["input"]
    if "target_scores" in example and task.get("append_choices_to_input", True):
        prefix = task.get("choice_prefix", "\n  choice: ")
        order = np.random.RandomState(seed=_PERMUTATION_SEED).permutation(sorted(example["target_scores"]))
        text += prefix + prefix.join(str(choice) for choice in order)
    return task.get("task_prefix", "") + text + task.get("example_output_prefix", "\nA: ")


def task_records(task: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """A BIG-bench JSON task (parsed) -> one record per unique multiple-choice example."""
    from evalsuite.errors import TaskFileError

    if "multiple_choice_grade" not in task.get("metrics", []) or "examples" not in task:
        raise TaskFileError(f"{source}: not a BIG-bench multiple-choice JSON task (no examples or no multiple_choice_grade)")
    seen: set[str] = set()
    records = []
    for number, example in enumerate(task["examples"]):
        key = json.dumps(example)
        if key in seen:
            continue
        seen.add(key)
        scores = example.get("target_scores")
        if not isinstance(scores, dict) or not scores:
            raise TaskFileError(f"{source}: example {number} lacks 'target_scores'")
        best = max(scores.values())
        records.append(
            {
                "query": _prompt(task, example),
                "choices": list(scores),
                "scores": [float(value) for value in scores.values()],
                "gold": next(i for i, value in enumerate(scores.values()) if value == best),
            }
        )
    return records


def local_json(path: Path) -> list[dict[str, Any]]:
    """Converter for ``tasks/local_sources.yaml``: a local copy of one of the fork's JSON files."""
    from evalsuite.errors import TaskFileError

    try:
        task = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not valid JSON ({exc.msg})") from exc
    return task_records(task, str(path))


def fork_json_dataset(task_file: str, **_metadata: Any) -> Any:
    """``custom_dataset`` online: the fork's JSON file at the pinned commit (cached by ``datasets``)."""
    import datasets
    from datasets.utils.file_utils import cached_path

    path = cached_path(FORK_URL.format(name=task_file))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(local_json(Path(path)))})


def _tie_broken_argmax(loglikelihoods: np.ndarray) -> int:
    tied = np.flatnonzero(loglikelihoods == np.max(loglikelihoods))
    digest = int(hashlib.sha256(loglikelihoods.tobytes()).hexdigest(), 16)
    return int(tied[digest % len(tied)])


def process_results(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    """``multiple_choice_grade``: the target score of the most likely choice (fork tie-breaking)."""
    loglikelihoods = np.asarray([float(result[0]) for result in results], dtype=np.float64)
    return {"multiple_choice_grade": float(doc["scores"][_tie_broken_argmax(loglikelihoods)])}
