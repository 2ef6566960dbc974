"""SummEval: 16 systems' summaries of 100 CNN/DailyMail test articles, with expert scores, and each metric's scores of them.

The data is ``summeval/bartscore_SummEval_data.json`` under the data directory (see
``../shared/data/README.md``, "Summarization"): per document the PTB-tokenised source,
11 references (``ref_summs``; the first is the article's own highlights) and, per system,
its summary with the mean of the three experts' 1–5 scores for coherence, consistency,
fluency and relevance. Documents are taken in sorted id order (``--limit`` takes the first N).

The automatic metrics score each summary against **all 11 references**:

* ROUGE-1, ROUGE-2, ROUGE-L (summary-level LCS, ``rougeLsum``, as ROUGE-1.5.5's ROUGE-L is):
  the mean F-measure over the references (G-Eval's and SummEval's rule), from
  :func:`evalsuite.metrics.rouge.rouge` with ``multi_reference="mean"``;
* BLEU and chrF: sacrebleu's sentence scores (:func:`evalsuite.metrics.translation.sentence_scores`);
* length: the summary's whitespace-separated tokens (a baseline any metric should beat);
* BERTScore F1 (``roberta-large``, ``bert-score``'s English default, at its layer 17) only when
  that model is in the local Hugging Face cache, or with another model from a local directory
  (:class:`BertScoreModel`, e.g. a model saved offline; its layer must then be given);
  otherwise the metric is reported unavailable with the reason, never scored 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalsuite.errors import ConfigError, TaskFileError
from evalsuite.metrics import agreement
from evalsuite.metrics.rouge import rouge
from evalsuite.metrics.translation import sentence_scores

DATA_FILE = Path("summeval") / "bartscore_SummEval_data.json"
DIMENSIONS = ("coherence", "consistency", "fluency", "relevance")
ROUGE_COLUMNS = {"ROUGE-1": "rouge1", "ROUGE-2": "rouge2", "ROUGE-L": "rougeLsum"}
BERTSCORE_MODEL = "roberta-large"
BERTSCORE = "BERTScore-F1"


@dataclass(frozen=True)
class SummEvalData:
    """The documents, systems and texts, and the experts' mean scores as (documents, systems) matrices."""

    doc_ids: tuple[str, ...]
    systems: tuple[str, ...]
    sources: tuple[str, ...]
    references: tuple[tuple[str, ...], ...]
    summaries: tuple[tuple[str, ...], ...]  # [document][system]
    human: dict[str, np.ndarray]

    def flat_summaries(self) -> list[str]:
        return [text for row in self.summaries for text in row]

    def flat_references(self) -> list[tuple[str, ...]]:
        return [refs for refs in self.references for _ in self.systems]

    def matrix(self, flat: Sequence[float | None]) -> np.ndarray:
        """Scores in ``flat_summaries`` order as a (documents, systems) matrix, None as NaN."""
        values = np.array([np.nan if value is None else float(value) for value in flat], dtype=float)
        return values.reshape(len(self.doc_ids), len(self.systems))


def data_file(data_dir: Path | None) -> Path:
    """The SummEval file under ``data_dir``; a ConfigError saying where to point when there is none."""
    if data_dir is None:
        raise ConfigError("SummEval agreement needs the data directory holding summeval/", "pass --data-dir (or set EVALSUITE_DATA_DIR), e.g. --data-dir ../shared/data")
    path = data_dir / DATA_FILE
    if not path.is_file():
        raise TaskFileError(f"{path} is missing from the data directory {data_dir}", f"point --data-dir at a directory holding {DATA_FILE}")
    return path


def load(data_dir: Path | None, limit: int | None = None) -> SummEvalData:
    """The first ``limit`` documents (sorted ids; None: all) with every system that summarised all of them."""
    path = data_file(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskFileError(f"cannot read {path}: {exc}", "use the copy described in the data directory's README") from exc
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be 1 or more, got {limit}")
    doc_ids = tuple(sorted(raw))[:limit]
    systems = tuple(sorted(set.intersection(*(set(raw[doc]["sys_summs"]) for doc in doc_ids)), key=lambda name: (len(name), name)))
    human = {
        dimension: np.array([[raw[doc]["sys_summs"][system]["scores"][dimension] for system in systems] for doc in doc_ids], dtype=float)
        for dimension in DIMENSIONS
    }
    return SummEvalData(
        doc_ids=doc_ids, systems=systems, sources=tuple(raw[doc]["src"] for doc in doc_ids),
        references=tuple(tuple(raw[doc]["ref_summs"]) for doc in doc_ids),
        summaries=tuple(tuple(raw[doc]["sys_summs"][system]["sys_summ"] for system in systems) for doc in doc_ids),
        human=human,
    )


def rouge_scores(data: SummEvalData) -> dict[str, np.ndarray]:
    """ROUGE-1/2/L as mean F-measures over each document's references."""
    scored = [rouge(summary, refs, multi_reference="mean") for summary, refs in zip(data.flat_summaries(), data.flat_references(), strict=True)]
    return {label: data.matrix([row[name] for row in scored]) for label, name in ROUGE_COLUMNS.items()}


@dataclass(frozen=True)
class BertScoreModel:
    """The encoder BERTScore embeds with: a Hub name (used only from the local cache) or a local directory.

    ``num_layers`` is the layer whose embeddings are compared; None takes ``bert-score``'s
    tuned layer for a name it knows (a local directory has none, so it must be given).
    """

    name: str = BERTSCORE_MODEL
    num_layers: int | None = None

    def is_directory(self) -> bool:
        return Path(self.name).is_dir()

    def check(self) -> None:
        """Refuse what the user must fix: a local directory without its layer, or with none of a model's files."""
        if not self.is_directory():
            return
        if not (Path(self.name) / "config.json").is_file():
            raise ConfigError(f"--bertscore-model {self.name} is a directory without a config.json", "point it at a saved transformers model")
        if self.num_layers is None:
            raise ConfigError(f"--bertscore-model {self.name} needs --bertscore-layers", "bert-score only knows the best layer of the Hub's named models")


def bertscore_unavailable(model: BertScoreModel = BertScoreModel()) -> str | None:
    """Why BERTScore cannot be computed here (None: it can): its package or its model is not available locally."""
    try:
        import bert_score  # noqa: F401
        from huggingface_hub import try_to_load_from_cache
    except ImportError as exc:
        return f"bert-score is not importable ({exc})"
    if model.is_directory():
        return None
    if not isinstance(try_to_load_from_cache(model.name, "config.json"), str):
        return f"its model {model.name} is not in the local Hugging Face cache"
    return None


def bertscore(data: SummEvalData, model: BertScoreModel = BertScoreModel()) -> np.ndarray:
    """BERTScore F1 against the references (``bert-score`` keeps the best reference), offline."""
    from bert_score import BERTScorer

    scorer = BERTScorer(model_type=model.name, num_layers=model.num_layers, lang="en")
    _precision, _recall, f1 = scorer.score(data.flat_summaries(), [list(refs) for refs in data.flat_references()])
    return data.matrix([float(value) for value in f1])


def automatic_metrics(
    data: SummEvalData, *, with_bertscore: bool = True, bertscore_model: BertScoreModel = BertScoreModel()
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every automatic metric's (documents, systems) scores, and the metrics left out with the reason."""
    summaries, references = data.flat_summaries(), data.flat_references()
    scores = rouge_scores(data)
    scores["BLEU"] = data.matrix(sentence_scores("bleu", summaries, references))
    scores["chrF"] = data.matrix(sentence_scores("chrf", summaries, references))
    scores["length"] = data.matrix([float(len(summary.split())) for summary in summaries])
    unavailable: dict[str, str] = {}
    reason = bertscore_unavailable(bertscore_model) if with_bertscore else "not asked for (--no-bertscore)"
    if reason is None:
        scores[BERTSCORE] = bertscore(data, bertscore_model)
    else:
        unavailable[BERTSCORE] = reason
    return scores, unavailable


@dataclass(frozen=True)
class AgreementCell:
    """One metric's correlation with one human dimension, at one level, by one method."""

    metric: str
    dimension: str
    level: str
    method: str
    correlation: agreement.Correlation


def agreement_cells(
    metrics: Mapping[str, np.ndarray | Mapping[str, np.ndarray]], human: dict[str, np.ndarray], *, rounds: int, seed: int,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[AgreementCell]:
    """Every (metric, dimension, level, method) correlation, each with its bootstrap over documents (same seed).

    A metric is one score per summary, or (a judge) one score per summary and dimension: then
    each dimension's human scores are correlated with the judge's score of that dimension.
    """
    cells = []
    for metric, scored in metrics.items():
        progress(f"correlating {metric}")
        for dimension, people in human.items():
            scores = scored[dimension] if isinstance(scored, Mapping) else scored
            for level in agreement.LEVELS:
                for method in agreement.METHODS:
                    value = agreement.correlate(scores, people, level, method, rounds=rounds, seed=seed)
                    cells.append(AgreementCell(metric, dimension, level, method, value))
    return cells


def by_metric(cells: Sequence[AgreementCell], level: str, method: str) -> dict[str, dict[str, agreement.Correlation]]:
    """One table of ``cells``: metric -> dimension -> correlation, metrics in the order they were scored."""
    table: dict[str, dict[str, agreement.Correlation]] = {}
    for cell in cells:
        if cell.level == level and cell.method == method:
            table.setdefault(cell.metric, {})[cell.dimension] = cell.correlation
    return table
