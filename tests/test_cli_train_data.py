"""``refbp train``'s data: which column is the target, which task, and every refusal.

Through the command (``refbp.cli.main``) where a user would see it: a CSV with the label
first, semicolon and tab files, string and integer labels, the task guessed and said before
training, and each malformed file refused with the file, line, column, what was expected and
what came, never a parser's message or a warning.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refbp.cli import main
from tests.refusals import command_refusal


@pytest.fixture(autouse=True)
def _no_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    """The learning curve is tested in test_cli_train.py; drawing it here (over a second a
    run on the shared cores) would only make these tests of data reading slow."""
    monkeypatch.setattr("refbp_tools.train.plot", lambda curves, path, title: False)


def _blobs(n: int = 90) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, np.argmax(X @ np.array([[1.0, -1.0, 0.0], [0.5, 1.0, -1.0], [0.0, 0.5, 1.0]]), axis=1)


def _write(path: Path, header: list[str] | None, rows: list[list[object]], sep: str = ",") -> Path:
    lines = [sep.join(header)] if header else []
    lines += [sep.join(f"{c:.5g}" if isinstance(c, float) else str(c) for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[dict[str, Any], list[str]]:
    """Run ``refbp train`` with warnings as errors; the summary and the lines printed."""
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["train", *args, "--epochs", "3", "--hidden", "8", "--out", str(out)]) == 0
    name = Path(args[args.index("--data") + 1]).stem
    summary = json.loads((out / f"train-{name}.json").read_text())
    return summary, capsys.readouterr().out.splitlines()


def _refused(tmp_path: Path, *args: str) -> str:
    said = command_refusal(["train", *args, "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()
    return said


def test_the_label_first_is_used_when_named_and_the_choice_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = _blobs()
    path = _write(tmp_path / "first.csv", ["species", "a", "b", "c"],
                  [[int(c), *x] for c, x in zip(y, X, strict=True)])  # fmt: skip
    for flag in ("--target-column", "--target"):  # --target is kept as an alias
        for value in ("species", "0"):
            s, printed = _train(tmp_path, capsys, "--data", str(path), flag, value)
            assert s["task"] == "classification" and s["sizes"] == [3, 8, 3]
            assert s["classes"] == ["0", "1", "2"]
            assert printed[:4] == [
                "data: first.csv, comma-separated, with a header row",
                "  90 rows, 3 features (a, b, c)",
                "  target: column 'species' (chosen with --target-column)",
                "  task: classification into 3 classes (0, 1, 2), softmax; guessed: the targets "
                "are integer labels; pass --task regression to fit them as numbers",
            ]


def test_without_a_target_column_the_choice_is_stated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A column named like a target wins; else the last column, and the line says so."""
    X, y = _blobs()
    named = _write(tmp_path / "named.csv", ["label", "a", "b", "c"],
                   [[int(c), *x] for c, x in zip(y, X, strict=True)])  # fmt: skip
    s, printed = _train(tmp_path, capsys, "--data", str(named))
    assert s["task"] == "classification"
    assert printed[2] == (
        "  target: column 'label' (guessed from its name; choose another with --target-column)"
    )
    plain = _write(tmp_path / "plain.csv", ["k", "a", "b", "c"],
                   [[int(c), *x] for c, x in zip(y, X, strict=True)])  # fmt: skip
    s, printed = _train(tmp_path, capsys, "--data", str(plain), "--lr", "0.01")
    assert s["task"] == "regression" and s["loss"] == "mse"  # on 'c', as it says
    assert printed[2] == (
        "  target: column 'c' (the last; choose another with --target-column; column 'k', the "
        "first, holds a few integers: is it the target?)"
    )
    assert (
        printed[3] == "  task: regression, one output (mse); guessed: the targets are real numbers"
    )


@pytest.mark.parametrize(
    ("sep", "flag", "name"),
    [(";", [], "semicolon"), ("\t", [], "tab"), (",", [], "comma"),
     (";", ["--delimiter", ";"], "semicolon"), ("\t", ["--delimiter", "tab"], "tab"),
     ("|", ["--delimiter", "|"], "'|'")],
)  # fmt: skip
def test_delimiters_are_detected_or_given(
    sep: str, flag: list[str], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = _blobs()
    path = _write(tmp_path / "d.csv", ["a", "b", "c", "y"],
                  [[*x, int(c)] for c, x in zip(y, X, strict=True)], sep)  # fmt: skip
    s, printed = _train(tmp_path, capsys, "--data", str(path), *flag)
    assert printed[0] == f"data: d.csv, {name}-separated, with a header row"
    assert s["sizes"][0] == 3 and s["task"] == "classification"


def test_string_labels_in_csv_as_in_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _blobs()
    names = np.array(["cat", "dog", "eel"])[y]
    path = _write(tmp_path / "pets.csv", None, [[*x, n] for n, x in zip(names, X, strict=True)])
    s, printed = _train(tmp_path, capsys, "--data", str(path))
    np.savez(tmp_path / "pets.npz", X=X, y=names)
    t, _ = _train(tmp_path, capsys, "--data", str(tmp_path / "pets.npz"))
    assert s["classes"] == t["classes"] == ["cat", "dog", "eel"]
    assert s["test_samples"] == t["test_samples"] and s["test_accuracy"] > 0.5
    assert printed[:4] == [
        "data: pets.csv, comma-separated, no header row",
        "  90 rows, 3 features",
        "  target: column 3 (the last; choose another with --target-column)",
        "  task: classification into 3 classes (cat, dog, eel), softmax; guessed: the targets are text labels",
    ]


def test_the_task_can_be_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _blobs()
    path = _write(tmp_path / "t.csv", ["a", "b", "c", "y"],
                  [[*x, int(c)] for c, x in zip(y, X, strict=True)])  # fmt: skip
    s, printed = _train(
        tmp_path, capsys, "--data", str(path), "--task", "regression", "--lr", "0.01"
    )
    assert s["loss"] == "mse" and s["sizes"][-1] == 1 and "test_accuracy" not in s
    assert printed[3] == "  task: regression, one output (mse); as --task says"
    real = _write(tmp_path / "r.csv", ["a", "y"], [[0.0, 0.5], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert _refused(tmp_path, "--data", str(real), "--task", "classification") == (
        "refbp train: --task classification needs class labels (integers or text) in column "
        "'y' (guessed from its name; choose another with --target-column), got the value 0.5; "
        "pass --task regression to fit the values"
    )
    pets = _write(tmp_path / "p.csv", ["a", "y"], [[0.0, "cat"], [1.0, "dog"]])
    assert _refused(tmp_path, "--data", str(pets), "--task", "regression") == (
        f"refbp train: {pets} line 2, column 'y': expected a number (the target, for --task "
        "regression), got 'cat'"
    )
    np.savez(tmp_path / "p.npz", X=np.ones((4, 1)), y=np.array(["a", "b", "a", "b"]))
    assert _refused(tmp_path, "--data", str(tmp_path / "p.npz"), "--task", "regression") == (
        "refbp train: --task regression needs numeric targets in array 'y', got text such as 'a'"
    )
    one = _write(tmp_path / "one.csv", ["a", "y"], [[0.0, 3], [1.0, 3], [2.0, 3]])
    assert _refused(tmp_path, "--data", str(one)) == (
        "refbp train: classification needs at least two classes, but every target in column "
        "'y' (guessed from its name; choose another with --target-column) is '3'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{path} is empty; expected a header row and rows of comma-, semicolon- or "
             "tab-separated values"),
        ("\n  \n", "{path} is empty; expected a header row and rows of comma-, semicolon- or "
                   "tab-separated values"),
        ("a,b,y\n", "{path} has a header row (a, b, y) but no data rows"),
        ("a,b,y\n1,2,0\n3,4\n", "{path} line 3: expected 3 cells like line 1, got 2"),
        ("a,b,y\n1,2,0\n\n3,4,1,5\n", "{path} line 4: expected 3 cells like line 1, got 4"),
        ("a,b,y\n1,2,0\n3,,1\n", "{path} line 3, column 'b': expected a number (a feature), "
                                 "got an empty cell; fill it in or drop the row"),
        ("a,b,y\n1,NA,0\n3,4,1\n", "{path} line 2, column 'b': expected a number (a feature), "
                                   "got the missing value 'NA'; fill it in or drop the row"),
        ("a,b,y\n1,2,0\n3,4,\n", "{path} line 3, column 'y': expected a target value, got an "
                                 "empty cell; fill it in or drop the row"),
        ("a,b,y\n1,2,0\n3,x,1\n", "{path} line 3, column 'b': expected a number (a feature), got "
                                  "'x'; if this column is the target, pass --target-column b"),
        ("a,b,y\n1,inf,0\n3,4,1\n", "{path} line 2, column 'b': expected a finite number "
                                    "(a feature), got 'inf'"),
        ("1 2 0\n3 4 1\n", "{path} line 1: expected at least two columns (features and a target) "
                           "separated by commas, got one; if its columns are separated by something else, "
                           "pass --delimiter"),
    ],
)  # fmt: skip
def test_malformed_csv_is_refused_with_line_and_column(
    text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert _refused(tmp_path, "--data", str(path)) == "refbp train: " + message.format(path=path)


def test_a_label_first_csv_without_target_column_is_refused_with_the_fix(tmp_path: Path) -> None:
    """The label first and the last column numeric would be a silent regression on a feature;
    with text labels in front the features cannot be read, and the message names the fix."""
    path = _write(tmp_path / "f.csv", ["kind", "a", "b"], [["cat", 1.0, 2.0], ["dog", 3.0, 4.0]])
    assert _refused(tmp_path, "--data", str(path)) == (
        f"refbp train: {path} line 2, column 'kind': expected a number (a feature), got 'cat'; "
        "if this column is the target, pass --target-column kind"
    )


def test_target_column_refusals(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", ["a", "b", "label"], [[1, 2, 0], [3, 4, 1], [5, 6, 0]])
    assert _refused(tmp_path, "--data", str(path), "--target-column", "nope") == (
        f"refbp train: --target-column 'nope' is not a column of {path}; "
        "columns are ['a', 'b', 'label']"
    )
    for bad in ("3", "-4"):
        assert _refused(tmp_path, "--data", str(path), "--target-column", bad) == (
            f"refbp train: --target-column {bad} is out of range for 3 columns"
        )
    plain = _write(tmp_path / "p.csv", None, [[1, 2, 7], [3, 4, 8]])
    assert _refused(tmp_path, "--data", str(plain), "--target-column", "x").endswith(
        "columns are [0, 1, 2]"
    )
    np.savez(tmp_path / "d.npz", X=np.ones((4, 2)), y=np.arange(4))
    for flag in ("--target-column", "--delimiter"):
        assert _refused(tmp_path, "--data", str(tmp_path / "d.npz"), flag, ";") == (
            f"refbp train: {flag} is for .csv files; {tmp_path / 'd.npz'} is a .npz archive"
        )


def test_a_bad_delimiter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", "x.csv", "--delimiter", "::"])
    assert exc.value.code == 2
    assert "argument --delimiter: expected one character or one of" in capsys.readouterr().err


def test_csv_columns_read_exactly(tmp_path: Path) -> None:
    from refbp_tools.train.data import load

    path = tmp_path / "t.csv"
    path.write_text('a, b ,"label"\n1,2,0\n3,4,1\n5,6,0\n')
    d = load(path, None, None, None)  # the header skipped; 'label' by name
    assert d.X.tolist() == [[1, 2], [3, 4], [5, 6]] and d.y.tolist() == [0, 1, 0]
    assert d.y.dtype == np.int64 and d.features == ["a", "b"]
    d = load(path, "b", None, None)  # a name, spaces around it ignored
    assert d.X.tolist() == [[1, 0], [3, 1], [5, 0]] and d.y.tolist() == [2, 4, 6]
    assert load(path, "0", None, None).y.tolist() == [1, 3, 5]
    assert load(path, "-2", None, None).y.tolist() == [2, 4, 6]
    floats = tmp_path / "f.csv"
    floats.write_text("1,2,0.5\n3,4,1\n")  # no header; a real-valued target
    d = load(floats, None, None, None)
    assert d.X.tolist() == [[1, 2], [3, 4]] and d.y.dtype == np.float64
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("a,b,y,\n1,2,0,\n3,4,1,\n")  # a delimiter ending every line
    d = load(trailing, None, None, None)
    assert d.X.tolist() == [[1, 2], [3, 4]] and d.y.tolist() == [0, 1]
    one = tmp_path / "one.csv"
    one.write_text("1,2,7\n")  # a single row is still a table, not a header
    assert load(one, None, None, None).X.tolist() == [[1, 2]]
    bom = tmp_path / "bom.csv"
    bom.write_bytes("a;b\r\n1,5;0\r\n2,5;1\r\n".encode("utf-8-sig"))  # Excel's semicolon export
    with pytest.raises(SystemExit) as exc:
        load(bom, None, None, None)
    assert str(exc.value) == (
        f"refbp train: {bom} line 2, column 'a': expected a number (a feature), got '1,5'; "
        "decimal commas are not read: write 1.5, not 1,5"
    )
    bom.write_text("a;y\n1.5;0,5\n2.5;1\n")  # a decimal comma in the target: not a class name
    with pytest.raises(SystemExit) as exc:
        load(bom, None, None, None)
    assert str(exc.value).endswith(
        "line 2, column 'y': expected a number (the target), got '0,5'; "
        "decimal commas are not read: write 1.5, not 1,5"
    )


def test_npz_contents(tmp_path: Path) -> None:
    from refbp_tools.train.data import load

    good = tmp_path / "g.npz"
    np.savez(good, X=np.array([[1, 2], [3, 4]], dtype=np.int32), y=np.array([0, 1]))
    d = load(good, None, None, None)
    assert d.X.dtype == np.float64 and d.X.tolist() == [[1, 2], [3, 4]] and d.y.tolist() == [0, 1]
    for name, arrays in (("noy", {"X": np.ones((2, 2))}), ("nox", {"y": np.ones(2)})):
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(SystemExit) as exc:
            load(tmp_path / f"{name}.npz", None, None, None)
        assert str(exc.value) == (
            f"refbp train: {tmp_path / name}.npz must hold arrays 'X' and 'y', has {sorted(arrays)}"
        )
    both = tmp_path / "both.npz"
    np.savez(both, X=np.ones((2, 1)), y=np.array([1, 2]), Y=np.array([3, 4]))
    assert load(both, None, None, None).y.tolist() == [1, 2]  # 'y' wins over 'Y'
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    with pytest.raises(SystemExit) as exc:  # never unpickle a user's file
        load(pickled, None, None, None)
    assert str(exc.value).startswith(f"refbp train: cannot read {pickled} as a .npz archive: ")
    assert "allow_pickle" in str(exc.value)
    text = tmp_path / "text.npz"
    np.savez(text, X=np.array([["a", "b"]]), y=np.array([0]))
    with pytest.raises(SystemExit) as exc:
        load(text, None, None, None)
    assert str(exc.value) == f"refbp train: {text}: X must be numeric, got dtype <U1"
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match=r"cannot read .*junk.npz as a \.npz archive"):
        load(junk, None, None, None)


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--data", "{tmp}/nothing.npz"], "no such file"),
        ("text", ["--data", "{tmp}/notes.txt"], "must be .npz or .csv"),
        ("csv", ["--data", "{tmp}/t.csv", "--test-fraction", "0"], "--test-fraction"),
        ("csv", ["--data", "{tmp}/t.csv", "--lr", "-1"],
         "argument --lr: expected a learning rate above 0, got -1"),
    ],
)
def test_bad_input_exits_with_a_message(
    setup: str | None, args: list[str], message: str, tmp_path: Path
) -> None:
    if setup == "text":
        (tmp_path / "notes.txt").write_text("1,2,3\n")
    elif setup == "csv":
        X, y = _blobs(20)
        _write(
            tmp_path / "t.csv",
            ["a", "b", "c", "y"],
            [[*x, int(c)] for c, x in zip(y, X, strict=True)],
        )
    got = _refused(tmp_path, *[a.format(tmp=tmp_path) for a in args])
    assert got.startswith("refbp train: ") and message in got


@pytest.mark.parametrize(
    ("y", "labels"),
    [
        (np.array([[0], [1]]), False),  # two columns of targets (2-D): regression
        (np.array([True, False]), True),
        (np.array(["a", "b"]), True),
        (np.array([b"a", b"b"]), True),
        (np.arange(1000), True),
        (np.arange(1001), False),  # more distinct integers than any classifier here wants
        (np.arange(1000, dtype=np.uint16), True),
        (np.arange(1000.0), True),  # integral floats
        (np.arange(1001.0), False),
        (np.array([0.0, 0.5]), False),
        (np.array([0.0, np.nan]), False),
        (np.array([0.0, np.inf]), False),
        (np.array([1 + 0j, 2 + 0j]), False),
    ],
)
def test_which_targets_are_guessed_to_be_labels(y: np.ndarray, labels: bool) -> None:
    from refbp_tools.train.data import are_labels

    assert are_labels(y) is labels


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n", "has a header row (a, b, y) but no data rows"),
        ("a;b;y\n1;2\n", "line 2: expected 3 cells like line 1, got 2"),
        (
            "",
            "is empty; expected a header row and rows of comma-, semicolon- or tab-separated values",
        ),
    ],
)
def test_the_installed_command_prints_one_line_and_no_warning(
    text: str, message: str, tmp_path: Path
) -> None:
    """As a user runs it: stderr is the one message (no traceback, no NumPy text, no
    UserWarning naming a source file), exit code 2 (unusable input), nothing written."""
    import subprocess
    import sys

    path = tmp_path / "d.csv"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "refbp.cli", "train", "--data", str(path), "--out", "o"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"refbp train: {path} {message}\n"
    assert not (tmp_path / "o").exists()
