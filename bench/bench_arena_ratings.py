"""Arena ratings at Chatbot-Arena scale: 1.7M battles, ~130 models, read + BT + CIs + Elo.

Generates a synthetic FastChat ``clean_battle``-style JSON list (indent=2, extra fields,
Zipf-skewed battle counts, ties and both-bad), then times the public functions the
CLI calls -- ``read_battles`` and ``compute_ratings(method="bt", bootstrap_rounds=100)``
(which also runs online Elo) -- against naive competitors in the same run:

* one unregularised scikit-learn ``LogisticRegression`` on the uncollapsed battle
  rows (sparse ±1 design, ties as two half-weight rows) vs our collapsed L-BFGS fit;
  a naive 100-round bootstrap would cost ~101 such fits;
* the stdlib ``json`` parser vs ``orjson`` on the same file.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_arena_ratings.py            # full size
    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_arena_ratings.py --battles 200000 --quick
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from evalsuite.arena.battles import Battles, read_battles
from evalsuite.arena.ratings import bootstrap_online_elo, bradley_terry, compute_ratings

T = TypeVar("T")
WINNER_NAMES = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)


def timed(label: str, fn: Callable[[], T], log: list[tuple[str, float]]) -> T:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    log.append((label, seconds))
    print(f"{label:<58s} {seconds:8.2f} s", flush=True)
    return result


def synthetic_records(n: int, n_models: int, seed: int) -> list[dict[str, Any]]:
    """FastChat-like battles: Zipf-ish popularity, BT outcomes, ~18% tie, ~10% both-bad."""
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i:03d}-chat" for i in range(n_models)], dtype=object)
    strength = rng.normal(1000.0, 120.0, n_models)
    popularity = 1.0 / np.arange(1, n_models + 1) ** 0.9
    popularity /= popularity.sum()
    a = rng.choice(n_models, n, p=popularity)
    b = rng.choice(n_models, n, p=popularity)
    clash = a == b
    while clash.any():
        b[clash] = rng.choice(n_models, int(clash.sum()), p=popularity)
        clash = a == b
    p_a = 1.0 / (1.0 + 10.0 ** ((strength[b] - strength[a]) / 400.0))
    outcome = np.where(rng.random(n) < p_a, 0, 1)
    draw = rng.random(n)
    outcome[draw < 0.28] = 3
    outcome[draw < 0.18] = 2
    tstamp = np.sort(rng.uniform(1_682_000_000, 1_723_000_000, n)).round(3)
    judge = rng.integers(0, n // 3, n)
    columns = zip(names[a].tolist(), names[b].tolist(), WINNER_NAMES[outcome].tolist(),
                  tstamp.tolist(), judge.tolist())
    return [
        {"question_id": f"{i:032x}", "model_a": ma, "model_b": mb, "winner": w,
         "judge": f"arena_user_{j}", "turn": 1, "anony": True, "language": "English",
         "tstamp": t}
        for i, (ma, mb, w, t, j) in enumerate(columns)
    ]


def write_synthetic_file(
    path: Path, n: int, n_models: int, seed: int, log: list[tuple[str, float]]
) -> None:
    """FastChat writes its battles with ``json.dump(..., indent=2)``; so do we."""
    records = timed("generate records", lambda: synthetic_records(n, n_models, seed), log)
    timed("write JSON list (indent=2, FastChat style)",
          lambda: path.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2)), log)


def naive_sklearn_fit(battles: Battles) -> dict[str, float]:
    """Competitor: logistic regression on every battle row (ties as two half rows)."""
    n, m = len(battles), len(battles.models)
    tie = battles.winner >= 2
    rows = np.concatenate([np.arange(n), np.flatnonzero(tie)])
    a, b = battles.model_a[rows], battles.model_b[rows]
    k = len(rows)
    design = csr_matrix(
        (np.concatenate([np.ones(k), -np.ones(k)]),
         (np.concatenate([np.arange(k), np.arange(k)]), np.concatenate([a, b]))),
        shape=(k, m),
    )
    y = np.concatenate([(battles.winner[:n] != 1).astype(float), np.zeros(int(tie.sum()))])
    weight = np.where(np.concatenate([tie, np.ones(int(tie.sum()), bool)]), 0.5, 1.0)
    fit = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-8, max_iter=10_000)
    with threadpool_limits(limits=1, user_api="blas"):  # same BLAS setting as ours
        fit.fit(design, y, sample_weight=weight)
    coef = fit.coef_[0] - fit.coef_[0].mean()
    return dict(zip(battles.models, (1000.0 + 400.0 / math.log(10.0) * coef).tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=1_700_000)
    parser.add_argument("--models", type=int, default=130)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="skip the competitors")
    parser.add_argument("--elo-bootstrap", action="store_true",
                        help="also time compute_ratings(method='elo') with its bootstrap")
    args = parser.parse_args()
    log: list[tuple[str, float]] = []
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{args.battles:,} battles, {args.models} models, {args.rounds} rounds")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clean_battle_synthetic.json"
        write_synthetic_file(path, args.battles, args.models, args.seed, log)
        gc.collect()
        print(f"file size {path.stat().st_size / 2**20:,.0f} MiB")

        battles = timed("ours: read_battles (orjson + numpy columns)",
                        lambda: read_battles(path), log)
        table = timed(f"ours: compute_ratings bt + {args.rounds} bootstrap + online Elo",
                      lambda: compute_ratings(battles, "bt", args.rounds, args.seed), log)
        ours_total = log[-1][1] + log[-2][1]
        print(f"{'ours: TOTAL read + BT + bootstrap + Elo':<58s} {ours_total:8.2f} s")
        top = table.rows[0]
        print(f"top: {top.model} {top.rating:.1f} [{top.lower:.1f}, {top.upper:.1f}] "
              f"elo_online {top.elo_online:.1f}")
        ours_fit = timed("ours: one BT fit (collapse + L-BFGS)",
                         lambda: bradley_terry(battles), log)

        if args.elo_bootstrap:
            timed(f"ours: online Elo bootstrap, {args.rounds} rounds",
                  lambda: bootstrap_online_elo(battles, args.rounds, args.seed), log)
        if not args.quick:
            compete(path, battles, ours_fit, log, args.rounds)


def compete(path: Path, battles: Battles, ours_fit: dict[str, float],
            log: list[tuple[str, float]], rounds: int) -> None:
    seconds = dict(log)
    naive = timed("naive: sklearn LogisticRegression on raw rows, ONE fit",
                  lambda: naive_sklearn_fit(battles), log)
    gap = max(abs(naive[m] - ours_fit[m]) for m in ours_fit)
    naive_s = log[-1][1]
    our_fit_s = seconds["ours: one BT fit (collapse + L-BFGS)"]
    boot_label = next(k for k in seconds if k.startswith("ours: compute_ratings"))
    print(f"max |rating difference| ours vs sklearn: {gap:.4f} points")
    print(f"ratio one fit: naive / ours = {naive_s / our_fit_s:,.0f}x")
    print(f"ratio fit + {rounds} bootstrap fits: naive (est. {rounds + 1} x one fit = "
          f"{(rounds + 1) * naive_s:,.0f} s) / ours = "
          f"{(rounds + 1) * naive_s / seconds[boot_label]:,.0f}x")
    raw = path.read_bytes()
    parsed = timed("parse only: stdlib json.loads", lambda: json.loads(raw), log)
    del parsed
    gc.collect()
    timed("parse only: orjson.loads", lambda: orjson.loads(raw), log)
    print(f"ratio parse: stdlib json / orjson = {log[-2][1] / log[-1][1]:.1f}x")


if __name__ == "__main__":
    main()
