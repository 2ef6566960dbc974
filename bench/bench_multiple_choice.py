"""HellaSwag (4 multi-token endings per context): evalsuite TransformersLM vs lm-eval HFLM.

    .venv/bin/python bench/bench_multiple_choice.py [--model DIR] [--limit 20]
"""

from __future__ import annotations

from _common import hellaswag_docs, loglikelihood_bench, parse_args


def main() -> None:
    args = parse_args(__doc__ or "", default_limit=20)
    loglikelihood_bench("HellaSwag loglikelihood", hellaswag_docs(args.limit), args)


if __name__ == "__main__":
    main()
