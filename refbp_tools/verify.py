"""``refbp verify``: run the differential suite against the JAX oracle and report.

Runs ``tests/differential`` and ``tests/test_oracle.py`` from the source checkout under the
chosen Hypothesis profile, with a progress bar; then prints a table of activation × loss ×
dtype (examples checked, worst relative error of each quantity) and writes it to
``reports/verification.md``; ``--json PATH`` writes a summary with ``examples``,
``seconds``, ``compiles`` and ``failures``.  Exit status 1 on any disagreement, and also
if any cell of the table has no examples.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC
from pathlib import Path
from typing import Any

from refbp_tools.progress import Progress

QUANTITIES = ("loss", "delta", "grad_W", "grad_b", "grad_X")
SUITE = ("tests/differential", "tests/test_oracle.py")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        default="quick",
        choices=["quick", "ci", "thorough"],
        help="Hypothesis profile (default: quick)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write a JSON summary here")
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help="Markdown report (default: reports/verification.md in the checkout)",
    )
    p.add_argument("--jobs", default=None, help="pytest-xdist workers, e.g. auto (thorough)")
    p.add_argument(
        "--pytest-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="extra arguments passed to pytest",
    )


def checkout_root() -> Path:
    import refbp

    root = Path(refbp.__file__).resolve().parent.parent
    if not (root / "tests" / "differential").is_dir():
        raise SystemExit(
            f"refbp verify runs the test suite of a source checkout, and {root} has no "
            "tests/differential: clone the repository and `pip install -e '.[verify]'` there"
        )
    return root


def _cells() -> list[tuple[str, str, str]]:
    import refbp

    return [
        (a, loss, dt)
        for a in sorted(refbp.ACTIVATIONS)
        for loss in sorted(refbp.LOSSES)
        for dt in ("float32", "float64")
    ]


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold the per-example rows into table cells and totals."""
    cells: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"examples": 0, "worst": dict.fromkeys(QUANTITIES, 0.0), "ratio": 0.0}
    )
    counts: dict[str, int] = defaultdict(int)
    compiles = cache_hits = network_test_examples = 0
    sessions: list[dict[str, Any]] = []  # one compile record per pytest process
    compile_seconds = 0.0
    worst_ratio = 0.0
    for row in rows:
        kind = row["kind"]
        if kind == "_compiles":
            sessions.append(row)
            compiles += int(row["compiles"])
            cache_hits += int(row["cache_hits"])
            compile_seconds += float(row["seconds"])
            continue
        counts[kind] += 1
        worst_ratio = max(worst_ratio, float(row["ratio"]))
        if kind == "network" and row.get("source") == "test_networks":
            network_test_examples += 1
        if kind != "network":
            continue
        for act in row["activations"]:
            cell = cells[(act, row["loss"], row["dtype"])]
            cell["examples"] += 1
            cell["ratio"] = max(cell["ratio"], row["ratio"])
            for q, err in row["errors"].items():
                cell["worst"][q] = max(cell["worst"][q], err)
    return {
        "cells": cells,
        "counts": dict(counts),
        "compiles": compiles,
        "cache_hits": cache_hits,
        "compile_seconds": compile_seconds,
        "worst_ratio": worst_ratio,
        "network_test_examples": network_test_examples,
        "sessions": sessions,
    }


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def markdown(summary: dict[str, Any], agg: dict[str, Any]) -> str:
    lines = [
        "# refbp verification",
        "",
        f"Profile `{summary['profile']}`, {summary['date']}, on `{summary['host']}`: "
        f"**{summary['network_examples']} whole networks** and {summary['examples']} examples "
        f"in all verified in {summary['seconds']:.1f} s "
        f"({summary['networks_per_second']:.0f} networks/s over the whole run, "
        f"{summary['networks_per_second_sustained']:.0f}/s sustained inside the whole-network "
        f"property tests); "
        f"{summary['compiles']} XLA compiles, {summary['cache_hits']} persistent-cache hits; "
        f"{len(summary['failures'])} failures.",
        "",
        "Each network row counts once in the cell of every activation it uses.  Errors are "
        "normwise relative errors of refbp against the float64 JAX oracle, worst over the "
        "cell; *bound used* is the worst error as a share of the tolerance model's bound "
        "(tests/agreement.py).  The examples per kind: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items()))
        + ".",
        "",
        "| activation | loss | dtype | examples | loss | δ | ∂C/∂W | ∂C/∂b | ∂C/∂X | bound used |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in _cells():
        c = agg["cells"].get(key)
        if c is None:
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | **0** | | | | | | |")
            continue
        w = c["worst"]
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {c['examples']} | "
            + " | ".join(_fmt(w[q]) for q in QUANTITIES)
            + f" | {c['ratio']:.2f} |"
        )
    if summary["failures"]:
        lines += ["", "## Failures", ""] + [f"- `{f}`" for f in summary["failures"]]
    return "\n".join(lines) + "\n"


def _print_table(agg: dict[str, Any]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for key in _cells():
            c = agg["cells"].get(key, {"examples": 0, "worst": dict.fromkeys(QUANTITIES, 0.0)})
            errs = " ".join(f"{q}={_fmt(c['worst'][q])}" for q in QUANTITIES)
            print(f"{key[0]:>10} {key[1]:>22} {key[2]:>7} {c['examples']:>6} {errs}")
        return
    table = Table(title="refbp vs the JAX oracle: worst relative error per cell")
    # by position: the names are left-aligned, the numbers right-aligned (the loss *name*
    # column and the loss *error* column share a header, so the header cannot decide)
    for i, col in enumerate(("activation", "loss", "dtype", "examples", *QUANTITIES, "bound used")):
        table.add_column(col, justify="left" if i < 2 else "right")
    for key in _cells():
        c = agg["cells"].get(key)
        if c is None:
            table.add_row(*key, "[red]0[/red]", *([""] * 6))
            continue
        table.add_row(
            *key,
            str(c["examples"]),
            *(_fmt(c["worst"][q]) for q in QUANTITIES),
            f"{c['ratio']:.2f}",
        )
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    import platform
    from datetime import datetime

    root = checkout_root()
    log = Path(tempfile.mkstemp(prefix="refbp-verify-", suffix=".jsonl")[1])
    log.unlink()
    env = dict(os.environ)
    env["HYPOTHESIS_PROFILE"] = args.profile
    env["REFBP_VERIFY_LOG"] = str(log)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *SUITE,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "refbp_tools._verify_plugin",
        "--tb=short",
        # slow checks (the plain oracle, one compile per random shape, ...) belong to the
        # thorough profile only
        "-m",
        "not bench" if args.profile == "thorough" else "not bench and not slow",
    ]
    if args.jobs:
        cmd += ["-n", str(args.jobs)]
    cmd += list(args.pytest_args)
    start = time.perf_counter()
    failures: list[str] = []
    output: list[str] = []
    network_seconds = 0.0  # time inside the whole-network property tests
    with Progress(f"verify ({args.profile})", total=None) as bar:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            # pytest -q prints progress dots without a newline, so the marker may be mid-line
            at = line.find("@@refbp-verify")
            if at >= 0:
                if at > 0:
                    output.append(line[:at] + "\n")
                parts = line[at:].split()
                if parts[1] == "total":
                    bar.total = int(parts[2])
                    if bar._bar is not None:
                        bar._bar.update(bar._task, total=bar.total)  # type: ignore[attr-defined]
                else:
                    if parts[2] == "failed":
                        failures.append(parts[3])
                    if "test_networks.py" in parts[3] and len(parts) > 4:
                        network_seconds += float(parts[4])
                    bar.advance(text=parts[3].split("::")[-1][:50])
            else:
                output.append(line)
        code = proc.wait()
    seconds = time.perf_counter() - start
    rows: list[dict[str, Any]] = []
    for path in sorted(log.parent.glob(log.name + "*")):
        rows += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        path.unlink()
    agg = aggregate(rows)
    empty = [k for k in _cells() if k not in agg["cells"]]
    network_examples = agg["counts"].get("network", 0)
    summary: dict[str, Any] = {
        "profile": args.profile,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "examples": sum(agg["counts"].values()),
        "network_examples": network_examples,
        "counts": agg["counts"],
        "seconds": round(seconds, 2),
        "networks_per_second": network_examples / seconds if seconds > 0 else 0.0,
        # sustained rate: networks checked by test_networks.py over the time spent in it
        # (Hypothesis generation, refbp, the oracle and the comparison all included)
        "network_test_seconds": round(network_seconds, 2),
        "networks_per_second_sustained": (
            agg["network_test_examples"] / network_seconds if network_seconds > 0 else 0.0
        ),
        "compiles": agg["compiles"],
        "cache_hits": agg["cache_hits"],
        "compile_seconds": round(agg["compile_seconds"], 2),
        "compile_sessions": agg["sessions"],
        "worst_bound_ratio": agg["worst_ratio"],
        "failures": failures,
        "empty_cells": ["/".join(k) for k in empty],
        "pytest_exit_code": code,
    }
    if code != 0 and not failures:
        failures.append(f"pytest exited with status {code}")
    if code != 0:
        sys.stdout.write("".join(output[-80:]))
    _print_table(agg)
    report = args.report or root / "reports" / "verification.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(markdown(summary, agg), encoding="utf-8")
    if args.json is not None:
        cells = {
            "/".join(k): {"examples": v["examples"], "worst": v["worst"], "bound_used": v["ratio"]}
            for k, v in agg["cells"].items()
        }
        args.json.write_text(json.dumps({**summary, "cells": cells}, indent=2) + "\n")
    print(
        f"{summary['network_examples']} networks ({summary['examples']} examples) in "
        f"{seconds:.1f} s = {summary['networks_per_second']:.0f} networks/s "
        f"({summary['networks_per_second_sustained']:.0f}/s sustained in the network tests); "
        f"{summary['compiles']} compiles, {summary['cache_hits']} cache hits; "
        f"{len(failures)} failures; report: {report}"
    )
    if empty:
        print(f"cells with no examples: {summary['empty_cells']}")
    return 1 if (failures or code != 0 or empty) else 0
