"""Throughput of the oracle on random network structures.

    python -m oracle._bench --n 5000                      # fast oracle, cold process
    python -m oracle._bench --n 5000 --cache .jax_cache   # run twice: 2nd run is warm
    python -m oracle._bench --mode plain --n 30           # the per-shape-jitted plain oracle
    python -m oracle._bench --widths 8,64 --batches 8,64  # other bucket sets

Structures are drawn like the property suite draws them: depth 1-6, every width
1-64, batch 1-64, activations and loss uniformly from the registries (or skewed
to small sizes with ``--dist small``).  Only the oracle call is timed; drawing
the random case is reported separately.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

import oracle
from oracle import fast
from oracle._checks import F64
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES
from oracle.network import backprop

Case = tuple[list[F64], list[F64], list[str], str, F64, F64]


def random_case(rng: np.random.Generator, dist: str = "uniform", max_width: int = 64) -> Case:
    """One network and batch: ``(weights, biases, activations, loss, X, Y)``."""

    def size(hi: int) -> int:
        if dist == "small":  # geometric-ish: many tiny sizes, a few large ones
            return int(min(hi, 1 + rng.geometric(0.25)))
        return int(rng.integers(1, hi + 1))

    depth = int(rng.integers(1, fast.MAX_DEPTH + 1))
    widths = [size(max_width) for _ in range(depth + 1)]
    B = size(64)
    acts = [str(a) for a in rng.choice(ACTIVATION_NAMES, size=depth)]
    loss = str(rng.choice(LOSS_NAMES))
    if loss == "binary_cross_entropy":
        acts[-1] = str(rng.choice(["sigmoid", "softmax"]))
    ws = [rng.normal(size=(widths[i], widths[i + 1])) / np.sqrt(widths[i]) for i in range(depth)]
    bs = [0.1 * rng.normal(size=widths[i + 1]) for i in range(depth)]
    X = rng.normal(size=(B, widths[0]))
    n_out = widths[-1]
    if loss == "softmax_cross_entropy":
        Y = rng.dirichlet(np.ones(n_out), size=B)
    elif loss in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        Y = rng.uniform(size=(B, n_out))
    else:
        Y = rng.normal(size=(B, n_out))
    return ws, bs, acts, loss, X, Y


def run(n: int, mode: str, dist: str, seed: int, time_limit: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    fn = fast.backprop_fast if mode == "fast" else backprop
    t_oracle = t_draw = 0.0
    start = time.perf_counter()
    before = oracle.compile_stats()
    done = 0
    for _ in range(n):
        t0 = time.perf_counter()
        case = random_case(rng, dist)
        t1 = time.perf_counter()
        fn(*case)
        t2 = time.perf_counter()
        t_draw += t1 - t0
        t_oracle += t2 - t1
        done += 1
        if t2 - start > time_limit:
            break
    after = oracle.compile_stats()
    return {
        "mode": mode,
        "dist": dist,
        "networks": done,
        "oracle_seconds": round(t_oracle, 3),
        "draw_seconds": round(t_draw, 3),
        "networks_per_second": round(done / t_oracle, 1),
        "compiles": after.compiles - before.compiles,
        "cache_hits": after.cache_hits - before.cache_hits,
        "compile_seconds": round(after.seconds - before.seconds, 3),
        "width_buckets": list(fast.WIDTH_BUCKETS),
        "batch_buckets": list(fast.BATCH_BUCKETS),
    }


def latency(depth: int, width: int, batch: int, repeat: int = 300) -> float:
    """Median seconds per ``backprop_fast`` call (after warm-up) for one fixed structure."""
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=(width, width)) / np.sqrt(width) for _ in range(depth)]
    bs = [np.zeros(width) for _ in range(depth)]
    acts = ["tanh"] * depth
    X, Y = rng.normal(size=(batch, width)), rng.normal(size=(batch, width))
    fast.backprop_fast(ws, bs, acts, "mse", X, Y)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fast.backprop_fast(ws, bs, acts, "mse", X, Y)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--mode", choices=("fast", "plain"), default="fast")
    p.add_argument("--dist", choices=("uniform", "small"), default="uniform")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--cache", default=None, help="persistent compilation cache directory")
    p.add_argument("--widths", default=None, help="width buckets, e.g. 8,64")
    p.add_argument("--batches", default=None, help="batch buckets, e.g. 8,64")
    p.add_argument("--latency", action="store_true", help="also time small and large networks")
    args = p.parse_args(argv)
    if args.cache:
        fast.enable_persistent_cache(args.cache)
    fast.set_buckets(
        widths=[int(v) for v in args.widths.split(",")] if args.widths else None,
        batches=[int(v) for v in args.batches.split(",")] if args.batches else None,
    )
    t0 = time.perf_counter()
    out = run(args.n, args.mode, args.dist, args.seed, args.time_limit)
    out["wall_seconds"] = round(time.perf_counter() - t0, 3)
    if args.latency:
        out["latency_ms"] = {
            f"depth{d}_width{w}_batch{b}": round(latency(d, w, b) * 1e3, 3)
            for d, w, b in ((1, 2, 1), (2, 8, 8), (3, 32, 32), (6, 64, 64))
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
