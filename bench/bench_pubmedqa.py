"""PubMedQA (long abstracts, one-token answers yes/no/maybe): evalsuite TransformersLM vs lm-eval HFLM.

    .venv/bin/python bench/bench_pubmedqa.py [--model DIR] [--limit 12]
"""

from __future__ import annotations

import itertools
import json

from _common import DATA, loglikelihood_bench, parse_args


def main() -> None:
    args = parse_args(__doc__ or "", default_limit=12)
    records = json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text())
    docs = [
        ("Abstract: {}\nQuestion: {}\nAnswer:".format("\n".join(r["CONTEXTS"]), r["QUESTION"]), [" yes", " no", " maybe"])
        for r in itertools.islice(records.values(), args.limit)
    ]
    loglikelihood_bench("PubMedQA loglikelihood", docs, args)


if __name__ == "__main__":
    main()
