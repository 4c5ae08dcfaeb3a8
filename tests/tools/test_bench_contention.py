"""How ``refbp bench`` tells a timing of the code from a timing of the neighbours: the
machine's load from /proc/stat, waiting for an idle machine, the contended mark, and
keeping the less contended of two attempts at a benchmark."""

from __future__ import annotations

import io
from typing import Any

import pytest

from refbp_tools.bench import contention
from refbp_tools.bench.contention import Usage, merge_retry


def test_machine_load_from_proc_stat(monkeypatch: pytest.MonkeyPatch) -> None:
    """others_share: busy / total CPU time between two reads of /proc/stat (idle and iowait
    are not busy), less this process's own CPU time."""
    lines = iter([
        "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n",  # busy 200 of 1000 ticks
        "cpu  250 0 150 900 200 0 0 0 0 0\ncpu0 1 2 3\n",  # +200 busy, +300 idle/iowait
    ])  # fmt: skip
    opened: list[str] = []

    def fake_open(path: str, *a: Any, **k: Any) -> io.StringIO:
        opened.append(path)
        return io.StringIO(next(lines))

    monkeypatch.setattr(contention, "open", fake_open, raising=False)
    monkeypatch.setattr(contention.os, "sysconf", lambda name: 100 if name == "SC_CLK_TCK" else 0)
    clock = iter([10.0, 12.5, 0.0])  # 2.5 s of wall clock on 2 CPUs: 5 CPU seconds
    monkeypatch.setattr(contention.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(contention.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(contention, "bound_cpus", lambda: None)  # as if run unbound
    own = iter([1.0, 1.5, 0.0])  # this process used 0.5 of the 2.0 busy seconds
    monkeypatch.setattr(contention, "own_seconds", lambda: next(own))
    slept: list[float] = []
    monkeypatch.setattr(contention.time, "sleep", slept.append)
    assert contention.others_share(1.5) == pytest.approx((2.0 - 0.5) / 5.0)
    assert slept == [1.5] and opened == ["/proc/stat", "/proc/stat"]

    lines = iter(["cpu  100 0 100 700\n"])  # no iowait column (old kernels)
    assert contention.machine_busy_seconds() == (2.0, 9.0)
    lines = iter(["cpu  100 0 100 700 50\n"])  # exactly five: the fifth is iowait, not busy
    assert contention.machine_busy_seconds() == (2.0, 9.5)
    lines = iter(["cpu  a b c\n"])
    assert contention.machine_busy_seconds() is None

    per_cpu = "cpu  300 0 0 500\ncpu0 100 0 0 400\ncpu1 200 0 0 100\ncpu2 x\n"
    lines = iter([per_cpu, per_cpu, per_cpu])
    assert contention.machine_busy_seconds([1]) == (2.0, 3.0)  # cpu1's line alone
    assert contention.machine_busy_seconds([0, 1]) == (3.0, 8.0)  # the sum of both
    assert contention.machine_busy_seconds([3]) is None  # no such CPU: nothing to read

    def no_proc(path: str, *a: Any, **k: Any) -> io.StringIO:
        raise FileNotFoundError(path)

    monkeypatch.setattr(contention, "open", no_proc, raising=False)
    assert contention.others_share() is None and slept == [1.5]  # no /proc: no wait either


def test_others_since_edge_cases() -> None:
    start = Usage(busy=10.0, own=1.0, wall=100.0)
    assert Usage(busy=None, own=1.0, wall=101.0).others_since(start) is None  # not Linux
    assert Usage(busy=11.0, own=1.0, wall=100.0).others_since(start) is None  # no time passed
    # a counter that went backwards (or own time counted twice): 0, never below
    assert Usage(busy=9.0, own=2.0, wall=101.0).others_since(start, cpus=2) == 0.0
    assert Usage(busy=11.0, own=1.0, wall=101.0).others_since(start, cpus=2) == 0.5
    assert Usage(busy=11.0, own=1.0, wall=101.0).others_since(start, cpus=4) == 0.25
    # a process bound to one CPU: a neighbour's second of it there is all of that CPU
    one = Usage(busy=10.0, own=1.0, wall=100.0, cpus=1)
    assert Usage(busy=11.0, own=1.0, wall=101.0, cpus=1).others_since(one) == 1.0


def test_a_bound_process_measures_the_cpus_it_is_bound_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contention.os, "sched_getaffinity", lambda pid: {1}, raising=False)
    monkeypatch.setattr(contention.os, "cpu_count", lambda: 2)
    read: list[Any] = []
    monkeypatch.setattr(contention, "machine_busy_seconds", lambda cpus=None: read.append(cpus))
    assert contention.bound_cpus() == [1] and Usage.now().cpus == 1 and read == [[1]]
    monkeypatch.setattr(contention.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert contention.bound_cpus() is None and Usage.now().cpus is None and read[-1] is None


def test_wait_idle_polls_until_idle_or_the_deadline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    windows: list[float] = []
    shares = iter([0.3, 0.05, 0.049])

    def share(window: float = 2.0) -> float | None:
        windows.append(window)
        return next(shares)

    monkeypatch.setattr(contention, "others_share", share)
    assert contention.wait_idle(100.0) is True
    assert windows == [3.0, 3.0, 3.0]  # 5 % is not below the 5 % limit
    assert capsys.readouterr().out == (
        "refbp bench: waiting for an idle machine (others use 30%)\n"
        "refbp bench: waiting for an idle machine (others use 5%)\n"
    )
    shares = iter([0.3, 0.2])
    assert contention.wait_idle(100.0, limit=0.25, say=False) is True
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(contention.time, "monotonic", lambda: 50.0)  # a clock that stands still
    shares = iter([0.3, 0.01])
    assert contention.wait_idle(0.0) is True  # the deadline is not passed until the clock moves
    capsys.readouterr()
    shares = iter([None])  # /proc/stat unreadable: nothing to wait for
    assert contention.wait_idle(60.0) is True
    times = iter([0.0, 0.0, 61.0])
    monkeypatch.setattr(contention.time, "monotonic", lambda: next(times))
    shares = iter([0.9, 0.9])
    assert contention.wait_idle(60.0) is False
    assert capsys.readouterr().out == "refbp bench: waiting for an idle machine (others use 90%)\n"


def _entry(name: str, share: float | None, median: float = 1.0) -> dict[str, Any]:
    info = {} if share is None else {"others_cpu": share}
    return {"fullname": f"m.py::{name}", "name": name, "extra_info": info,
            "stats": {"median": median}}  # fmt: skip


def test_a_retry_is_kept_only_when_less_contended() -> None:
    first = {"benchmarks": [_entry("a", 0.5, 9.0), _entry("b", 0.4, 9.0), _entry("c", 0.3, 9.0),
                            _entry("d", None, 9.0), _entry("e", 0.5, 9.0)]}  # fmt: skip
    retry = {"benchmarks": [_entry("a", 0.02, 1.0), _entry("b", 0.45, 1.0),
                            _entry("c", None, 1.0), _entry("d", 0.2, 1.0)]}  # fmt: skip
    outcome = merge_retry(first, retry)
    a, b, c, d, e = first["benchmarks"]
    assert (a["stats"]["median"], a["extra_info"]) == (
        1.0, {"others_cpu": 0.02, "attempts": 2, "others_cpu_first": 0.5}
    )  # fmt: skip
    assert (b["stats"]["median"], b["extra_info"]) == (
        9.0, {"others_cpu": 0.4, "attempts": 2, "others_cpu_retry": 0.45}
    )  # fmt: skip
    assert c["stats"]["median"] == 9.0  # a retry without a reading does not replace one
    assert d["stats"]["median"] == 1.0  # a reading replaces no reading
    assert e["extra_info"] == {"others_cpu": 0.5}  # not retried (the budget ran out): kept
    assert outcome == contention.RetryOutcome(retried=4, improved=2, still_contended=3)
    assert merge_retry(first, {}) == contention.RetryOutcome(0, 0, 0)


def test_the_benchmark_session_waits_for_idle_and_says_whether_it_came(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tests/bench/conftest.py's wait before each benchmark: polls in half-second windows,
    gives up after its limit, and without a limit does not wait (and counts as idle)."""
    from tests.bench import conftest

    now = [0.0]
    shares: list[float] = []

    class FakeTime:  # a clock that moves only when the session sleeps
        @staticmethod
        def monotonic() -> float:
            return now[0]

        @staticmethod
        def sleep(seconds: float) -> None:
            now[0] += seconds

    class FakeUsage:
        @staticmethod
        def now() -> FakeUsage:
            return FakeUsage()

        def others_since(self, start: object) -> float:
            return shares.pop(0)

    monkeypatch.setattr(conftest, "time", FakeTime)
    monkeypatch.setattr(conftest, "Usage", FakeUsage)
    shares[:] = [0.5, 0.3, 0.02]
    assert conftest._wait_for_idle(10.0, limit=0.05) == (1.5, True)  # the third window is idle
    now[0], shares[:] = 0.0, [0.5] * 10
    assert conftest._wait_for_idle(2.0, limit=0.05) == (2.0, False)  # gave up, still busy
    assert shares == [0.5] * 6  # four half-second windows in two seconds
    now[0] = 0.0
    assert conftest._wait_for_idle(0.0, limit=0.05) == (0.0, True)  # no wait asked: go on
    shares[:] = [0.08]
    assert conftest._wait_for_idle(1.0, limit=0.10) == (0.5, True)  # the retry pass's limit


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "soon"])
def test_a_pause_that_is_not_a_number_of_seconds_is_refused(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.bench.conftest import settle_seconds

    monkeypatch.setenv("REFBP_BENCH_SETTLE", raw)
    with pytest.raises(
        ValueError, match=f"REFBP_BENCH_SETTLE must be a number of seconds ≥ 0, got '{raw}'"
    ):
        settle_seconds()
    monkeypatch.setenv("REFBP_BENCH_SETTLE", "0")
    assert settle_seconds() == 0.0
    monkeypatch.delenv("REFBP_BENCH_SETTLE")
    assert settle_seconds() == 0.2  # a pytest run of tests/bench by hand pauses as before
