"""``refbp bench``'s command line: the flags, their defaults, and the refusals."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from refbp_tools.argtypes import positive
from refbp_tools.bench.compare import COMPARE_STATS
from refbp_tools.bench.contention import BUSY_LIMIT, IDLE_LIMIT
from refbp_tools.bench.driver import MALLOC_CHOICES
from refbp_tools.paths import unwritable

KNOWN_PEERS = ("jax", "torch")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: the three smallest networks, the two smallest ladder sizes, fewer "
        "rounds (writes bench-quick.*)",
    )
    p.add_argument(
        "--peers",
        default=",".join(KNOWN_PEERS),
        help="comma-separated peers to time against refbp: jax, torch (a peer that is not "
        "installed is skipped); '' for none (default: %(default)s)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="compare with the previous saved run in <out>/bench/; exit 1 on a regression",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.10,
        help="relative slowdown that --compare flags (default: %(default)s)",
    )
    p.add_argument(
        "--compare-stat",
        choices=COMPARE_STATS,
        default="min",
        help="statistic --compare compares: min, the round least disturbed by the rest of the "
        "machine (the robust choice on a shared machine), or median (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(".refbp"),
        help="where to write the reports; the run's JSON goes to <out>/bench/ (default: "
        "%(default)s, which git ignores, so a run leaves the checkout clean; the project's "
        "reference reports: --out reports)",
    )
    p.add_argument("--no-plots", action="store_true", help="write the markdown and JSON only")
    _add_guard_arguments(p)
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="JSON",
        help="do not run: build the reports from this saved pytest-benchmark JSON",
    )


def _add_guard_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--passes",
        type=positive,
        default=3,
        metavar="N",
        help="time each row's implementations in turn N times (refbp, JAX, PyTorch, refbp, "
        "...), each pass with 1/N of the rounds, and pool each one's rounds: a machine whose "
        "speed drifts while a row is timed then falls on all of them, not on one "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="BLAS and OpenMP threads for every implementation while timing, and the CPUs "
        "the benchmark process is bound to (which is what limits XLA); 0 leaves them as "
        "the libraries choose (default: %(default)s)",
    )
    p.add_argument(
        "--malloc",
        choices=MALLOC_CHOICES,
        default="keep",
        help="keep: the benchmark process keeps the memory it frees (glibc's mmap and trim "
        "thresholds raised through GLIBC_TUNABLES), so a timing does not include faulting "
        "in pages that glibc handed back to the kernel in the call before; system: glibc's "
        "defaults, what a program that imports refbp gets (default: %(default)s)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before the run, wait up to SECONDS for other processes to leave the CPUs idle "
        f"(under {IDLE_LIMIT * 100:.0f}%%), then run anyway (Linux; the wait is recorded in the "
        "JSON) (default: %(default)s)",
    )
    p.add_argument(
        "--wait-each",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each benchmark, wait up to SECONDS for an idle machine (default: %(default)s)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=1,
        choices=(0, 1),
        help="time the benchmarks measured under contention once more and keep the less "
        "contended attempt (default: %(default)s)",
    )
    p.add_argument(
        "--retry-wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="before each retried benchmark, wait up to SECONDS for other processes to use "
        f"under {BUSY_LIMIT * 100:.0f}%% of the CPUs; a benchmark still busy then keeps its "
        "first attempt "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--retry-budget",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="the retry pass stops retrying after SECONDS (default: %(default)s)",
    )


def refusal(args: argparse.Namespace) -> str | None:
    """Why the arguments cannot be used, or None."""
    peers = parse_peers(str(args.peers))
    unknown = sorted(set(peers) - set(KNOWN_PEERS))
    if unknown:
        return f"unknown peer(s) {unknown}; valid are {list(KNOWN_PEERS)}"
    if not 0 < args.threshold < 10:
        return f"--threshold must be in (0, 10), got {args.threshold}"
    if args.threads < 0:
        return f"--threads must be 0 (leave as is) or a positive count, got {args.threads}"
    for flag in ("wait_idle", "wait_each", "retry_wait", "retry_budget"):
        value = getattr(args, flag)
        if not (value >= 0 and math.isfinite(value)):  # negative, nan or forever
            return f"--{flag.replace('_', '-')} must be a finite number ≥ 0 of seconds, got {value}"
    why = unwritable(args.out, directory=True)
    return None if why is None else f"--out: {why}"


def parse_peers(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]
