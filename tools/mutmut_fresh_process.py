"""Run mutmut's mutants one at a time, each in a fresh ``pytest`` process.

mutmut (3.x) is used only to *generate* the mutants: in a copy of the repository whose
pyproject ``[tool.mutmut]`` lists the module in ``only_mutate``, run mutmut's generation step
(see reports/mutation-general.md), which writes the trampolined copy of the package to
``mutants/`` and the mutant names to ``mutants/refbp/<module>.py.meta``.  This script then
runs the test command once per mutant with ``MUTANT_UNDER_TEST=<mutant name>`` set, from the
``mutants/`` directory (so ``import refbp`` is the trampolined copy), pinned to one CPU core.
A verdict is the real pytest exit status: 1 = killed, 4 = the mutant broke an import (killed),
0 = survived; a run that hits ``--timeout`` is recorded as "timeout", never as a kill.

``--fork`` is the cheaper variant for JAX-free test files (the command-line tooling): this
script, run by the interpreter that has mutmut, imports pytest and the ``--preload`` modules
once, then forks one child per mutant that sets ``MUTANT_UNDER_TEST`` and calls
``pytest.main``.  Nothing has run a test or a JAX computation in the parent, so each child
starts from the state of a fresh process that has only imported modules (mutmut mutates
function bodies, never module-level code, and its trampoline reads the variable at every
call).  It saves the ~2-4 s of interpreter start and imports per mutant; do not use it for
tests that run JAX (XLA's thread pools do not survive a fork).

Example::

    python tools/mutmut_fresh_process.py /tmp/copy/mutants/refbp/network.py.meta \\
        /tmp/mm_network.jsonl --cwd /tmp/copy/mutants --core 1 \\
        --python /tmp/mvenv/bin/python --prefix _backprop_body,_backprop \\
        -- tests/test_errors.py tests/test_network.py

One JSON line per mutant run (name, exit code, seconds, first failing tests) is appended to the
output file; mutants already in it are skipped, so an interrupted run can be resumed.  The
environment is passed through (set HYPOTHESIS_PROFILE, OMP_NUM_THREADS etc. before calling).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# the same in both modes: stop at the first failure, no cache, the file's own test order
_PYTEST_FLAGS = ("-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")


def _order(keys: list[str], prefixes: list[str]) -> list[str]:
    """Mutants of the functions named in ``prefixes`` first, in that order, then the rest."""

    def rank(key: str) -> int:
        func = key.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
        func = func.split("ǁ")[-1] if "ǁ" in func else func.removeprefix("x_")
        return prefixes.index(func) if func in prefixes else len(prefixes)

    return sorted(keys, key=rank)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("usage: ... META OUT.jsonl [options] -- pytest args", file=sys.stderr)
        return 2
    sep = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meta", help="mutants/<package>/<module>.py.meta written by mutmut")
    parser.add_argument("out", help="JSON-lines file the verdicts are appended to")
    parser.add_argument("--cwd", default="mutants", help="mutmut's mutants/ directory")
    parser.add_argument("--core", default="1", help="CPU core(s) for taskset -c")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per mutant")
    parser.add_argument("--only", default="", help="comma-separated mutant names (or suffixes)")
    parser.add_argument("--fork", action="store_true", help="fork per mutant (see above)")
    parser.add_argument("--preload", default="", help="--fork: comma-separated modules")
    parser.add_argument(
        "--prefix", default="", help="comma-separated function names whose mutants run first"
    )
    args = parser.parse_args(argv[:sep])
    test_args = argv[sep + 1 :]

    keys = list(json.loads(Path(args.meta).read_text())["exit_code_by_key"])
    if args.only:
        only = set(args.only.split(","))
        keys = [k for k in keys if k in only or k.rsplit(".", 1)[1] in only]
    if args.prefix:
        keys = _order(keys, args.prefix.split(","))
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {json.loads(line)["mutant"] for line in out.read_text().splitlines() if line}
    todo = [k for k in keys if k not in done]
    t_all = time.time()
    run = _run_forked if args.fork else _run_fresh
    run(todo, out, args, [*_PYTEST_FLAGS, *test_args])
    print("TOTAL", round(time.time() - t_all, 1), flush=True)
    return 0


def _run_fresh(
    keys: list[str], out: Path, args: argparse.Namespace, pytest_args: list[str]
) -> None:
    cmd = ["taskset", "-c", args.core, args.python, "-m", "pytest", *pytest_args]
    env = dict(os.environ)
    for key in keys:
        env["MUTANT_UNDER_TEST"] = key
        t = time.time()
        try:
            p = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=args.timeout, cwd=args.cwd
            )
            rc: int | str = p.returncode
            output = p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            rc, output = "timeout", ""
        _record(out, key, rc, time.time() - t, output)


def _record(out: Path, key: str, rc: int | str, dt: float, output: str) -> None:
    tail = output.strip().splitlines()[-3:]
    failed = [x for x in output.splitlines() if x.startswith(("FAILED", "ERROR"))][:2]
    rec = {"mutant": key, "rc": rc, "sec": round(dt, 2), "failed": failed, "tail": tail}
    with out.open("a") as f:
        f.write(json.dumps(rec) + "\n")
    print(key, rc, round(dt, 2), flush=True)


def _run_forked(
    keys: list[str], out: Path, args: argparse.Namespace, pytest_args: list[str]
) -> None:
    import importlib
    import signal
    import tempfile

    import pytest

    out = out.resolve()
    os.sched_setaffinity(0, {int(c) for c in args.core.split(",")})
    os.chdir(args.cwd)
    sys.path.insert(0, os.getcwd())
    for name in filter(None, args.preload.split(",")):
        importlib.import_module(name)
    for key in keys:
        with tempfile.TemporaryFile("w+") as log:
            t = time.time()
            pid = os.fork()
            if pid == 0:  # child: never returns
                code = 3
                try:
                    os.dup2(log.fileno(), 1)
                    os.dup2(log.fileno(), 2)
                    os.environ["MUTANT_UNDER_TEST"] = key
                    signal.alarm(int(args.timeout))  # SIGALRM kills the child: "timeout"
                    code = int(pytest.main(pytest_args))
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            dt = time.time() - t
            rc: int | str = os.waitstatus_to_exitcode(status)
            if rc == -signal.SIGALRM:
                rc = "timeout"
            log.seek(0)
            _record(out, key, rc, dt, log.read())


if __name__ == "__main__":
    raise SystemExit(main())
