"""``refbp mutate``'s machinery without running a mutant: the reports, parsing pytest's
output, judging each outcome, the project copy and its environment, the suite command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import refbp_tools.mutate as cmd
from refbp_tools.mutate import catalogue as mut

ROOT = Path(__file__).resolve().parents[2]


def test_report_files_exactly(tmp_path: Path) -> None:
    """The Markdown and JSON byte for byte: directories created, UTF-8, non-ASCII kept."""
    results = [
        mut.MutationResult("a_mutant", "killed", "tests/t.py::test_x[p|q]", 1.25, "σ' | bug"),
        mut.MutationResult("b_mutant", "survived", None, 3.5, "another\nbug"),
        mut.MutationResult("c_mutant", "equivalent", None, 2.0, "same", "no | change\nat all"),
        mut.MutationResult("d_mutant", "killed", "tests/t.py::test_y", 0.04, "d"),
    ]
    md, js = tmp_path / "a" / "b" / "mutation.md", tmp_path / "c" / "d" / "mutation.json"
    meta = {"jobs": 2, "note": "δ"}
    for _ in range(2):  # the second time the directories exist already
        mut.write_reports(results, md, js, meta)
    assert md.read_bytes().decode("utf-8") == (
        "# Mutation report\n"
        "\n"
        "4 mutants — equivalent: 1, killed: 2, survived: 1.\n"
        "\n"
        "- jobs: 2\n"
        "- note: δ\n"
        "\n"
        "| mutant | status | killed by | seconds | mistake |\n"
        "|---|---|---|---:|---|\n"
        "| a_mutant | killed | tests/t.py::test_x[p\\|q] | 1.2 | σ' \\| bug |\n"
        "| b_mutant | survived | — | 3.5 | another bug |\n"
        "| c_mutant | equivalent | — | 2.0 | same |\n"
        "| d_mutant | killed | tests/t.py::test_y | 0.0 | d |\n"
        "\n"
        "## Notes\n"
        "\n"
        "- **c_mutant** (equivalent): no \\| change at all\n"
    )
    payload = {
        "meta": meta,
        "results": [
            {"name": r.name, "status": r.status, "killed_by": r.killed_by, "seconds": r.seconds,
             "description": r.description, "detail": r.detail}
            for r in results
        ],
    }  # fmt: skip
    assert js.read_bytes().decode("utf-8") == json.dumps(payload, indent=2, ensure_ascii=False) + (
        "\n"
    )
    assert '"note": "δ"' in js.read_text(encoding="utf-8")
    assert mut.render_markdown([], {}).endswith("|---|---|---|---:|---|\n")  # no Notes section


def test_report_writer_produces_the_table(tmp_path: Path) -> None:
    results = [
        mut.MutationResult("a_mutant", "killed", "tests/t.py::test_x[p|q]", 1.25, "a | bug"),
        mut.MutationResult("b_mutant", "survived", None, 3.5, "another bug"),
        mut.MutationResult("c_mutant", "equivalent", None, 2.0, "same", "no observable change"),
    ]
    md, js = tmp_path / "r" / "mutation.md", tmp_path / "r" / "mutation.json"
    mut.write_reports(results, md, js, {"jobs": 2})
    text = md.read_text(encoding="utf-8")
    assert "| mutant | status | killed by | seconds | mistake |" in text
    assert "| a_mutant | killed | tests/t.py::test_x[p\\|q] | 1.2 | a \\| bug |" in text
    assert "| b_mutant | survived | — | 3.5 | another bug |" in text
    assert "3 mutants — equivalent: 1, killed: 1, survived: 1." in text
    assert "no observable change" in text
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["meta"] == {"jobs": 2}
    assert [r["status"] for r in data["results"]] == ["killed", "survived", "equivalent"]


def test_first_failing_test_is_parsed_from_pytest_output() -> None:
    out = (
        "....F\n=== short test summary info ===\n"
        "FAILED tests/test_a.py::test_b[x-float32] - AssertionError: no\n"
        "FAILED tests/test_a.py::test_c - AssertionError\n"
    )
    assert cmd._first_failure(out) == "tests/test_a.py::test_b[x-float32]"
    assert cmd._first_failure("ERROR tests/test_z.py - ImportError\n") == "tests/test_z.py"
    assert cmd._first_failure("5 passed in 1.0s\n") is None


def test_judging_outcomes() -> None:
    """Every field of every verdict: the report and the exit status are built from them."""
    plain = mut.CATALOGUE[0]
    equiv = next(m for m in mut.CATALOGUE if m.equivalent)
    R = mut.MutationResult
    name, desc = plain.name, plain.description
    assert cmd._judge(plain, 0, "", 1.5) == R(name, "survived", None, 1.5, desc, "")
    assert cmd._judge(equiv, 0, "", 2.5) == R(
        equiv.name, "equivalent", None, 2.5, equiv.description, str(equiv.equivalent)
    )
    failed = "FAILED tests/t.py::test_x - boom\n"
    assert cmd._judge(plain, 1, failed, 3.5) == R(name, "killed", "tests/t.py::test_x", 3.5, desc)
    # exit 1 without a FAILED line (a plugin ate the summary): still killed, by an unknown test
    assert cmd._judge(plain, 1, "", 3.5) == R(name, "killed", None, 3.5, desc)
    assert cmd._judge(plain, None, "partial output", 9.5) == R(
        name, "timeout", "(timeout)", 9.5, desc,
        "the suite did not finish in time; counted as killed",
    )  # fmt: skip
    # exit 2-4 with a failing test named (a collection error: the mutant broke an import)
    broken = "ERROR tests/t.py - ImportError: cannot import name\n"
    assert cmd._judge(plain, 2, broken, 4.5) == R(name, "killed", "tests/t.py", 4.5, desc)
    # exit 2-4 with none: an error, with the last three lines of output, at most 300 characters
    lines = "first line\n" + "".join(f"line {i}\n" for i in range(4)) + "\n"
    assert cmd._judge(plain, 4, lines, 5.5) == R(
        name, "error", None, 5.5, desc, "pytest exit 4: line 1 line 2 line 3"
    )
    long = "x" * 500
    assert cmd._judge(plain, 3, long, 5.5).detail == "pytest exit 3: " + "x" * 300


def test_copy_holds_the_sources_and_the_profile_plugin(tmp_path: Path) -> None:
    cmd._copy_project(ROOT, tmp_path)
    for name in (
        "refbp/network.py",
        "oracle/fast/__init__.py",
        "tests/conftest.py",
        "pyproject.toml",
    ):
        assert (tmp_path / name).is_file(), name
    plugin = tmp_path / f"{cmd._PLUGIN_NAME}.py"
    assert plugin.read_text(encoding="utf-8") == cmd._PLUGIN
    assert not list(tmp_path.rglob("__pycache__"))


def test_copy_leaves_caches_and_bytecode_behind(tmp_path: Path) -> None:
    """Stale bytecode or a Hypothesis database in a copy could hide the planted bug."""
    root, dest = tmp_path / "root", tmp_path / "dest"
    for name in ("refbp", "oracle", "tests"):
        (root / name / "__pycache__").mkdir(parents=True)
        (root / name / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"")
        (root / name / "stray.pyc").write_bytes(b"")
        (root / name / ".hypothesis" / "examples").mkdir(parents=True)
        (root / name / ".jax_cache").mkdir()
        (root / name / "m.py").write_text("x = 1\n", encoding="utf-8")
    (root / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    (root / "not_copied.py").write_text("", encoding="utf-8")
    dest.mkdir()
    cmd._copy_project(root, dest)
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert copied == sorted(
        ["oracle", "oracle/m.py", "refbp", "refbp/m.py", "tests", "tests/m.py",
         "pyproject.toml", f"{cmd._PLUGIN_NAME}.py"]
    )  # fmt: skip


def test_copy_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's environment, with the copy first on the path, the mutate profile, one BLAS
    thread per process, no bytecode written into the copy, and no verify log to append to."""
    import os

    monkeypatch.setenv("REFBP_VERIFY_LOG", "/somewhere/verify.log")
    monkeypatch.setenv("SOME_USER_SETTING", "kept")
    env = cmd._env(tmp_path, ROOT)
    expected = dict(os.environ)
    del expected["REFBP_VERIFY_LOG"]
    expected.update(
        PYTHONPATH=str(tmp_path), HYPOTHESIS_PROFILE="mutate", OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
        REFBP_JAX_CACHE=str(ROOT / ".jax_cache"), PYTHONDONTWRITEBYTECODE="1",
    )  # fmt: skip
    assert env == expected
    monkeypatch.delenv("REFBP_VERIFY_LOG")
    assert "REFBP_VERIFY_LOG" not in cmd._env(tmp_path, ROOT)


def test_suite_command(tmp_path: Path) -> None:
    """Only the suite files the copy has, in SUITE's order (cheapest first), -x, deselections."""
    import sys

    (tmp_path / "tests" / "differential").mkdir(parents=True)
    present = [cmd.SUITE[-1], cmd.SUITE[0]]
    for name in present:
        (tmp_path / name).write_text("", encoding="utf-8")
    head = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", cmd._PLUGIN_NAME]
    assert cmd._suite(tmp_path, ["a::b", "c::d"]) == [
        *head, "-x", cmd.SUITE[0], cmd.SUITE[-1], "--deselect", "a::b", "--deselect", "c::d"
    ]  # fmt: skip
    assert cmd._suite(tmp_path, []) == [*head, "-x", cmd.SUITE[0], cmd.SUITE[-1]]


def test_list_and_unknown_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from refbp.cli import main

    assert main(["mutate", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(mut.CATALOGUE)
    for line, m in zip(lines, mut.CATALOGUE, strict=True):
        mark = "  (equivalent)" if m.equivalent else ""
        assert line == f"{m.name:38s} {m.path:22s} {m.description}{mark}"
    equivalent = sum(m.equivalent is not None for m in mut.CATALOGUE)
    assert sum(line.endswith("  (equivalent)") for line in lines) == equivalent >= 1
    assert main(["mutate", "--only", "no_such_mutant"]) == 2
    assert "unknown mutation" in capsys.readouterr().err
    assert main(["mutate", "--root", str(tmp_path)]) == 2
    assert "holds no refbp/ to mutate" in capsys.readouterr().err


def test_reports_default_to_dot_refbp_in_the_current_directory() -> None:
    """A run leaves the checkout clean: the default is the git-ignored .refbp/ where the
    command is run (as for verify and train); `--reports reports` writes the reference."""
    from refbp.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["mutate"]).reports == Path(".refbp")
    assert parser.parse_args(["mutate", "--reports", "reports"]).reports == Path("reports")
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".refbp/" in ignored
