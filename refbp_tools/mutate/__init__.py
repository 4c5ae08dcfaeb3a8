"""``refbp mutate``: plant each catalogued backprop bug and check that the suite kills it.

For each mutation (``refbp_tools.mutate.catalogue.CATALOGUE``) the project's sources
(refbp/, oracle/, refbp_tools/, tests/, pyproject.toml) are copied to a temporary directory,
the patch is applied there, and the fast suite runs in a subprocess whose PYTHONPATH and
working directory are the copy, so that the mutated refbp is the one imported (checked once
per run by a smoke import). The Hypothesis profile is ``ci`` (derandomized) without
shrinking, and the JAX compilation cache is the main checkout's, so compiles are shared
between mutants.

Before the mutants, the same suite runs once on an unmutated copy: a test that already fails
there cannot kill anything and is deselected for the mutants (and named in the report).

The report (mutation.md and .json) goes under ``--reports`` (default ``.refbp/`` in the
current directory, which git ignores, so a run leaves the checkout clean);
``--reports reports`` regenerates the project's committed reference.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from refbp_tools import argtypes
from refbp_tools.paths import unwritable

# Cheapest first: pure-NumPy contract tests, then the per-function oracle comparisons, then
# whole networks.  ``-x`` stops at the first failure, so the order is the speed.
SUITE = (
    "tests/test_finite_differences.py",
    "tests/test_losses.py",
    "tests/test_activations.py",
    "tests/test_accuracy_vs_exact.py",
    "tests/test_purity.py",
    "tests/differential/test_functions.py",
    "tests/differential/test_dense_layer.py",
    "tests/test_network.py",
    "tests/test_train.py",
    "tests/test_stability.py",
    "tests/differential/test_properties.py",
    "tests/differential/test_training.py",
    "tests/differential/test_networks.py",
)
# A pytest plugin written into each copy (never into the project): the ``mutate`` Hypothesis
# profile is ``ci`` without the shrink phase.  Whether a mutant is killed does not depend on
# shrinking, which is where a failing property spends most of its time.
_PLUGIN_NAME = "_refbp_mutate_profile"
_PLUGIN = """
from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "mutate",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""
_COPIED = ("refbp", "oracle", "refbp_tools", "tests", "pyproject.toml")
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?)(?: - .*)?$", re.MULTILINE)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--only", nargs="+", metavar="NAME", default=None, help="run only these mutations"
    )
    p.add_argument(
        "--jobs", type=argtypes.positive, default=2, help="mutants run in parallel (default 2)"
    )
    p.add_argument(
        "--timeout",
        type=argtypes.seconds,
        default=300.0,
        help="seconds per mutant before it counts as killed (default 300)",
    )
    p.add_argument("--root", type=Path, default=None, help="project checkout (default: this one)")
    p.add_argument(
        "--reports",
        type=Path,
        default=Path(".refbp"),
        metavar="DIR",
        help="where mutation.md and .json go (default: .refbp, in the current directory; "
        "`--reports reports` regenerates the project's reference report)",
    )
    p.add_argument("--list", action="store_true", help="list the catalogue and exit")
    p.add_argument(
        "--deselect", nargs="+", metavar="TEST_ID", default=[], help="test ids not to run"
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the run of the unmutated suite")


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def _copy_project(root: Path, dest: Path) -> None:
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".jax_cache")
    for name in _COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    (dest / f"{_PLUGIN_NAME}.py").write_text(_PLUGIN, encoding="utf-8")


def _env(copy: Path, root: Path) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["HYPOTHESIS_PROFILE"] = "mutate"
    # one BLAS thread per mutant: --jobs processes share the cores without oversubscribing
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    env["REFBP_JAX_CACHE"] = str(root / ".jax_cache")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("REFBP_VERIFY_LOG", None)
    return env


def _suite(copy: Path, deselect: list[str]) -> list[str]:
    import sys

    paths = [p for p in SUITE if (copy / p).exists()]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", _PLUGIN_NAME]
    cmd += ["-x", *paths]
    for test_id in deselect:
        cmd += ["--deselect", test_id]
    return cmd


def _run_copy(
    root: Path,
    mutation: Any,
    timeout: float,
    deselect: list[str],
    stop_first: bool = True,
    *,
    sources: Path | None = None,
) -> tuple[int | None, str, float]:
    """(returncode or None on timeout, pytest output, seconds) for one (mutated) copy of
    ``sources`` (default ``root``); the JAX cache is ``root``'s."""
    import subprocess
    import tempfile

    from refbp_tools.mutate.catalogue import apply_mutation

    with tempfile.TemporaryDirectory(prefix="refbp-mutant-") as tmp:
        copy = Path(tmp)
        _copy_project(sources or root, copy)
        if mutation is not None:
            apply_mutation(mutation, copy)
        cmd = _suite(copy, deselect)
        if not stop_first:
            cmd.remove("-x")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                cwd=copy,
                env=_env(copy, root),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else ""
            return None, out, time.perf_counter() - t0
        return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


def _smoke(root: Path) -> str:
    """The refbp a copy's subprocess imports: must be the copy's, not the installed one."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="refbp-mutant-") as tmp:
        copy = Path(tmp)
        _copy_project(root, copy)
        out = subprocess.run(
            [sys.executable, "-c", "import refbp, oracle; print(refbp.__file__)"],
            cwd=copy,
            env=_env(copy, root),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not Path(out).resolve().is_relative_to(copy.resolve()):
            raise RuntimeError(f"refbp mutate: the copy imports {out}, not its own refbp")
        return out


def _first_failure(output: str) -> str | None:
    m = _FAILED.search(output)
    return m.group(1) if m else None


def _judge(mutation: Any, code: int | None, output: str, seconds: float) -> Any:
    from refbp_tools.mutate.catalogue import MutationResult

    if code is None:
        return MutationResult(
            mutation.name,
            "timeout",
            "(timeout)",
            seconds,
            mutation.description,
            "the suite did not finish in time; counted as killed",
        )
    if code == 0:
        status = "equivalent" if mutation.equivalent else "survived"
        return MutationResult(
            mutation.name, status, None, seconds, mutation.description, mutation.equivalent or ""
        )
    if code == 1:
        return MutationResult(
            mutation.name, "killed", _first_failure(output), seconds, mutation.description
        )
    tail = " ".join(output.strip().splitlines()[-3:])[:300]
    # pytest exit 2-4: interrupted, internal or usage error (a collection error counts: the
    # mutant broke an import, which the suite reports as an error)
    killed_by = _first_failure(output)
    if killed_by:
        return MutationResult(mutation.name, "killed", killed_by, seconds, mutation.description)
    return MutationResult(
        mutation.name, "error", None, seconds, mutation.description, f"pytest exit {code}: {tail}"
    )


def run(args: argparse.Namespace) -> int:
    import tempfile

    from refbp_tools.mutate.catalogue import CATALOGUE, catalogue_problems

    root: Path = (args.root or _project_root()).resolve()
    if args.list:
        for m in CATALOGUE:
            mark = "  (equivalent)" if m.equivalent else ""
            print(f"{m.name:38s} {m.path:22s} {m.description}{mark}")
        return 0
    if not (root / "refbp").is_dir():
        print(f"refbp mutate: --root {root} holds no refbp/ to mutate", file=sys.stderr)
        return 2
    why = unwritable(args.reports, directory=True)
    if why is not None:
        print(f"refbp mutate: --reports: {why}", file=sys.stderr)
        return 2
    chosen = list(CATALOGUE)
    if args.only:
        unknown = sorted(set(args.only) - {m.name for m in CATALOGUE})
        if unknown:
            print(
                f"refbp mutate: unknown mutation(s) {unknown}; see `refbp mutate --list`",
                file=sys.stderr,
            )
            return 2
        chosen = [m for m in CATALOGUE if m.name in set(args.only)]
    started = time.perf_counter()
    # One snapshot of the sources for the whole run: the baseline and every mutant see the
    # same files, whatever is edited in the checkout meanwhile.
    with tempfile.TemporaryDirectory(prefix="refbp-mutate-sources-") as tmp:
        sources = Path(tmp)
        _copy_project(root, sources)
        problems = catalogue_problems(sources)
        if problems:
            print(
                "refbp mutate: the catalogue does not apply to the current sources:",
                file=sys.stderr,
            )
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 2
        print(f"refbp mutate: the copies import {_smoke(sources)}")
        baseline = _baseline(args, root, sources)
        if baseline is None:
            return 2
        deselect, baseline_seconds = baseline
        results = _mutants(args, root, sources, chosen, deselect)
    total = time.perf_counter() - started
    return _report(args, results, deselect, baseline_seconds, total)


def _baseline(
    args: argparse.Namespace, root: Path, sources: Path
) -> tuple[list[str], float] | None:
    """(tests to deselect, seconds) from the unmutated suite; None if it cannot run."""
    deselect: list[str] = list(args.deselect)
    if args.no_baseline:
        return deselect, 0.0
    code, out, seconds = _run_copy(
        root, None, args.timeout * 2, [], stop_first=False, sources=sources
    )
    if code is None:
        print("refbp mutate: the unmutated suite timed out", file=sys.stderr)
        return None
    deselect = sorted(set(deselect) | set(_FAILED.findall(out)))
    print(
        f"refbp mutate: unmutated suite {seconds:.1f} s, "
        + (f"{len(deselect)} already failing (deselected): {deselect}" if deselect else "green")
    )
    if code not in (0, 1):
        print(out[-2000:])
        return None
    return deselect, seconds


def _mutants(
    args: argparse.Namespace, root: Path, sources: Path, chosen: list[Any], deselect: list[str]
) -> list[Any]:
    """Every chosen mutant's verdict, ``--jobs`` at a time, printed as each is reached."""
    from concurrent.futures import ThreadPoolExecutor

    from refbp_tools.mutate.catalogue import MutationResult

    def one(m: Any) -> MutationResult:
        code, out, secs = _run_copy(root, m, args.timeout, deselect, sources=sources)
        r: MutationResult = _judge(m, code, out, secs)
        print(f"  {r.status:10s} {r.seconds:6.1f} s  {m.name}  {r.killed_by or ''}", flush=True)
        return r

    jobs = max(1, int(args.jobs))
    print(f"refbp mutate: {len(chosen)} mutants, {jobs} at a time")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, chosen))


def _report(
    args: argparse.Namespace,
    results: list[Any],
    deselect: list[str],
    baseline_seconds: float,
    total: float,
) -> int:
    """Write the reports; exit 1 if a mutant survived or could not run, else 0."""
    from refbp_tools.mutate.catalogue import write_reports

    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    by_test: dict[str, int] = {}
    for r in results:
        if r.killed_by:
            key = r.killed_by.split("[")[0]
            by_test[key] = by_test.get(key, 0) + 1
    meta: dict[str, object] = {
        "mutants": len(results),
        "counts": counts,
        "total seconds (wall, incl. baseline)": round(total, 1),
        "baseline seconds": round(baseline_seconds, 1),
        "jobs": max(1, int(args.jobs)),
        "suite": " ".join(SUITE) + " (pytest -x; Hypothesis profile ci without shrinking)",
        "deselected (already failing unmutated)": deselect or "none",
        "kills by test": dict(sorted(by_test.items(), key=lambda kv: -kv[1])),
    }
    if args.only:
        meta["only"] = list(args.only)
    reports: Path = args.reports
    write_reports(results, reports / "mutation.md", reports / "mutation.json", meta)
    print(f"refbp mutate: {counts} in {total:.1f} s; wrote {reports / 'mutation.md'}")
    bad = [r.name for r in results if r.status in ("survived", "error")]
    if bad:
        print(f"refbp mutate: not killed: {bad}")
        return 1
    return 0
