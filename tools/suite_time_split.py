"""Where a verified network's time goes: the oracle alone, the target alone, and both overlapped.

    python tools/suite_time_split.py [NETWORKS] [--target MODULE:ATTR]

Records the networks the quick profile's agreement properties draw (a short run, so the
JAX executables are compiled and cached first), then times, per network, on those same
networks: the JAX oracle alone (every case dispatched, then every result awaited), the
target alone (make + backprop), and the two overlapped as the engine runs them (dispatch,
target, wait).  Each figure is the best of three rounds.  The oracle's figure is the floor
of the suite's throughput on 2 cores: it runs on XLA's threads while the target and the
judging share the other.  Needs the verify extra.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import oracle.engine.run as engine_run
from oracle.engine import Target, load_target, verify
from oracle.engine.cases import Case
from oracle.engine.profiles import cache_dir
from oracle.engine.reference import dispatch
from oracle.engine.run import GROUP, plan
from oracle.fast import enable_persistent_cache


def _record(target: Target, networks: int) -> list[Case]:
    seen: list[Case] = []
    original = engine_run.dispatch

    def recording(case: Case) -> Any:
        seen.append(case)
        return original(case)

    engine_run.dispatch = recording
    try:
        agreement = [label for label, _, _ in plan(target, False) if label.startswith("agreement/")]
        per_property = max(1, networks // (GROUP * len(agreement)))
        verify(target, profile_name="quick", only=["agreement"], max_examples=per_property)
    finally:
        engine_run.dispatch = original
    return seen[:networks]


def _best(run: Callable[[], None], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("networks", nargs="?", type=int, default=1500)
    p.add_argument("--target", default="refbp:MLP")
    args = p.parse_args()
    enable_persistent_cache(cache_dir() / "jax")
    make, spec = load_target(args.target)
    target = Target.of(make, spec)
    cases = _record(target, args.networks)

    def run_target(c: Case) -> None:
        s = c.structure
        net = make(
            weights=[np.array(w) for w in c.weights],
            biases=[np.array(b) for b in c.biases],
            activations=list(s.activations),
            loss=s.loss,
        )
        net.backprop(np.array(c.X), np.array(c.Y))

    def target_alone() -> None:
        for c in cases:
            run_target(c)

    def oracle_alone() -> None:
        pending = [dispatch(c) for c in cases]
        for q in pending:
            q.result()

    def overlapped() -> None:
        for i in range(0, len(cases), GROUP):
            group = cases[i : i + GROUP]
            pending = [dispatch(c) for c in group]
            for c, q in zip(group, pending, strict=True):
                run_target(c)
                q.result()

    n = len(cases)
    widest = np.array([max(c.structure.sizes) for c in cases])
    wide = float(np.mean(widest > 32))
    print(f"{n} networks of the quick profile; {wide:.0%} have a layer wider than 32")
    for label, run in (
        ("oracle alone", oracle_alone),
        ("target alone", target_alone),
        ("overlapped, groups of 8", overlapped),
    ):
        print(f"  {label:24s} {_best(run) / n * 1e3:.3f} ms a network")


if __name__ == "__main__":
    main()
