"""BIG-Bench Hard by lm-eval's task names, offline from ``../shared/data/bbh/``; full BIG-bench needs the Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.errors import TaskFileError
from evalsuite.tasks.loading import load_tasks, select_tasks

# BBH's published sizes (suzgunmirac/BIG-Bench-Hard README, the Hub copies): 250 examples per task except these
SMALLER = {"causal_judgement": 187, "penguins_in_a_table": 146, "snarks": 178}


@pytest.mark.parametrize("variant", ["bbh_zeroshot", "bbh_fewshot", "bbh_cot_zeroshot", "bbh_cot_fewshot"])
def test_bbh_groups_read_the_local_copy(variant: str, shared_data: Path) -> None:
    loaded = load_tasks(select_tasks([variant], None), data_dir=shared_data)
    assert len(loaded.leaves) == 27
    for name, task in loaded.leaves.items():
        subset = name.removeprefix(f"{variant}_")
        assert len(task.eval_docs) == SMALLER.get(subset, 250), name
    first = json.loads((shared_data / "bbh" / "date_understanding.json").read_text())["examples"][0]
    task = loaded.leaves[f"{variant}_date_understanding"]
    assert task.doc_to_text(task.eval_docs[0]).startswith(f"Q: {first['input']}\nA:")  # the local file's first example
    assert task.doc_to_target(task.eval_docs[0]) == first["target"]


def test_full_bigbench_task_offline_names_the_hub_dataset(shared_data: Path) -> None:
    with pytest.raises(TaskFileError, match="needs the dataset 'hails/bigbench' from the Hugging Face Hub") as caught:
        load_tasks(select_tasks(["bigbench_causal_judgment_multiple_choice"], None), data_dir=shared_data)
    assert "connect to the Hub" in (caught.value.hint or "")
