"""``refbp bench`` running the benchmark modules: the pytest command it runs and echoes
(pasteable), the environment (threads pinned), progress from pytest's lines, the retry
pass over contended benchmarks, and the JSON it leaves.  A fake tests/bench and a real
pytest subprocess stand in for the real benchmarks."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from refbp_tools.bench import driver
from refbp_tools.bench.driver import Settings

_FAKE_BENCH = """
import os
import sys
import time

import pytest


@pytest.mark.bench
def test_a_slow_start():
    if os.environ.get("REFBP_FAKE_BENCH_SLEEP"):
        time.sleep(60)


@pytest.mark.bench
def test_records_how_it_was_run(benchmark):
    benchmark.extra_info["argv"] = sys.argv[1:]
    benchmark.extra_info["python"] = sys.executable
    benchmark.extra_info["env"] = {
        k: os.environ.get(k)
        for k in ("REFBP_BENCH_QUICK", "REFBP_BENCH_PEERS", "REFBP_BENCH_WAIT_IDLE",
                  "REFBP_BENCH_THREADS", "REFBP_BENCH_PASSES", "REFBP_BENCH_SETTLE",
                  "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                  "MKL_NUM_THREADS", "GLIBC_TUNABLES", "XLA_FLAGS")
    }
    benchmark(lambda: None)


@pytest.mark.bench
def test_busy_at_first(benchmark):
    retry = bool(os.environ.get("REFBP_BENCH_DEADLINE"))  # only the retry pass has one
    benchmark.extra_info["others_cpu"] = 0.01 if retry else 0.6
    benchmark.extra_info["retry_wait"] = os.environ.get("REFBP_BENCH_WAIT_IDLE")
    benchmark(lambda: None)


PASSES = int(os.environ.get("REFBP_BENCH_PASSES") or 1)


@pytest.mark.bench
@pytest.mark.parametrize(
    "k", [pytest.param(k, id=f"row@p{k}" if PASSES > 1 else "row") for k in range(1, PASSES + 1)]
)
def test_in_turns(benchmark, k):
    retry = bool(os.environ.get("REFBP_BENCH_DEADLINE"))
    benchmark.extra_info["pass"] = k
    benchmark.extra_info["others_cpu"] = 0.6 if k == 2 and not retry else 0.02 * k
    benchmark(lambda: None)


@pytest.mark.bench
def test_broken(benchmark):
    raise AssertionError("a broken benchmark")


def test_not_a_benchmark():
    raise AssertionError("deselected by -m bench: never runs")
"""

# what the real tests/bench/conftest.py says about the run that the report needs
_FAKE_BENCH_CONFTEST = """
import os


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["refbp_bench"] = {"quick": os.environ["REFBP_BENCH_QUICK"] == "1"}
"""
_ARGS_AFTER = [
    "-m", "bench", "-v", "-p", "no:randomly", "-p", "no:cacheprovider",
]  # fmt: skip


@pytest.fixture(scope="module")
def fake_bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    (root / "tests" / "bench").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tests" / "bench" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tests" / "bench" / "test_fake.py").write_text(_FAKE_BENCH, encoding="utf-8")
    (root / "tests" / "bench" / "conftest.py").write_text(_FAKE_BENCH_CONFTEST, encoding="utf-8")
    here = Path(__file__).resolve().parents[2]
    root.joinpath("pyproject.toml").write_text(
        here.joinpath("pyproject.toml").read_text("utf-8"), encoding="utf-8"
    )
    return root


def _quick_tail(out: Path, rounds: int = 3, seconds: str = "0.05") -> list[str]:
    return [*_ARGS_AFTER, f"--benchmark-json={out}", f"--benchmark-min-rounds={rounds}",
            f"--benchmark-max-time={seconds}", "--benchmark-warmup=off",
            "--benchmark-columns=min,median,max,rounds"]  # fmt: skip


def test_run_benchmarks_end_to_end(
    fake_bench_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    out, log = tmp_path / "run.json", tmp_path / "run.log"
    s = Settings(quick=True, peers=("jax", "torch"), wait_each=2.5, retry_wait=0.5, passes=2)
    assert driver.run_benchmarks(fake_bench_root, out, s, log) == 1  # one benchmark failed
    printed = capsys.readouterr().out.splitlines()
    args = ["tests/bench", *_quick_tail(out, rounds=2, seconds="0.025")]  # per pass
    env = {
        "REFBP_BENCH_QUICK": "1",
        "REFBP_BENCH_PEERS": "jax,torch",
        "REFBP_BENCH_WAIT_IDLE": "2.5",
        "REFBP_BENCH_THREADS": "1",
        "REFBP_BENCH_PASSES": "2",
        "REFBP_BENCH_SETTLE": "0.0",  # every library on one thread: no pause
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:"
        "glibc.malloc.trim_threshold=4294967296",
    }
    command = (f"cd {shlex.quote(str(fake_bench_root))} && "
               + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
               + f" {shlex.join([sys.executable, '-u', '-m', 'pytest', *args])}")  # fmt: skip
    assert printed[:2] == [f"refbp bench: running (log: {log}):", f"  {command}"]
    assert f"refbp bench: tests/bench/test_fake.py::test_broken failed (see {log})" in printed
    assert "benchmarking: 6/6 test_broken failed" in printed  # plain progress lines: no tty
    # the row's two passes together were contended (0.02 and 0.6): both are timed again
    header = printed.index(
        "refbp bench: retrying 3 contended benchmark(s), waiting up to 0.5 s each for an "
        "idle machine (budget 300 s)"
    )
    assert printed[header + 1] == "retrying: 1/3 test_busy_at_first passed"
    assert printed[-1] == "retrying: 3/3 test_in_turns[row@p2] passed"  # the bar may skip 2/3
    retry_log = log.read_text().split("# retry pass: ")[1]
    assert "test_in_turns[row@p1] PASSED" in retry_log
    assert "test_not_a_benchmark" not in "\n".join(printed)
    text = log.read_text()
    assert text.startswith(f"# {command}\n")
    assert "test_records_how_it_was_run PASSED" in text and "a broken benchmark" in text
    assert "# retry pass: " in text and "REFBP_BENCH_DEADLINE=" in text
    data = json.loads(out.read_text())
    assert out.read_text() == json.dumps(data, indent=1)
    record, busy, row = data["benchmarks"]
    assert record["extra_info"]["argv"] == args
    assert record["extra_info"]["env"] == {**env, "XLA_FLAGS": None}  # no XLA flag added
    assert record["stats"]["rounds"] >= 3 and "data" not in record["stats"]  # no raw timings
    assert busy["extra_info"]["others_cpu"] == 0.01  # the quiet retry replaced the busy one
    assert busy["extra_info"]["retry_wait"] == "0.5" and busy["extra_info"]["attempts"] == 2
    # the two passes of the row as one benchmark: rounds pooled, the CPU share over both
    # (0.02, kept: the retry was no quieter, and the retried pass 2's 0.04), raw timings
    # dropped after the merge
    assert row["fullname"] == "tests/bench/test_fake.py::test_in_turns[row]"
    assert row["name"] == "test_in_turns[row]" and row["param"] == "row"
    info = row["extra_info"]
    assert (info["passes"], len(info["pass_medians"])) == (2, 2)
    assert 0.02 <= info["others_cpu"] <= 0.04
    assert info["attempts"] == 2 and "pass" not in info and "data" not in row["stats"]
    assert row["stats"]["rounds"] >= 4 and row["stats"]["min"] <= row["stats"]["median"]
    assert not (tmp_path / "run-retry.json").exists()
    meta = data["machine_info"]["refbp_bench"]
    guard = meta.pop("guard")
    assert meta == {"quick": True, "command": command}
    assert guard.pop("seconds") > 0 and guard["retry"].pop("seconds") >= 0
    assert guard == {
        "threads": 1, "env": {k: v for k, v in env.items() if k.endswith("_THREADS")
                              and not k.startswith("REFBP")},
        "malloc": "keep", "malloc_env": {"GLIBC_TUNABLES": env["GLIBC_TUNABLES"]},
        "passes": 2, "settle": 0.0, "wait_each": 2.5, "busy_limit": 0.1,
        "first_pass": {"benchmarks": 4, "contended": 3},
        "retry": {"wait_idle": 0.5, "budget": 300.0, "asked": 3, "retried": 3, "improved": 2,
                  "still_contended": 0},
        "merged": 1,
    }  # fmt: skip


def test_no_retry_and_no_pinning_when_asked(
    fake_bench_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, log = tmp_path / "run.json", tmp_path / "run.log"
    s = Settings(quick=False, threads=0, retries=0, note={"waited_before": 3.0})
    driver.run_benchmarks(fake_bench_root, out, s, log)
    assert "retrying" not in capsys.readouterr().out
    data = json.loads(out.read_text())
    record, busy, row = data["benchmarks"]
    assert row["name"] == "test_in_turns[row]" and "passes" not in row["extra_info"]
    env = record["extra_info"]["env"]
    assert (env["REFBP_BENCH_THREADS"], env["REFBP_BENCH_QUICK"]) == ("0", "0")
    assert env["REFBP_BENCH_SETTLE"] == "0.2"  # the libraries' own pools: a pause for them
    assert busy["extra_info"]["others_cpu"] == 0.6 and "attempts" not in busy["extra_info"]
    guard = data["machine_info"]["refbp_bench"]["guard"]
    assert (guard["threads"], guard["env"], guard["retry"], guard["waited_before"]) == (
        0, {}, None, 3.0
    )  # fmt: skip
    assert guard["first_pass"] == {"benchmarks": 3, "contended": 1} and guard["merged"] == 0


@pytest.mark.parametrize("leftover", ["", None], ids=["empty file", "no file"])
def test_a_retry_pass_that_times_nothing_keeps_the_first_pass(
    leftover: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every retry skipped (the machine stayed busy): pytest-benchmark leaves an empty file,
    or none; the first pass stands and the record says nothing was re-timed."""
    first = {"benchmarks": [{"fullname": "m.py::a", "name": "a", "stats": {"median": 1.0},
                             "extra_info": {"others_cpu": 0.9}}]}  # fmt: skip

    def fake_pass(root: Path, cmd: list[str], env: dict[str, str], log: Path, label: str) -> int:
        out = Path(next(a for a in cmd if a.startswith("--benchmark-json=")).split("=", 1)[1])
        if not out.stem.endswith("-retry"):
            out.write_text(json.dumps(first))
        elif leftover is not None:
            out.write_text(leftover)
        return 0

    monkeypatch.setattr(driver, "run_pass", fake_pass)
    out = tmp_path / "run.json"
    assert driver.run_benchmarks(tmp_path, out, Settings(), tmp_path / "log") == 0
    data = json.loads(out.read_text())
    assert data["benchmarks"] == first["benchmarks"]
    retry = data["machine_info"]["refbp_bench"]["guard"]["retry"]
    assert (retry["asked"], retry["retried"], retry["improved"]) == (1, 0, 0)
    assert not (tmp_path / "run-retry.json").exists()


def test_the_command_line_reaches_a_pipe_at_once(fake_bench_root: Path, tmp_path: Path) -> None:
    """A wrapper reading `refbp bench` through a pipe sees the command line it runs before
    the first benchmark ends (here: one that takes a minute)."""
    from tests.pipes import lines_while_running

    code = ("import sys; from pathlib import Path; from refbp_tools.bench import driver; "
            "driver.run_benchmarks(Path(sys.argv[1]), Path(sys.argv[2]), "
            "driver.Settings(quick=True), Path(sys.argv[3]))")  # fmt: skip
    argv = [sys.executable, "-c", code, str(fake_bench_root), str(tmp_path / "r.json"),
            str(tmp_path / "r.log")]  # fmt: skip
    got, running = lines_while_running(argv, "-m pytest", 40, REFBP_FAKE_BENCH_SLEEP="1")
    assert got and got[-1].startswith(f"  cd {shlex.quote(str(fake_bench_root))} && REFBP_")
    assert f"{shlex.quote(sys.executable)} -u -m pytest tests/bench " in got[-1]
    assert running  # the first benchmark takes a minute


class _FakePopen:
    """subprocess.Popen for run_pass: records the call, replays pytest's lines."""

    calls: ClassVar[list[tuple[list[str], dict[str, Any]]]] = []
    lines = (
        "collecting ... collected 5 items / 2 deselected / 3 selected\n",
        "tests/bench/a.py::test_one PASSED [ 33%]\n",
        "tests/bench/a.py::test_two ERROR [ 66%]\n",
        "tests/bench/a.py::test_three FAILED [100%]\n",
    )

    def __init__(self, cmd: list[str], **kw: Any) -> None:
        self.calls.append((cmd, kw))
        self.stdout = iter(self.lines)

    def __enter__(self) -> _FakePopen:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def wait(self) -> int:
        return 1


def test_full_run_command_and_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run: ten rounds, half a second each at most, the environment says so; pytest's
    lines go to the log and its failures and errors are named."""
    _FakePopen.calls = []
    monkeypatch.setattr(driver.subprocess, "Popen", _FakePopen)
    monkeypatch.setenv("REFBP_BENCH_QUICK", "stale")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    out, log = tmp_path / "never-written.json", tmp_path / "run.log"
    assert driver.run_benchmarks(tmp_path, out, Settings(), log) == 1
    [(cmd, kw)] = _FakePopen.calls
    assert cmd == [
        sys.executable, "-u", "-m", "pytest", "tests/bench", *_ARGS_AFTER,
        f"--benchmark-json={out}", "--benchmark-min-rounds=10", "--benchmark-max-time=0.5",
        "--benchmark-warmup=off", "--benchmark-columns=min,median,max,rounds",
    ]  # fmt: skip
    env = kw.pop("env")
    assert kw == {"cwd": tmp_path, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
                  "text": True, "bufsize": 1}  # fmt: skip
    assert (env["REFBP_BENCH_QUICK"], env["REFBP_BENCH_PEERS"]) == ("0", "")
    assert env["REFBP_BENCH_WAIT_IDLE"] == "0.0" and env["PATH"] == driver.os.environ["PATH"]
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=1"  # the caller's, as given
    assert log.read_text().endswith("".join(_FakePopen.lines))
    printed = capsys.readouterr().out.splitlines()
    assert printed[2:] == [
        "benchmarking: 1/3 test_one passed",  # the first at once, then every 2 s, the last
        "benchmarking: 3/3 test_three failed",
        f"refbp bench: tests/bench/a.py::test_two failed (see {log})",
        f"refbp bench: tests/bench/a.py::test_three failed (see {log})",
    ]
    assert not out.exists()  # pytest wrote nothing: no retry, no guard record

    # no deselection ("collected N items" alone), class-style test ids, then no count at all
    monkeypatch.setattr(_FakePopen, "lines", (
        "collected 2 items\n",
        "tests/bench/a.py::TestX::test_one PASSED [ 50%]\n",
        "tests/bench/a.py::TestX::test_two PASSED [100%]\n",
    ))  # fmt: skip
    driver.run_benchmarks(tmp_path, out, Settings(quick=True), log)
    assert capsys.readouterr().out.splitlines()[2:] == [
        "benchmarking: 1/2 test_one passed", "benchmarking: 2/2 test_two passed"
    ]  # fmt: skip
    monkeypatch.setattr(_FakePopen, "lines", ("tests/bench/a.py::test_one PASSED\n",))
    assert driver.run_benchmarks(tmp_path, out, Settings(quick=True), log) == 1  # no bar
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_thread_environment() -> None:
    assert driver.thread_env(0) == {}
    assert driver.thread_env(2) == dict.fromkeys(driver.THREAD_VARS, "2")
    env = driver.bench_env(Settings(peers=("jax",)), 1.5, deadline=1234.4)
    assert env["REFBP_BENCH_DEADLINE"] == "1234" and env["REFBP_BENCH_WAIT_IDLE"] == "1.5"
    assert driver.pasteable(["/p y/python", "-m", "pytest"], {"A": "x y"}, Path("/r")) == (
        "cd /r && A='x y' '/p y/python' -m pytest"
    )


def test_the_memory_setting_keeps_freed_memory_and_the_inherited_tunables() -> None:
    keep = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
    assert driver.malloc_env("keep") == {"GLIBC_TUNABLES": keep}
    inherited = "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1"
    assert driver.malloc_env("keep", inherited) == {
        "GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=4294967296:"
        "glibc.malloc.mmap_threshold=33554432"
    }  # the caller's other tunables kept, the two thresholds ours
    assert driver.malloc_env("system", inherited) == {}  # left as the caller set them
    env = driver.bench_env(Settings(malloc="system"), 0.0)
    assert "GLIBC_TUNABLES" not in env
    assert driver.bench_env(Settings(), 0.0)["GLIBC_TUNABLES"] == keep


def test_pytest_output_parsing() -> None:
    m = driver._COLLECTED.search("collecting ... collected 184 items / 92 deselected / 92 selected")
    assert m is not None and int(m.group(2) or m.group(1)) == 92
    m = driver._COLLECTED.search("collected 7 items")
    assert m is not None and int(m.group(2) or m.group(1)) == 7
    line = "tests/bench/test_bench_step.py::test_step[[2,3,1]B=4-float32-jax] PASSED [  1%]"
    m = driver._RESULT_LINE.match(line)
    assert m is not None and m.group(2) == "PASSED" and m.group(1).endswith("-jax]")


def test_json_path_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    when = datetime(2026, 3, 4, 5, 6, 7)
    monkeypatch.setattr(driver.socket, "gethostname", lambda: "My box#1_x-Y.lab.example")
    name = "2026-03-04-My_box_1_x-Y"
    assert driver.json_path(tmp_path, False, when) == tmp_path / f"{name}.json"
    assert driver.json_path(tmp_path, True, when) == tmp_path / f"{name}-quick.json"
    (tmp_path / f"{name}.json").write_text("{}")
    (tmp_path / f"{name}-2.json").write_text("{}")
    assert driver.json_path(tmp_path, False, when) == tmp_path / f"{name}-3.json"
    monkeypatch.setattr(driver.socket, "gethostname", lambda: "")
    assert driver.json_path(tmp_path, False, when) == tmp_path / "2026-03-04-host.json"
    assert driver.json_path(tmp_path, False).name == f"{datetime.now():%Y-%m-%d}-host.json"


def test_project_root_is_the_checkout_with_the_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refbp

    checkout = Path(refbp.__file__).resolve().parent.parent
    assert driver.project_root() == checkout and (checkout / "tests" / "bench").is_dir()
    (tmp_path / "refbp").mkdir()
    (tmp_path / "tests" / "benchmarks").mkdir(parents=True)  # not tests/bench
    monkeypatch.setattr(refbp, "__file__", str(tmp_path / "refbp" / "__init__.py"))
    assert driver.project_root() is None  # an installed wheel: no benchmark modules


def test_raw_timings_are_stripped_and_nothing_else() -> None:
    data = {"machine_info": {"x": 1}, "benchmarks": [
        {"name": "a", "stats": {"median": 1.0, "data": [1.0, 2.0]}},
        {"name": "b", "stats": {"median": 2.0}},  # no per-round data
        {"name": "c"},  # no stats at all
    ]}  # fmt: skip
    want = json.loads(json.dumps(data))
    del want["benchmarks"][0]["stats"]["data"]
    assert driver.strip_raw_timings(data) == want and data == want
    assert driver.strip_raw_timings({"version": 1}) == {"version": 1}


_ONE_CPU_GEMM = """
import time
from tests.bench.conftest import bind_cpus
from refbp_tools.bench.contention import Usage
print(len(bind_cpus(1)))
import jax, jax.numpy as jnp
x = jnp.ones((512, 512), jnp.float32)
f = jax.jit(lambda x: x @ x)
f(x).block_until_ready()
start = Usage.now()
while time.perf_counter() - start.wall < 1.0:
    f(x).block_until_ready()
print(Usage.now().own_cores_since(start))
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux's CPU affinity and two CPUs",
)
def test_a_session_bound_to_one_cpu_keeps_xla_on_one_core() -> None:
    """The bench's one-thread setting must hold for JAX too, whose pool ignores XLA_FLAGS."""
    pytest.importorskip("jax")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _ONE_CPU_GEMM], cwd=root, capture_output=True, text=True,
        check=True, env=dict(os.environ, JAX_PLATFORMS="cpu"),
    ).stdout.split()  # fmt: skip
    assert out[0] == "1"
    assert float(out[1]) < 1.1  # one thread's CPU time, within the clock's granularity


_REFAULTS = """
import resource
import numpy as np
def step():
    a = np.ones(1 << 18)  # three fresh 2 MiB arrays, freed by the end of the step
    b = a * 2.0
    c = b + a
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)
def test_the_kept_memory_is_not_faulted_in_again() -> None:
    """Under --malloc keep, a call that frees large temporaries finds them again in the next
    call without a page fault (glibc's defaults fault most of their 1,536 pages in again
    here, which is what the setting is for)."""

    def faults(env: dict[str, str]) -> float:
        out = subprocess.run([sys.executable, "-c", _REFAULTS], capture_output=True,
                             text=True, check=True, env=dict(os.environ, **env))  # fmt: skip
        return float(out.stdout)

    inherited = os.environ.get("GLIBC_TUNABLES")
    assert faults(driver.malloc_env("keep", inherited)) < 10


@pytest.mark.skipif(platform.system() != "Linux", reason="needs mmap's fresh anonymous pages")
def test_the_page_fault_cost_is_measured() -> None:
    from tests.bench.conftest import page_fault_seconds

    cost = page_fault_seconds(pages=256)
    assert cost is not None and 1e-8 < cost < 1e-3  # a fault costs 0.1-10 µs on real machines
