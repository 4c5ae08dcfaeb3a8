"""``refbp verify``: check a backprop implementation (refbp by default) against the oracle.

Runs the verification engine (``oracle.engine``) in this process on the target, prints
one line per property, the activation × loss × dtype table and every failure report, and
writes ``verification.md`` and ``verification.json`` under ``--out`` (default ``.refbp/``
in the current directory, which the repository ignores: a run leaves the checkout clean;
the committed reference report is regenerated with ``--out reports``).

Exit status: 0 when everything agrees, 1 on a disagreement, 2 when the target cannot be
used or the command line is wrong.  A run that ends with status 2 writes no report, and a
report is replaced only by a completed run's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from refbp_tools import argtypes
from refbp_tools.paths import unwritable

__all__ = ["add_arguments", "run"]


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


_positive = argtypes.positive
_count = argtypes.count


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        default="refbp:MLP",
        metavar="MODULE:ATTR",
        help="the make(*, weights, biases, activations, loss) to check, imported with the "
        "current directory on sys.path (default: refbp:MLP)",
    )
    p.add_argument("--activations", type=_names, metavar="A,B", help="hidden activations to use")
    p.add_argument(
        "--output-activations", type=_names, metavar="A,B", help="output activations to use"
    )
    p.add_argument("--losses", type=_names, metavar="L,M", help="losses to use")
    p.add_argument("--dtypes", type=_names, metavar="float32,float64", help="dtypes to use")
    p.add_argument(
        "--max-examples",
        type=_positive,
        metavar="N",
        help="Hypothesis examples per whole-network property (default: the profile's)",
    )
    p.add_argument(
        "--profile",
        default="quick",
        choices=["quick", "ci", "thorough"],
        help="quick: 100 examples a property, random; ci: the same, derandomized; "
        "thorough: 1000 (default: quick)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the JSON summary here")
    p.add_argument(
        "--expect-failures",
        type=Path,
        metavar="FILE",
        help="known deviations, one per line (e.g. kink_convention:leaky_relu)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(".refbp"),
        metavar="DIR",
        help="where verification.md and .json go (default: .refbp)",
    )
    p.add_argument(
        "--accuracy", type=_count, default=0, metavar="N",
        help="also measure digits kept against exact arithmetic, the target beside JAX (and "
        "PyTorch if installed), N random small cases per activation × loss × dtype cell "
        "(default: 0, off)",
    )  # fmt: skip
    p.add_argument(
        "--jobs", type=_positive, default=None, metavar="N",
        help="worker processes that run the properties (default: the CPUs this process may "
        f"use, at most {MAX_AUTO_JOBS}; 1 below {PARALLEL_FROM} examples a property, where "
        "starting them costs more than they save)",
    )  # fmt: skip
    p.add_argument(
        "--no-exact",
        action="store_true",
        help="skip the exact-arithmetic property (it needs mpmath); a small case the target "
        "and JAX disagree on is still arbitrated in exact arithmetic where mpmath is installed",
    )


#: the most worker processes --jobs chooses by itself
MAX_AUTO_JOBS = 4
#: below this many examples a property, one process: spawning workers (~3 s each to import
#: JAX and the engine) costs more than they save
PARALLEL_FROM = 50


def default_jobs(examples: int) -> int:
    """Worker processes for a run of ``examples`` Hypothesis examples a property."""
    if examples < PARALLEL_FROM:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_AUTO_JOBS))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "activations": args.activations,
        "output_activations": args.output_activations,
        "losses": args.losses,
        "dtypes": args.dtypes,
    }


def _write(path: Path, text: str) -> None:
    """Replace ``path`` only once the new text is complete on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _unknown_names(args: argparse.Namespace) -> str | None:
    """The first name list of the command line that names something the registries lack."""
    from oracle.engine.protocol import valid_names

    for flag, names, key in (
        ("--activations", args.activations, "activations"),
        ("--output-activations", args.output_activations, "output_activations"),
        ("--losses", args.losses, "losses"),
        ("--dtypes", args.dtypes, "dtypes"),
    ):
        valid = valid_names(key)
        bad = [n for n in names or () if n not in valid]
        if bad:
            return f"{flag}: unknown name(s) {bad}; valid are {list(valid)}"
    return None


def _usage(message: str) -> int:
    print(f"refbp verify: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        from oracle.engine import ProtocolError, Target, load_target, read_expectations, verify
        from oracle.engine.profiles import PROFILES, cache_dir
        from oracle.fast import enable_persistent_cache
    except ImportError as exc:
        return _usage(f"needs the verify extra ({exc}): pip install 'refbp[verify]'")
    # Hypothesis keeps a working directory of its own (.hypothesis/ in the current
    # directory by default): put it with the engine's cache, so a run leaves no trace here.
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_dir() / "hypothesis-home"))
    from refbp_tools.verify.markdown import markdown
    from refbp_tools.verify.table import render_table

    for flag, path, directory in (("--out", args.out, True), ("--json", args.json, False)):
        why = None if path is None else unwritable(path, directory=directory)
        if why is not None:
            return _usage(f"{flag}: {why}")
    unknown = _unknown_names(args)
    if unknown is not None:
        return _usage(unknown)
    report = args.out / "verification.md"
    if args.json is not None and args.json.resolve() == report.resolve():
        return _usage(f"--json {args.json} is the Markdown report's own path; name another file")
    try:
        expectations = read_expectations(args.expect_failures) if args.expect_failures else []
        make, spec = load_target(args.target)
        target = Target.of(make, spec, _overrides(args))
    except (ValueError, ProtocolError) as exc:
        return _usage(str(exc))
    enable_persistent_cache(cache_dir() / "jax")
    print(f"verifying {target.name} (profile {args.profile})", flush=True)

    def progress(label: str, done: int, total: int, failed: bool) -> None:
        print(f"  [{done}/{total}] {label}: {'DISAGREES' if failed else 'ok'}", flush=True)

    try:
        examples = args.max_examples or PROFILES[args.profile].max_examples
        summary = verify(
            target,
            profile_name=args.profile,
            max_examples=args.max_examples,
            expectations=expectations,
            progress=progress,
            exact=not args.no_exact,
            jobs=args.jobs or default_jobs(examples),
        )
    except ProtocolError as exc:
        return _usage(f"the target cannot be used: {exc}")
    if summary.compared == 0 and not summary.failures:  # failures are a verdict: reported
        return _usage(
            f"the target declined every case ({summary.unsupported} unsupported): nothing "
            "was checked; narrow --activations/--losses/--dtypes to what it supports"
        )
    width = shutil.get_terminal_size((100, 24)).columns
    print()
    print(render_table(summary, width))
    if summary.failures or summary.unmatched:
        print()
        print(summary.failure_text())
    meta = {"profile": args.profile}
    data = {**summary.to_json(), "profile": args.profile}
    text = markdown(summary, meta)
    if args.accuracy > 0:
        from refbp_tools.verify.accuracy import digits_kept

        section, worst = digits_kept(target, args.accuracy)
        text += "\n" + section
        data["digits_kept_worst"] = worst
    try:
        _write(report, text)
        _write(args.out / "verification.json", json.dumps(data, indent=2) + "\n")
        if args.json is not None:
            _write(args.json, json.dumps(data, indent=2) + "\n")
    except OSError as exc:  # the disk filled, or the place changed during the run
        return _usage(f"cannot write the reports: {exc}")
    rate = summary.network_examples / summary.seconds if summary.seconds > 0 else 0.0
    print(
        f"\n{summary.network_examples} networks ({summary.examples} cases) in "
        f"{summary.seconds:.1f} s = {rate:.0f} networks/s; {summary.unsupported} unsupported; "
        f"{len(summary.failures)} failures; report: {report}"
    )
    if summary.failures:
        found = Counter(f.diagnosis or "no classic mistake" for f in summary.failures)
        print("diagnoses: " + ", ".join(f"{d} × {n}" for d, n in found.most_common()))
    if summary.examples == 0 and summary.failures:
        print(
            f"no case went through: the target failed on the first case of each of the "
            f"{len(summary.failures)} properties it ran (the failures above say how)"
        )
    return summary.exit_code()
