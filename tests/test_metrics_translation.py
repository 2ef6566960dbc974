"""Corpus BLEU/chrF/TER aggregations against sacrebleu itself and independent golden scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

from evalsuite.metrics import translation

WMT17 = "wmt17_en_de_sacrebleu"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def wmt22_pairs(shared_data: Path) -> list[tuple[str, str]]:
    """(reference A, Online-B output) for the first 100 WMT22 en-de segments, as lm-eval items."""
    folder = shared_data / "wmt22_en_de"
    refs = _lines(folder / "generaltest2022.en-de.ref.A.de")[:100]
    hyps = _lines(folder / "system-outputs" / "generaltest2022.en-de.hyp.Online-B.de")[:100]
    return list(zip(refs, hyps))


def test_aggregations_equal_sacrebleu_corpus_functions(wmt22_pairs: list[tuple[str, str]]) -> None:
    refs = [[r for r, _ in wmt22_pairs]]
    hyps = [h for _, h in wmt22_pairs]
    assert translation.corpus_bleu(wmt22_pairs) == pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score)
    assert translation.corpus_chrf(wmt22_pairs) == pytest.approx(sacrebleu.corpus_chrf(hyps, refs).score)
    assert translation.corpus_ter(wmt22_pairs) == pytest.approx(sacrebleu.corpus_ter(hyps, refs).score)


def test_lm_eval_style_leading_space_targets_do_not_change_scores(wmt22_pairs: list[tuple[str, str]]) -> None:
    spaced = [(" " + r, h + " ") for r, h in wmt22_pairs]
    assert translation.corpus_bleu(spaced) == translation.corpus_bleu(wmt22_pairs)
    assert translation.corpus_chrf(spaced) == translation.corpus_chrf(wmt22_pairs)


@pytest.mark.parametrize("system", ["C-3MA.4959", "uedin-nmt.4722"])
def test_bleu_reproduces_mteval_golden_scores(system: str, shared_data: Path) -> None:
    folder = shared_data / WMT17
    golden = json.loads((folder / "sacrebleu_golden_scores.json").read_text())["wmt17_en_de_corpus"]
    refs = _lines(folder / golden["reference"])
    hyps = _lines(folder / "systems" / f"newstest2017.{system}.en-de.txt")
    expected = golden["bleu_mteval_v13a_13a_tok_2dp"][system]
    assert round(translation.corpus_bleu(list(zip(refs, hyps))), 2) == pytest.approx(expected, abs=golden["tolerance"]["bleu"])


@pytest.mark.parametrize("system", ["FBK.4870"])
def test_chrf_reproduces_official_chrfpp_script(system: str, shared_data: Path) -> None:
    folder = shared_data / WMT17
    golden = json.loads((folder / "sacrebleu_golden_scores.json").read_text())["wmt17_en_de_corpus"]
    refs = _lines(folder / golden["reference"])
    hyps = _lines(folder / "systems" / f"newstest2017.{system}.en-de.txt")
    expected = golden["chrf_eps_smoothing_official_chrF++py"][system]
    assert translation.corpus_chrf(list(zip(refs, hyps))) == pytest.approx(expected, abs=1e-3)


def test_ter_hand_worked_cases() -> None:
    # one substitution-free block shift of "a b c" over 8 reference words: 1 edit / 8 = 12.5
    assert translation.corpus_ter([("a b c d e f g h", "d e f g h a b c")]) == pytest.approx(12.5)
    # three substitutions over three reference words
    assert translation.corpus_ter([("aaaa bbbb cccc", "dddd eeee ffff")]) == pytest.approx(100.0)
    assert translation.corpus_ter([("same words here", "same words here")]) == 0.0


def test_signatures_name_sacrebleu_settings_and_version() -> None:
    version = sacrebleu.__version__
    assert translation.sacrebleu_signature("bleu") == f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{version}"
    assert translation.sacrebleu_signature("chrf") == f"nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{version}"
    assert translation.sacrebleu_signature("ter").startswith("nrefs:1|case:lc|tok:tercom")
    assert translation.sacrebleu_signature("bleu", n_refs=2).startswith("nrefs:2|")
    assert set(translation.sacrebleu_signatures()) == {"bleu", "chrf", "ter"}


def test_direction_comes_from_the_task_yaml_and_ter_is_lower_better() -> None:
    """lm-eval reports the direction the YAML states; evalsuite's Python states none to drift from it."""
    from evalsuite.tasks.loading import load_tasks, select_tasks

    task = load_tasks(select_tasks(["wmt22_en_de"], None)).leaves["wmt22_en_de"]
    assert task.higher_is_better() == {"bleu": True, "chrf": True, "ter": False}
    assert not hasattr(translation, "HIGHER_IS_BETTER")


def test_unknown_metric_is_rejected() -> None:
    with pytest.raises(KeyError, match="unknown translation metric"):
        translation.sacrebleu_signature("meteor")
