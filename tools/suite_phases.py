"""Where the suite's time goes while it runs: each phase of a verified network, timed inside
a real ``verify`` of the quick profile.

    python tools/suite_phases.py [--profile quick] [--target MODULE:ATTR]

Wraps, for the length of one run, the engine's calls that make up a network's check: the
oracle's dispatch (validation, packing, handing the work to XLA), the target's run (make +
backprop + reading its result), the judging (the tolerance model), the wait for the
oracle's result (XLA computes meanwhile on its own threads), and the sensitivity runs.
Prints each phase's total, calls and time a call, beside the run's wall clock; what the
phases leave of the wall clock is Hypothesis's drawing and the other properties.  Needs the
verify extra.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import oracle.engine.check as check
import oracle.engine.run as engine_run
import oracle.fast.pool as pool
from oracle.engine import Target, load_target, verify
from oracle.engine.profiles import cache_dir
from oracle.fast import enable_persistent_cache

#: (module or class, attribute, label): the calls timed, main thread first
PHASES: tuple[tuple[Any, str, str], ...] = (
    (engine_run, "dispatch", "oracle dispatch (check, pack, submit)"),
    (check, "_run", "target run (make, backprop, read)"),
    (check, "judge_case", "judging (tolerance model)"),
    (pool.PendingResult, "result", "waiting for the oracle's result"),
    (check, "sensitivity", "sensitivity runs"),
    (pool, "core_jit", "handing the work to XLA (within dispatch)"),
)


def _timed(f: Callable[..., Any], label: str, total: Counter[str], calls: Counter[str]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            total[label] += time.perf_counter() - start
            calls[label] += 1

    return wrapper


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--target", default="refbp:MLP")
    args = p.parse_args()
    enable_persistent_cache(cache_dir() / "jax")
    make, spec = load_target(args.target)
    target = Target.of(make, spec)
    total: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in PHASES]
    for (owner, name, label), (_, _, f) in zip(PHASES, originals, strict=True):
        setattr(owner, name, _timed(f, label, total, calls))
    try:
        start = time.perf_counter()
        summary = verify(target, profile_name=args.profile)
        wall = time.perf_counter() - start
    finally:
        for owner, name, f in originals:
            setattr(owner, name, f)
    networks = summary.network_examples
    rate, each = networks / wall, wall / networks * 1e3
    print(f"{args.profile} profile: {networks} networks in {wall:.1f} s "
          f"({rate:.0f} a second, {each:.2f} ms a network)")  # fmt: skip
    for _, _, label in PHASES:
        if calls[label]:
            print(f"  {label:44s} {total[label]:6.1f} s {calls[label]:7d} calls "
                  f"{total[label] / calls[label] * 1e3:8.3f} ms a call")  # fmt: skip


if __name__ == "__main__":
    main()
