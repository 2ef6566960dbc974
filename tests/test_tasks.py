"""Task and suite resolution (evalsuite.tasks.loading) against lm-eval itself and the raw data files."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalsuite.errors import ConfigError, TaskFileError, UnknownTaskError
from evalsuite.tasks import index as task_index
from evalsuite.tasks import loading as T
from evalsuite.tasks.loading import (
    TaskSpec,
    catalog,
    load_tasks,
    request_counts,
    sample_indices,
    select_tasks,
    suites,
)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tasks" / "data"
LM_EVAL_TASKS = Path(__import__("lm_eval.tasks", fromlist=["x"]).__file__).parent


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ----------------------------------------------------------------------------- selection


def test_quick_suite_selects_shipped_tasks_with_limits() -> None:
    specs = select_tasks(None, "quick")
    assert [s.name for s in specs] == ["perplexity", "wmt22_en_de", "pubmedqa", "arc_easy_200"]
    assert {s.name: s.limit for s in specs} == {"perplexity": None, "wmt22_en_de": 30, "pubmedqa": 100, "arc_easy_200": None}


def test_open_llm_v1_suite_shots_and_scores() -> None:
    suite = suites()["open-llm-v1"]
    assert {t.name: t.num_fewshot for t in suite.tasks} == {
        "arc_challenge": 25, "hellaswag": 10, "mmlu": 5, "truthfulqa_mc2": 0, "winogrande": 5, "gsm8k": 5,
    }  # fmt: skip
    assert {m.task: m.metric for m in suite.metrics}["arc_challenge"] == "acc_norm"
    assert all(m.random_baseline == 0.0 for m in suite.metrics)


def test_alias_bleu_resolves_to_wmt22() -> None:
    assert select_tasks(["bleu"], None) == [TaskSpec("wmt22_en_de")]


def test_unknown_task_suggests_closest() -> None:
    with pytest.raises(UnknownTaskError, match="Did you mean 'pubmedqa'"):
        select_tasks(["pubmedq"], None)


def test_unknown_suite_suggests_closest() -> None:
    with pytest.raises(UnknownTaskError, match="Did you mean 'quick'"):
        select_tasks(None, "quik")


def test_nothing_requested_is_an_error() -> None:
    with pytest.raises(UnknownTaskError, match="no tasks"):
        select_tasks([], None)


def test_text_file_adds_the_perplexity_file_task() -> None:
    assert select_tasks(["pubmedqa"], None, text_file=Path("x.txt")) == [TaskSpec("pubmedqa"), TaskSpec("perplexity_file")]


# ----------------------------------------------------------------------------- shipped tasks


def test_quick_suite_loads_offline_without_lm_eval_index() -> None:
    loaded = load_tasks(select_tasks(None, "quick"))
    assert "arc_challenge" not in loaded.manager.task_index  # built-in index not needed
    assert sorted(loaded.leaves) == ["arc_easy_200", "perplexity", "pubmedqa", "wmt22_en_de"]
    assert set(loaded.num_fewshot.values()) == {0}


def test_request_counts_equal_docs_times_choices() -> None:
    loaded = load_tasks(select_tasks(None, "quick"))
    arc = read_jsonl(DATA / "arc_easy" / "test.jsonl")
    expected = {
        "perplexity": len(read_jsonl(DATA / "wikitext2" / "test_first8_articles.jsonl")),
        "wmt22_en_de": 30,
        "pubmedqa": 100 * 3,
        "arc_easy_200": sum(len(doc["choices"]["text"]) for doc in arc),
    }
    assert request_counts(loaded, None) == expected
    assert request_counts(loaded, 7) == {"perplexity": 7, "wmt22_en_de": 7, "pubmedqa": 21,
                                         "arc_easy_200": sum(len(d["choices"]["text"]) for d in arc[:7])}  # fmt: skip
    assert sample_indices(loaded, None) == {"wmt22_en_de": list(range(30)), "pubmedqa": list(range(100))}


def test_our_pubmedqa_prompt_matches_lm_eval_format(shared_data: Path) -> None:
    task = load_tasks([TaskSpec("pubmedqa")]).leaves["pubmedqa"]
    official = json.loads((shared_data / "pubmedqa" / "test_ground_truth.json").read_text())
    raw = json.loads((shared_data / "pubmedqa" / "ori_pqal.json").read_text())
    docs = list(task.eval_docs)
    assert [d["pubid"] for d in docs] == sorted(official, key=int)  # label-blind order, not the file's
    assert {d["pubid"]: d["final_decision"] for d in docs} == official
    first_100 = {d["final_decision"] for d in docs[:100]}
    assert first_100 == {"yes", "no", "maybe"}  # the quick suite's limit sees every label
    first = raw[docs[0]["pubid"]]
    expected = "Abstract: " + "\n".join(first["CONTEXTS"]) + "\nQuestion: " + first["QUESTION"] + "\nAnswer:"
    assert task.doc_to_text(docs[0]) == expected
    assert task.doc_to_choice(docs[0]) == ["yes", "no", "maybe"]
    assert not {d["pubid"] for d in task.fewshot_docs()} & set(official)  # few-shot source disjoint from test


def test_our_pubmedqa_replaces_lm_evals() -> None:
    index = T._index_for(["arc_easy"], [])  # forces the built-in index underneath
    assert T.TASK_YAML_DIR in Path(index["pubmedqa"].yaml_path).parents
    assert LM_EVAL_TASKS in Path(index["arc_easy"].yaml_path).parents


def test_pubmedqa_macro_f1_equals_sklearn() -> None:
    import importlib.util

    from sklearn.metrics import f1_score

    spec = importlib.util.spec_from_file_location("pubmedqa_utils", T.TASK_YAML_DIR / "pubmedqa" / "pubmedqa_utils.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gold = [0, 0, 1, 2, 1, 0, 2, 2, 1, 0]
    pred = [0, 1, 1, 2, 0, 0, 0, 2, 1, 1]
    expected = f1_score(gold, pred, average="macro", labels=[0, 1, 2], zero_division=0)
    assert module.macro_f1(list(zip(gold, pred))) == pytest.approx(expected)


def test_wikitext_slice_is_first_eight_articles(shared_data: Path) -> None:
    rows = [r["text"] for r in read_jsonl(shared_data / "wikitext2" / "wikitext-2-raw-v1_test_rows.jsonl")]
    titles = [i for i, text in enumerate(rows) if re.fullmatch(r" = [^=].* = \n", text)]
    pages = read_jsonl(DATA / "wikitext2" / "test_first8_articles.jsonl")
    assert len(pages) == 8
    for page, start, stop in zip(pages, titles, titles[1:]):
        assert page["page"].split() == " ".join(rows[start:stop]).split()


def test_perplexity_task_uses_lm_eval_wikitext_definitions() -> None:
    from lm_eval.tasks.wikitext import preprocess_wikitext

    task = load_tasks([TaskSpec("perplexity")]).leaves["perplexity"]
    assert task.config.doc_to_target is preprocess_wikitext.wikitext_detokenizer
    assert task.config.process_results is preprocess_wikitext.process_results
    assert task.OUTPUT_TYPE == "loglikelihood_rolling"


def test_arc_easy_200_config_equals_lm_eval_arc_easy() -> None:
    from lm_eval.tasks._yaml_loader import load_yaml

    ours = load_yaml(T.TASK_YAML_DIR / "arc_easy_200" / "arc_easy_200.yaml", resolve_func=False)
    theirs = load_yaml(LM_EVAL_TASKS / "arc" / "arc_easy.yaml", resolve_func=False)
    for key in ("output_type", "doc_to_text", "doc_to_target", "doc_to_choice", "metric_list", "training_split", "test_split"):
        assert ours[key] == theirs[key], key


def test_wmt22_prompt_follows_lm_eval_wmt16_en_de() -> None:
    from lm_eval.tasks._yaml_loader import load_yaml

    theirs = load_yaml(LM_EVAL_TASKS / "translation" / "wmt16_en-de.yaml", resolve_func=False)
    task = load_tasks([TaskSpec("wmt22_en_de")]).leaves["wmt22_en_de"]
    doc = task.eval_docs[0]
    assert task.config.doc_to_text == theirs["doc_to_text"] and task.config.doc_to_target == theirs["doc_to_target"]
    assert task.doc_to_text(doc) == f"English phrase: {doc['translation']['en']}\nGerman phrase:"
    assert task.config.generation_kwargs["until"] == theirs["generation_kwargs"]["until"]
    assert task.higher_is_better() == {"bleu": True, "chrf": True, "ter": False}


def test_text_file_is_one_document(tmp_path: Path) -> None:
    text = "First paragraph here.\n\nSecond one, ünïcode.\n"
    path = tmp_path / "mine.txt"
    path.write_text(text, encoding="utf-8")
    loaded = load_tasks(select_tasks(None, None, text_file=path), text_file=path)
    task = loaded.leaves["perplexity_file"]
    assert [d["page"] for d in task.eval_docs] == [text]
    assert task.doc_to_target(task.eval_docs[0]) == text  # scored as written, no detokenizing
    assert request_counts(loaded, None) == {"perplexity_file": 1}


# ----------------------------------------------------------------------------- offline copies


def _reference_task(yaml_path: Path, splits: dict[str, list[dict[str, Any]]]) -> Any:
    """lm-eval's own config for a task, fed hand-converted records of the local files."""
    import datasets
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(yaml_path, resolve_func=True)
    for key in ("tag", "group"):
        cfg.pop(key, None)
    cfg["custom_dataset"] = lambda **_: datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()})
    return ConfigurableTask(config=cfg)


def _arc_by_hand(path: Path) -> list[dict[str, Any]]:
    out = []
    for item in read_jsonl(path):
        q = item["question"]
        out.append({"id": item["id"], "question": q["stem"], "answerKey": item["answerKey"],
                    "choices": {"text": [c["text"] for c in q["choices"]], "label": [c["label"] for c in q["choices"]]}})  # fmt: skip
    return out


def _mmlu_by_hand(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [{"question": r["question"], "subject": "anatomy", "answer": int(r["answer"]),
                 "choices": [r["choice0"], r["choice1"], r["choice2"], r["choice3"]]} for r in csv.DictReader(handle)]  # fmt: skip


def _truthfulqa_by_hand(path: Path) -> list[dict[str, Any]]:
    def targets(d: dict[str, int]) -> dict[str, list[Any]]:
        return {"choices": list(d), "labels": list(d.values())}

    return [{"question": i["question"], "mc1_targets": targets(i["mc1_targets"]), "mc2_targets": targets(i["mc2_targets"])}
            for i in json.loads(path.read_text(encoding="utf-8"))]  # fmt: skip


OFFLINE_CASES = {
    # name: (lm-eval YAML, {split: (local file, hand converter)}, few-shot split lm-eval uses, shots)
    "arc_challenge": ("arc/arc_challenge.yaml", {"train": ("arc/ARC-Challenge-Train.jsonl", _arc_by_hand),
                      "validation": ("arc/ARC-Challenge-Dev.jsonl", _arc_by_hand),
                      "test": ("arc/ARC-Challenge-Test.jsonl", _arc_by_hand)}, "train", 3),
    "mmlu_anatomy": ("mmlu/default/mmlu_anatomy.yaml", {"test": ("mmlu/test/anatomy_test.csv", _mmlu_by_hand),
                     "dev": ("mmlu/dev/anatomy_dev.csv", _mmlu_by_hand)}, "dev", 5),
    "gsm8k": ("gsm8k/gsm8k.yaml", {"train": ("gsm8k/train.jsonl", read_jsonl),
              "test": ("gsm8k/test.jsonl", read_jsonl)}, "train", 5),
    "truthfulqa_mc2": ("truthfulqa/truthfulqa_mc2.yaml", {"validation": ("truthfulqa/v1/mc_task.json", _truthfulqa_by_hand)},
                       "validation", 0),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(OFFLINE_CASES))
def test_offline_prompt_equals_lm_eval_template(name: str, shared_data: Path) -> None:
    yaml_rel, files, fewshot_split, shots = OFFLINE_CASES[name]
    splits = {split: convert(shared_data / rel) for split, (rel, convert) in files.items()}
    reference = _reference_task(LM_EVAL_TASKS / yaml_rel, splits)
    ours = load_tasks([TaskSpec(name, num_fewshot=shots)], data_dir=shared_data).leaves[name]
    assert ours.config.dataset_path == reference.config.dataset_path  # lm-eval's own config, data swapped
    assert len(ours.eval_docs) == len(reference.eval_docs)
    assert list(ours.fewshot_docs()) == splits[fewshot_split]
    for seed_task in (ours, reference):
        seed_task.set_fewshot_seed(seed=1234)
    for index in (0, 1, len(ours.eval_docs) - 1):
        doc, ref_doc = ours.eval_docs[index], reference.eval_docs[index]
        assert ours.fewshot_context(doc, num_fewshot=shots) == reference.fewshot_context(ref_doc, num_fewshot=shots)
        assert ours.doc_to_choice(doc) == reference.doc_to_choice(ref_doc) if ours.config.doc_to_choice else True
        assert ours.doc_to_target(doc) == reference.doc_to_target(ref_doc)


def test_hellaswag_offline_maps_preprocessed_copy(shared_data: Path) -> None:
    task = load_tasks([TaskSpec("hellaswag", num_fewshot=0)], data_dir=shared_data).leaves["hellaswag"]
    raw = json.loads((shared_data / "hellaswag" / "hellaswag_val_preprocessed.jsonl").open().readline())
    doc = task.eval_docs[0]
    assert task.doc_to_text(doc) == raw["ctx"]  # lm-eval's process_docs on the mapped record
    assert task.doc_to_choice(doc) == raw["endings"] and task.doc_to_target(doc) == raw["label"]


def test_offline_task_without_fewshot_split_refuses_shots(shared_data: Path) -> None:
    with pytest.raises(TaskFileError, match="no 'train' split"):
        load_tasks([TaskSpec("boolq", num_fewshot=5)], data_dir=shared_data)


def test_task_without_local_copy_says_it_needs_the_hub(shared_data: Path) -> None:
    # lm-eval's full BIG-bench tasks read hails/bigbench, of which there is no local copy
    with pytest.raises(TaskFileError, match="needs the dataset 'hails/bigbench' from the Hugging Face Hub"):
        load_tasks([TaskSpec("bigbench_snarks_multiple_choice")], data_dir=shared_data)


def test_winogrande_offline_maps_the_rebuilt_dev_set(shared_data: Path) -> None:
    """The local WinoGrande (Hub schema) serves lm-eval's own task: choices and targets as its functions give them."""
    from lm_eval.tasks.winogrande import preprocess_winogrande as reference

    raw = read_jsonl(shared_data / "winogrande" / "dev_hf_schema_reconstructed.jsonl")
    task = load_tasks([TaskSpec("winogrande", num_fewshot=0)], data_dir=shared_data).leaves["winogrande"]
    assert len(task.eval_docs) == len(raw) == 1267
    for index in (0, 1, 1266):
        doc, expected = task.eval_docs[index], raw[index]
        assert task.doc_to_choice(doc) == reference.doc_to_choice(expected)
        assert task.doc_to_target(doc) == reference.doc_to_target(expected)
        assert task.doc_to_text(doc) == {"1": 0, "2": 1}[expected["answer"]]
    with pytest.raises(TaskFileError, match="no 'train' split"):
        load_tasks([TaskSpec("winogrande", num_fewshot=5)], data_dir=shared_data)


def test_data_dir_missing_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "arc").mkdir()
    with pytest.raises(TaskFileError, match=r"ARC-Challenge-Train\.jsonl") as info:
        load_tasks([TaskSpec("arc_challenge")], data_dir=tmp_path)
    assert "--data-dir" in info.value.hint


def test_local_file_missing_field_names_file_and_field(tmp_path: Path, shared_data: Path) -> None:
    shutil.copytree(shared_data / "arc", tmp_path / "arc")
    broken = tmp_path / "arc" / "ARC-Challenge-Test.jsonl"
    lines = broken.read_text().splitlines()
    record = json.loads(lines[1])
    del record["answerKey"]
    lines[1] = json.dumps(record)
    broken.chmod(0o644)
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskFileError, match=r"ARC-Challenge-Test\.jsonl: line 2 lacks the required field 'answerKey'"):
        load_tasks([TaskSpec("arc_challenge")], data_dir=tmp_path)


# ----------------------------------------------------------------------------- bad input


def test_malformed_user_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("task: mine\ndoc_to_text: [unclosed\n")
    with pytest.raises(TaskFileError, match=re.escape(str(bad))):
        load_tasks([TaskSpec("pubmedqa")], include_path=[tmp_path])


def test_user_yaml_with_bad_config_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("task: mine\noutput_type: not_a_type\ncustom_dataset: !function evalsuite.tasks.jsonl_dataset\n")
    with pytest.raises(TaskFileError, match=re.escape(str(bad))):
        load_tasks([TaskSpec("mine")], include_path=[tmp_path])


def test_user_yaml_task_runs_from_include_path(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "2+2", "a": 1}\n{"q": "1+1", "a": 0}\n')
    (tmp_path / "mine.yaml").write_text(
        "task: mine\ncustom_dataset: !function evalsuite.tasks.jsonl_dataset\n"
        "dataset_kwargs: {data_files: {test: d.jsonl}}\ntest_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: '{{q}}='\ndoc_to_choice: ['2', '4']\ndoc_to_target: a\n"
    )
    assert select_tasks(["mine"], None, include_path=[tmp_path]) == [TaskSpec("mine")]
    assert request_counts(load_tasks([TaskSpec("mine")], include_path=[tmp_path]), None) == {"mine": 4}


def test_empty_text_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(TaskFileError, match="empty"):
        load_tasks([TaskSpec("perplexity_file")], text_file=path)


def test_requesting_a_task_twice_is_rejected() -> None:
    with pytest.raises(ConfigError, match="requested twice"):
        load_tasks([TaskSpec("pubmedqa"), TaskSpec("pubmedqa")])


# ----------------------------------------------------------------------------- catalog and index cache


def test_catalog_lists_shipped_tasks_suites_and_offline_copies() -> None:
    rows = {row.name: row for row in catalog()}
    assert {"quick", "open-llm-v1", "open-llm-v2"} <= {n for n, r in rows.items() if r.kind == "suite"}
    assert rows["pubmedqa"].data_source == "shipped in repo: tasks/data/pubmedqa"
    assert rows["wmt22_en_de"].metrics == ("bleu", "chrf", "ter")
    assert rows["perplexity"].output_type == "loglikelihood_rolling"
    assert rows["bleu"].kind == "alias"
    assert "local copy via --data-dir: mmlu/" in rows["mmlu"].data_source


@pytest.mark.parametrize("subdir", ["leaderboard", "mmlu", "arc", "translation"])
def test_fast_index_equals_lm_eval_task_index(subdir: str) -> None:
    from lm_eval.tasks._index import TaskIndex

    root = LM_EVAL_TASKS.resolve() / subdir
    theirs, ours = TaskIndex.build([root]), task_index.fast_index(root)
    assert sorted(ours) == sorted(theirs)
    for name, entry in theirs.items():
        assert (ours[name].kind, ours[name].yaml_path, ours[name].tags) == (entry.kind, entry.yaml_path, entry.tags), name
        if entry.cfg:
            assert ours[name].cfg.get("dataset_path") == entry.cfg.get("dataset_path")
            assert ours[name].cfg.get("output_type") == entry.cfg.get("output_type")


def test_builtin_index_is_cached_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    from lm_eval.tasks._index import TaskIndex

    first = task_index.builtin_summaries()  # built once per session into $EVALSUITE_CACHE (see conftest)
    assert task_index.builtin_cache_path().is_file() and "hellaswag" in first
    task_index.builtin_summaries.cache_clear()
    monkeypatch.setattr(TaskIndex, "build", lambda *a, **k: pytest.fail("index rebuilt despite the cache"))
    assert task_index.builtin_summaries() == first
    assert first["arc_easy"]["dataset_path"] == "allenai/ai2_arc"


# ----------------------------------------------------------------------------- end to end with lm-eval's HFLM


def test_quick_suite_runs_through_simple_evaluate(tiny_llama: Path, tmp_path: Path) -> None:
    import lm_eval
    import sacrebleu
    import torch
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(2)
    text = tmp_path / "notes.txt"
    text.write_text("A short note.\n\nAnother paragraph.\n", encoding="utf-8")
    loaded = load_tasks(select_tasks(None, "quick", text_file=text), text_file=text)
    lm = HFLM(pretrained=str(tiny_llama), device="cpu", batch_size=8, max_length=256)
    out = lm_eval.simple_evaluate(model=lm, tasks=loaded.tasks, task_manager=loaded.manager, samples=sample_indices(loaded, 1),
                                  bootstrap_iters=0, gen_kwargs={"max_gen_toks": 8})  # fmt: skip
    results, samples = out["results"], out["samples"]
    assert set(results) == {"perplexity", "wmt22_en_de", "pubmedqa", "arc_easy_200", "perplexity_file"}
    pairs = [(s["target"].strip(), s["filtered_resps"][0].strip()) for s in samples["wmt22_en_de"]]
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    assert results["wmt22_en_de"]["bleu,none"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert results["wmt22_en_de"]["ter,none"] == pytest.approx(sacrebleu.corpus_ter(hyps, [refs]).score)
    # The board ranks by the stored direction; it must be what lm-eval reports from the YAML (TER lower).
    from evalsuite.formats import layout as results_layout

    stored = {m.metric: m.higher_is_better for m in results_layout.to_records(1, out, loaded, token_count=None)[0] if m.task == "wmt22_en_de"}
    assert stored == out["higher_is_better"]["wmt22_en_de"] == {"bleu": True, "chrf": True, "ter": False}
    pages = [s["doc"]["page"] for s in samples["perplexity"]]
    logliks = [s["resps"][0][0] for s in samples["perplexity"]]
    words = sum(len(re.split(r"\s+", p)) for p in pages)
    assert results["perplexity"]["word_perplexity,none"] == pytest.approx(math.exp(-sum(logliks) / words))
    assert {"acc,none", "macro_f1,none"} <= set(results["pubmedqa"])
    assert len(samples["perplexity_file"]) == 1


def test_tasks_root_prefers_the_wheel_copy_over_a_folder_beside_the_package(tmp_path: Path) -> None:
    from evalsuite.tasks.index import TASKS_ROOT, tasks_root

    package = tmp_path / "site-packages" / "evalsuite"
    package.mkdir(parents=True)
    (tmp_path / "site-packages" / "tasks").mkdir()  # some other distribution's top-level `tasks`
    assert tasks_root(package) == tmp_path / "site-packages" / "tasks"  # no wheel copy: the checkout layout
    (package / "_tasks").mkdir()
    assert tasks_root(package) == package / "_tasks"
    # This checkout is an editable install: everything reads the repository's tasks/, MT-Bench questions too
    # (one reader for the judged task and the arena: tests/judged/test_mt_bench_questions.py).
    from evalsuite.judged.mt_bench import QUESTIONS_FILE

    assert TASKS_ROOT == Path(__file__).resolve().parent.parent / "tasks"
    assert QUESTIONS_FILE.parent.parent == TASKS_ROOT
