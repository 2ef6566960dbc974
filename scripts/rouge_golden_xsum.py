"""evalsuite's ROUGE beside the official Perl ROUGE-1.5.5 on the XSum authors' system outputs.

``xsum/xsum-model-predictions.tar.gz`` (EdinburghNLP/XSum) holds, for the 11,334 test articles, the gold
summaries and five systems' outputs (lead, ext-oracle, ptgen, convs2s, topic-convs2s), PTB-tokenized and
lower-cased, each with the ROUGE-1.5.5 figures its authors published (``<system>-test-output.rouge``).
ROUGE-1.5.5 averages per-document scores, so its F line is compared with the mean of
``evalsuite.metrics.rouge``'s per-document F-measures (x 100; ROUGE-L: rougeLsum and rougeL, one-sentence
summaries). Usage::

    python scripts/rouge_golden_xsum.py ../shared/data/xsum/xsum-model-predictions.tar.gz [--json] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path

from evalsuite.metrics.rouge import rouge_per_document

SYSTEMS = ("lead", "ext-oracle", "ptgen", "convs2s", "topic-convs2s")
_PERL_F = re.compile(r"f-score >> ROUGE\(1/2/3/L/SU4\): ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)")


def _members(tarball: Path) -> dict[str, str]:
    """The archive's text files by base name."""
    with tarfile.open(tarball) as archive:
        return {
            Path(member.name).name: archive.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def perl_figures(rouge_file: str) -> dict[str, float]:
    """ROUGE-1, -2 and -L F-scores (0-100) from a ROUGE-1.5.5 summary file."""
    found = _PERL_F.search(rouge_file)
    if found is None:
        raise ValueError("no 'f-score >> ROUGE(1/2/3/L/SU4)' line")
    return {"rouge1": float(found[1]), "rouge2": float(found[2]), "rougeL": float(found[4])}


def golden_table(tarball: Path, limit: int | None = None) -> list[dict[str, object]]:
    """One row per system: the Perl figures and evalsuite's mean F-measures (x 100) on the same lines."""
    files = _members(tarball)
    gold = files["gold-test-sentences.txt"].split("\n")[:-1]
    rows: list[dict[str, object]] = []
    for system in SYSTEMS:
        outputs = files[f"{system}-test-output.txt"].split("\n")[:-1]
        if len(outputs) != len(gold):
            raise ValueError(f"{system}: {len(outputs)} outputs for {len(gold)} gold summaries")
        count = len(gold) if limit is None else limit
        scores = rouge_per_document(outputs[:count], [[g] for g in gold[:count]])
        ours = {name: 100 * sum(s[name] for s in scores) / count for name in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
        rows.append({"system": system, "documents": count, "perl": perl_figures(files[f"{system}-test-output.rouge"]), "evalsuite": ours})
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    lines = [
        "| system | R-1 Perl | R-1 evalsuite | R-2 Perl | R-2 evalsuite | R-L Perl | R-L evalsuite (rougeL / rougeLsum) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        perl, ours = row["perl"], row["evalsuite"]
        assert isinstance(perl, dict) and isinstance(ours, dict)
        lines.append(
            f"| {row['system']} | {perl['rouge1']:.2f} | {ours['rouge1']:.2f} | {perl['rouge2']:.2f} | {ours['rouge2']:.2f} "
            f"| {perl['rougeL']:.2f} | {ours['rougeL']:.2f} / {ours['rougeLsum']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a Markdown table")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N documents (Perl figures are for all)")
    args = parser.parse_args(argv)
    rows = golden_table(args.tarball, args.limit)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
