"""Running the pytest-benchmark modules of ``tests/bench`` in a fresh interpreter: the
command (echoed so that it can be pasted), its environment (threads pinned), progress
from pytest's lines, a retry pass over the contended benchmarks, the JSON left behind."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from refbp_tools.bench.contention import BUSY_LIMIT, merge_retry
from refbp_tools.bench.passes import contended_passes, merge_passes
from refbp_tools.progress import Progress

# pytest-benchmark settings: (min rounds, max seconds per benchmark), shared out over its passes
FULL_ROUNDS = (10, 0.5)
QUICK_ROUNDS = (3, 0.05)
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MALLOC_CHOICES = ("keep", "system")
# glibc hands a freed block of 128 KiB or more back to the kernel (munmap, or trimming the
# top of its heap; its thresholds move with the allocation history) and faults it in again
# page by page on the next call that needs it.  Where a minor fault is dear (about 8 µs
# on the VMs here), a fresh 2 MiB temporary costs more than a float64 exp over it, and a
# timing depends on what was allocated before it.  These settings keep freed memory in
# the process, for every implementation in it alike; other C libraries ignore them.
KEEP_MEMORY = {
    "glibc.malloc.mmap_threshold": "33554432",  # 32 MiB, the most glibc takes
    "glibc.malloc.trim_threshold": "4294967296",
}

_RESULT_LINE = re.compile(r"^(\S+::\S+)\s+(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)")
_COLLECTED = re.compile(r"collected (\d+) items?(?:.* (\d+) selected)?")


@dataclass(frozen=True)
class Settings:
    """How to run: which scale and peers, how to guard against contention."""

    quick: bool = False
    peers: Sequence[str] = ()
    wait_each: float = 0.0  # seconds to wait for an idle machine before each benchmark
    threads: int = 1  # BLAS / OpenMP threads and CPUs bound; 0 leaves them as they are
    retries: int = 1  # passes over the benchmarks timed under contention
    retry_wait: float = 5.0  # seconds to wait for an idle machine before each retry
    retry_budget: float = 300.0  # seconds a retry pass may take
    malloc: str = "keep"  # "keep": freed memory stays in the process; "system": glibc's own
    passes: int = 1  # each row's implementations timed in turn this many times, rounds pooled
    note: dict[str, Any] = field(default_factory=dict)  # added to the JSON's guard record


def project_root() -> Path | None:
    """The checkout that holds refbp and its tests/bench; None for an installed wheel."""
    import refbp

    root = Path(refbp.__file__).resolve().parent.parent
    return root if (root / "tests" / "bench").is_dir() else None


def json_path(bench_dir: Path, quick: bool, when: datetime | None = None) -> Path:
    """``<date>-<host>[-quick].json``, with ``-2``, ``-3``, ... if that name is taken."""
    when = when or datetime.now()
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname().split(".")[0]) or "host"
    stem = f"{when:%Y-%m-%d}-{host}" + ("-quick" if quick else "")
    path = bench_dir / f"{stem}.json"
    n = 2
    while path.exists():
        path = bench_dir / f"{stem}-{n}.json"
        n += 1
    return path


def pytest_command(
    json_out: Path, quick: bool, node_ids: Sequence[str] = (), passes: int = 1
) -> list[str]:
    """The pytest line; each benchmark's rounds and time are shared out over its passes
    (tests/bench/cases.py ``per_pass`` does the same for the step ladder's own setting)."""
    min_rounds, seconds = QUICK_ROUNDS if quick else FULL_ROUNDS
    rounds, max_time = max(1, -(-min_rounds // passes)), f"{seconds / passes:g}"
    return [
        sys.executable,
        "-u",  # unbuffered: the progress display follows pytest line by line
        "-m",
        "pytest",
        *(node_ids or ["tests/bench"]),
        "-m",
        "bench",
        "-v",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        f"--benchmark-json={json_out}",
        f"--benchmark-min-rounds={rounds}",
        f"--benchmark-max-time={max_time}",
        "--benchmark-warmup=off",  # each benchmark warms up its own function first
        "--benchmark-columns=min,median,max,rounds",
    ]


def settle_seconds(threads: int) -> float:
    """The pause before each benchmark (tests/bench/conftest.py): none when every library
    is pinned to ``threads`` ≥ 1, 0.2 s when they choose their own pools, which spin for a
    while after their last task.  Measured here with one thread (3 alternating runs each of
    four step-ladder rows, three passes): with the pause every implementation was slower, by
    up to 40% (the vCPU idles through it), and none gained."""
    return 0.0 if threads > 0 else 0.2


def thread_env(threads: int) -> dict[str, str]:
    """The variables that pin BLAS and OpenMP to ``threads`` (none for 0); the session
    also binds itself to as many CPUs (tests/bench/conftest.py), which is what limits
    XLA.  Two BLAS threads on two shared cores wait for each other whenever a neighbour
    takes one."""
    if threads <= 0:
        return {}
    return dict.fromkeys(THREAD_VARS, str(threads))


def malloc_env(malloc: str, inherited: str | None = None) -> dict[str, str]:
    """GLIBC_TUNABLES for ``malloc`` ("keep": ``KEEP_MEMORY`` added to the ``inherited``
    tunables, which it overrides; "system": nothing added)."""
    if malloc == "system":
        return {}
    tunables = dict(t.split("=", 1) for t in (inherited or "").split(":") if "=" in t)
    tunables |= KEEP_MEMORY
    return {"GLIBC_TUNABLES": ":".join(f"{k}={v}" for k, v in tunables.items())}


def bench_env(settings: Settings, wait: float, deadline: float | None = None) -> dict[str, str]:
    """The variables the benchmark session reads (tests/bench/cases.py and conftest.py)."""
    env = {
        "REFBP_BENCH_QUICK": "1" if settings.quick else "0",
        "REFBP_BENCH_PEERS": ",".join(settings.peers),
        "REFBP_BENCH_WAIT_IDLE": str(wait),
        "REFBP_BENCH_THREADS": str(settings.threads),
        "REFBP_BENCH_PASSES": str(settings.passes),
        "REFBP_BENCH_SETTLE": str(settle_seconds(settings.threads)),
    }
    if deadline is not None:
        env["REFBP_BENCH_DEADLINE"] = f"{deadline:.0f}"
    memory = malloc_env(settings.malloc, os.environ.get("GLIBC_TUNABLES"))
    return env | thread_env(settings.threads) | memory


def pasteable(cmd: Sequence[str], env: dict[str, str], root: Path) -> str:
    """A shell line that runs ``cmd`` as the bench does: directory, variables, interpreter."""
    assign = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"cd {shlex.quote(str(root))} && {assign} {shlex.join(cmd)}"


def _follow(proc: subprocess.Popen[str], log: Any, label: str) -> list[str]:
    """Copy pytest's lines to ``log``, advance a progress bar; the tests that failed."""
    assert proc.stdout is not None
    failed: list[str] = []
    bar: Progress | None = None
    try:
        for line in proc.stdout:
            log.write(line)
            if bar is None and (m := _COLLECTED.search(line)) is not None:
                total = int(m.group(2) or m.group(1))  # "N selected" when some deselected
                bar = Progress(label, total=total).__enter__()
                continue
            if (m := _RESULT_LINE.match(line)) is not None:
                test, outcome = m.group(1), m.group(2)
                if outcome in ("FAILED", "ERROR"):
                    failed.append(test)
                if bar is not None:
                    bar.advance(text=f"{test.split('::')[-1]} {outcome.lower()}")
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    return failed


def run_pass(root: Path, cmd: list[str], env: dict[str, str], log_path: Path, label: str) -> int:
    """One pytest run with the variables ``env`` added; pytest's exit code."""
    with (
        log_path.open("a") as log,
        subprocess.Popen(
            cmd,
            cwd=root,
            env=dict(os.environ) | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as proc,
    ):
        failed = _follow(proc, log, label)
        code = proc.wait()
    for test in failed:
        print(f"refbp bench: {test} failed (see {log_path})", flush=True)
    return code


def strip_raw_timings(data: dict[str, Any]) -> dict[str, Any]:
    """Drop pytest-benchmark's per-round timings (45 MB a run) in place: the report and
    --compare need only the statistics kept beside them."""
    for bench in data.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
    return data


def _retry(
    root: Path, json_out: Path, ids: list[str], s: Settings, log_path: Path
) -> dict[str, Any]:
    """Run the contended benchmarks ``ids`` again; merge the less contended attempts into
    the JSON at ``json_out``; what the retry did, for the guard record."""
    retry_json = json_out.with_name(json_out.stem + "-retry.json")
    env = bench_env(s, s.retry_wait, deadline=time.time() + s.retry_budget)
    cmd = pytest_command(retry_json, s.quick, ids, s.passes)
    print(f"refbp bench: retrying {len(ids)} contended benchmark(s), waiting up to "
          f"{s.retry_wait:g} s each for an idle machine (budget {s.retry_budget:g} s)",
          flush=True)  # fmt: skip
    with log_path.open("a") as log:
        log.write(f"\n# retry pass: {pasteable(cmd, env, root)}\n")
    start = time.perf_counter()
    run_pass(root, cmd, env, log_path, "retrying")
    record: dict[str, Any] = {
        "wait_idle": s.retry_wait,
        "budget": s.retry_budget,
        "asked": len(ids),
    }
    record["seconds"] = round(time.perf_counter() - start, 1)
    data = json.loads(json_out.read_text())
    try:
        retried = json.loads(retry_json.read_text())
    except (OSError, ValueError):  # every retry skipped: pytest-benchmark leaves it empty
        retried = {}
    outcome = merge_retry(data, retried)
    retry_json.unlink(missing_ok=True)
    json_out.write_text(json.dumps(data))
    record.update(retried=outcome.retried, improved=outcome.improved,
                  still_contended=outcome.still_contended)  # fmt: skip
    return record


def run_benchmarks(root: Path, json_out: Path, settings: Settings, log_path: Path) -> int:
    """Run tests/bench in a fresh interpreter, then (``settings.retries``) the contended
    benchmarks again; leave the JSON with its guard record; return pytest's exit code."""
    start = time.perf_counter()
    env = bench_env(settings, settings.wait_each)
    cmd = pytest_command(json_out, settings.quick, passes=settings.passes)
    command = pasteable(cmd, env, root)
    print(f"refbp bench: running (log: {log_path}):\n  {command}", flush=True)
    log_path.write_text(f"# {command}\n")
    code = run_pass(root, cmd, env, log_path, "benchmarking")
    if not json_out.exists():
        return code
    data = json.loads(json_out.read_text())
    ids = contended_passes(data)
    guard: dict[str, Any] = {
        "threads": settings.threads,
        "env": thread_env(settings.threads),
        "malloc": settings.malloc,
        "malloc_env": malloc_env(settings.malloc, os.environ.get("GLIBC_TUNABLES")),
        "passes": settings.passes,
        "settle": settle_seconds(settings.threads),
        "wait_each": settings.wait_each,
        "busy_limit": BUSY_LIMIT,
        "first_pass": {"benchmarks": len(data.get("benchmarks", [])), "contended": len(ids)},
        "retry": None,
        **settings.note,
    }
    if settings.retries > 0 and ids:
        guard["retry"] = _retry(root, json_out, ids, settings, log_path)
        data = json.loads(json_out.read_text())
    guard["merged"] = merge_passes(data)  # after the retry, which re-times single passes
    guard["seconds"] = round(time.perf_counter() - start, 1)
    meta = data.setdefault("machine_info", {}).setdefault("refbp_bench", {})
    meta.update(guard=guard, command=command)
    json_out.write_text(json.dumps(strip_raw_timings(data), indent=1))
    return code
