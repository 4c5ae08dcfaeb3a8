"""``refbp verify`` through the real command: exit status, reports, JSON, refusals, widths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.engine import Target, verify
from refbp_tools.verify.table import render_table

REPO = Path(__file__).resolve().parents[2]
FAST = ["--losses", "mse", "--dtypes", "float64", "--max-examples", "5", "--profile", "ci"]
FAILURE_FIELDS = {
    "property", "quantity", "layer", "dtype", "activations", "loss", "sizes", "batch",
    "error", "allowed", "diagnosis", "scale", "reproduce",
}  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refbp-cache")


def verify_cmd(args: list[str], cache: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REFBP_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "refbp.cli", "verify", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_a_correct_target_passes_and_writes_both_reports(cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = verify_cmd(
        [
            "--target",
            "examples.textbook_numpy:make",
            *FAST,
            "--out",
            str(out),
            "--json",
            str(tmp_path / "j.json"),
            "--accuracy",
            "1",
        ],
        cache,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((tmp_path / "j.json").read_text())
    assert {"target", "examples", "network_examples", "unsupported", "seconds", "failures"} <= set(
        data
    )
    assert data["target"] == "examples.textbook_numpy:make" and data["failures"] == []
    report = (out / "verification.md").read_text()
    assert report.startswith("# Verification of `examples.textbook_numpy:make`")
    digits = report[report.index("## Digits kept against exact arithmetic") :]
    assert "| examples.textbook_numpy:make | float64 |" in digits and "| JAX |" in digits
    assert (
        json.loads((out / "verification.json").read_text())["network_examples"]
        == data["network_examples"]
    )


def test_a_planted_bug_exits_1_with_its_diagnosis_in_the_json(cache: Path, tmp_path: Path) -> None:
    j = tmp_path / "j.json"
    r = verify_cmd(
        [
            "--target",
            "examples.buggy.sign_flipped:make",
            *FAST,
            "--out",
            str(tmp_path),
            "--json",
            str(j),
        ],
        cache,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    failures = json.loads(j.read_text())["failures"]
    assert failures and all(FAILURE_FIELDS <= set(f) for f in failures)
    assert {f["diagnosis"] for f in failures} == {"sign_flipped"}
    assert "examples.buggy.sign_flipped:make disagrees with the oracle" in r.stdout
    assert f"\ndiagnoses: sign_flipped × {len(failures)}\n" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "no_such_module_xyz:make"], "cannot import 'no_such_module_xyz'"),
        (
            ["--target", "tests.judge.exits_on_import:make"],
            "cannot import 'tests.judge.exits_on_import': SystemExit: 3",
        ),
        (["--activations", "relu,swish"], "--activations: unknown name(s) ['swish']; valid are"),
        (["--output-activations", "tanh,swish"], "--output-activations: unknown name(s) ['swish']"),
        (["--target", "tests.judge.targets:missing_biases"], "without ['grad_biases']"),
    ],
)
def test_an_unusable_target_exits_2_and_keeps_the_previous_report(
    cache: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "verification.md").write_text("the previous report\n")
    r = verify_cmd([*args, *FAST, "--out", str(tmp_path)], cache)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert (tmp_path / "verification.md").read_text() == "the previous report\n"
    assert not (tmp_path / "verification.json").exists()


def test_an_unknown_expectation_is_a_usage_error(cache: Path, tmp_path: Path) -> None:
    pins = tmp_path / "pins.txt"
    pins.write_text("kink_convention:leaky_relu\nno_such_id\n")
    r = verify_cmd([*FAST, "--expect-failures", str(pins), "--out", str(tmp_path)], cache)
    assert r.returncode == 2 and f"{pins}:2: unknown id 'no_such_id'" in r.stderr


def test_a_json_report_onto_the_markdown_report_is_refused(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "verification.md").write_text("the previous report\n")
    r = verify_cmd([*FAST, "--out", str(tmp_path), "--json", str(tmp_path / "verification.md")],
                   cache)  # fmt: skip
    assert r.returncode == 2 and "is the Markdown report's own path" in r.stderr
    assert (tmp_path / "verification.md").read_text() == "the previous report\n"


def test_usage_errors_are_argparse_errors(cache: Path) -> None:
    r = verify_cmd(["--max-examples", "0"], cache)
    assert r.returncode == 2 and "expected a positive integer, got 0" in r.stderr


def test_a_run_leaves_the_checkout_clean(cache: Path) -> None:
    before = subprocess.run(
        ["git", "status", "--porcelain", "--ignored=no"], cwd=REPO, capture_output=True, text=True
    ).stdout
    r = verify_cmd(FAST, cache)
    assert r.returncode == 0, r.stdout + r.stderr
    after = subprocess.run(
        ["git", "status", "--porcelain", "--ignored=no"], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert after == before


@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_the_table_fits_the_width_it_is_given(width: int) -> None:
    import refbp

    target = Target.of(
        refbp.MLP, "refbp:MLP", {"losses": ["softmax_cross_entropy"], "dtypes": ["float32"]}
    )
    summary = verify(target, profile_name="ci", max_examples=3, only=["agreement"], exact=False)
    text = render_table(summary, width)
    assert max(len(line) for line in text.splitlines()[1:]) <= max(width, 80)
    assert "softmax_cross_entropy" in text and "…" not in text


@pytest.mark.parametrize("where", ["out", "json"])
def test_an_unwritable_report_place_is_a_usage_error_before_any_run(
    cache: Path, tmp_path: Path, where: str
) -> None:
    """A mistyped --out or --json must not cost a run and then end as a traceback with
    exit 1 (a verdict): it is refused first, with the reason, and nothing is written."""
    a_file = tmp_path / "a_file"
    a_file.write_text("kept\n")
    place = {"out": ["--out", str(a_file)], "json": ["--json", str(tmp_path)]}[where]
    r = verify_cmd([*FAST, *place], cache, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    expected = {"out": "exists and is not a directory", "json": "is a directory"}[where]
    assert f"--{where}: " in r.stderr and expected in r.stderr
    assert "verifying" not in r.stdout and a_file.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_negative_accuracy_count_is_refused(cache: Path) -> None:
    r = verify_cmd(["--accuracy", "-1"], cache)
    assert r.returncode == 2 and "expected a non-negative integer, got -1" in r.stderr


def test_a_target_that_fails_every_case_exits_1_with_a_report(cache: Path, tmp_path: Path) -> None:
    """Every case failing is a verdict (exit 1, the failures reported), not "the target
    declined every case" (exit 2), and not a traceback."""
    r = verify_cmd(
        ["--target", "tests.judge.targets:make_raises", *FAST, "--out", str(tmp_path)], cache
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the target raised ValueError: this make refuses every network" in r.stdout
    assert "no case went through: the target failed on the first case of each" in r.stdout
    assert "\ndiagnoses: no classic mistake × " in r.stdout
    assert "Traceback" not in r.stderr
    assert json.loads((tmp_path / "verification.json").read_text())["failures"]


def test_the_default_jobs_use_the_cpus_only_for_runs_worth_the_start() -> None:
    from refbp_tools.verify import MAX_AUTO_JOBS, PARALLEL_FROM, default_jobs

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_jobs(PARALLEL_FROM - 1) == 1
    assert default_jobs(100) == max(1, min(cpus or 1, MAX_AUTO_JOBS))
