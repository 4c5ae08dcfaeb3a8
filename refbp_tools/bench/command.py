"""``refbp bench`` from arguments to reports: run (or read) the benchmarks, write the
Markdown and the plots, print the targets and the contention, exit with pytest's status
(or 1 on a regression with --compare, 2 on arguments that cannot be used)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from refbp_tools.bench import contention, driver
from refbp_tools.bench.arguments import parse_peers, refusal
from refbp_tools.bench.compare import (
    Change,
    compare_runs,
    previous_of,
    regressions,
    saved_runs,
)
from refbp_tools.bench.formatting import fmt_time
from refbp_tools.bench.markdown import render_markdown
from refbp_tools.bench.model import NotABenchRun, Results, load_results
from refbp_tools.bench.plots import write_plots
from refbp_tools.bench.targets import check_targets


def report_names(quick: bool) -> tuple[str, str]:
    """(markdown file name, plot prefix): a quick run never replaces a full run's report."""
    return ("bench-quick.md", "bench-quick") if quick else ("bench.md", "bench")


def write_reports(
    res: Results,
    out: Path,
    compare: bool,
    threshold: float,
    plots: bool = True,
    stat: str = "min",
) -> tuple[Path, list[Path], list[Change]]:
    """Write the markdown and the plots for ``res``; with ``compare``, against the run before.

    The saved runs next to ``res``'s JSON give the run-to-run spread.  Returns the markdown
    path, the plot paths and the flagged regressions.
    """
    md_name, prefix = report_names(res.quick)
    out.mkdir(parents=True, exist_ok=True)
    pngs = write_plots(res, out, prefix) if plots else []
    bench_dir = res.path.parent if res.path is not None else out / "bench"
    changes: list[Change] | None = None
    prev_path: Path | None = None
    history = saved_runs(bench_dir, res.quick)  # read once: the spread and --compare
    if compare:
        prev = previous_of(history, res.path, res.datetime)
        prev_path = prev.path if prev is not None else None
        changes = compare_runs(prev, res, stat) if prev is not None else []
    md = render_markdown(res, changes, prev_path, threshold, [str(p) for p in pngs], stat, history)
    md_path = out / md_name
    md_path.write_text(md)
    return md_path, pngs, regressions(changes or [], threshold)


def _benchmark(args: argparse.Namespace, bench_dir: Path) -> tuple[Path | None, int]:
    """Run the benchmark modules; (the JSON written, or None; pytest's status)."""
    root = driver.project_root()
    if root is None:
        print(
            "refbp bench: the benchmark modules (tests/bench) were not found next to the "
            "refbp package; run it from a source checkout (pip install -e '.[bench]')"
        )
        return None, 2
    note: dict[str, object] = {}
    if args.wait_idle > 0:
        start = time.monotonic()
        idle = contention.wait_idle(args.wait_idle)
        note = {
            "wait_idle": args.wait_idle,
            "waited_before": round(time.monotonic() - start, 1),
            "stayed_busy": not idle,
        }
        if not idle:
            print(
                f"refbp bench: the machine stayed busy for {args.wait_idle:.0f} s; running anyway"
            )
    bench_dir.mkdir(parents=True, exist_ok=True)
    json_file = driver.json_path(bench_dir, args.quick).resolve()
    settings = driver.Settings(
        quick=args.quick, peers=parse_peers(str(args.peers)), wait_each=args.wait_each,
        threads=args.threads, retries=args.retries, retry_wait=args.retry_wait,
        retry_budget=args.retry_budget, malloc=args.malloc, passes=args.passes, note=note,
    )  # fmt: skip
    start = time.perf_counter()
    code = driver.run_benchmarks(root, json_file, settings, json_file.with_suffix(".log"))
    print(f"refbp bench: ran in {time.perf_counter() - start:.0f} s")
    if not json_file.exists():
        print("refbp bench: pytest wrote no benchmark JSON; see the log", file=sys.stderr)
        return None, code or 1
    return json_file, code


def _print_summary(res: Results) -> None:
    for check in check_targets(res):
        state = {True: "met", False: "NOT met", None: "n/a"}[check.met]
        print(f"  {check.name}: {state} (worst {check.worst})")
    rows = res.rows()
    busy = sum(1 for r in rows if r.contended())
    if busy:
        print(
            f"  note: {busy} of {len(rows)} rows were timed while other processes used more "
            f"than {contention.BUSY_LIMIT:.0%} of the CPUs (marked † in the report and ringed "
            "in the plots); rerun on an idle machine (--wait-idle) for numbers about the code"
        )


def run(args: argparse.Namespace) -> int:
    why = refusal(args)
    if why is not None:
        print(f"refbp bench: {why}", file=sys.stderr)
        return 2
    code = 0
    if args.from_json is not None:
        json_file: Path | None = args.from_json
        if not args.from_json.exists():
            print(f"refbp bench: no such file {args.from_json}", file=sys.stderr)
            return 2
    else:
        json_file, code = _benchmark(args, args.out / "bench")
    if json_file is None:
        return code
    try:
        res = load_results(json_file)
    except NotABenchRun as exc:  # nothing to report: the reports there stay as they are
        if args.from_json is not None:
            print(f"refbp bench: --from-json {json_file}: {exc}", file=sys.stderr)
            return 2
        print(f"refbp bench: {json_file} {exc}; no report written (see the log)", file=sys.stderr)
        return code or 1
    md_path, plots, flagged = write_reports(
        res, args.out, args.compare, args.threshold, not args.no_plots, args.compare_stat
    )
    print(f"refbp bench: wrote {json_file}, {md_path}" + "".join(f", {p}" for p in plots))
    _print_summary(res)
    if args.compare:
        for c in flagged:
            print(
                f"  regression: {c.name} {fmt_time(c.previous)} -> {fmt_time(c.now)} "
                f"({c.change:+.0%})"
            )
        if flagged:
            return 1
    return code
