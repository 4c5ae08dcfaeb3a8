"""``refbp train``: on the user's .npz / .csv data and on scikit-learn's digits.

Run in-process through ``refbp.cli.main`` (the console script's entry point); the
subprocess form ``python -m refbp.cli train`` is exercised in test_import.py with JAX
blocked.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refbp.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "out"
    assert main(["train", *args, "--out", str(out)]) == 0
    (summary_file,) = out.glob("train-*.json")
    summary: dict[str, Any] = json.loads(summary_file.read_text())
    png = Path(summary["plot"])
    assert png.parent == out and png.read_bytes().startswith(PNG_MAGIC)
    return summary


def _classification(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, np.argmax(X @ np.array([[1.0, -1.0, 0.0], [0.5, 1.0, -1.0], [0.0, 0.5, 1.0]]), axis=1)


def _regression(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.05 * rng.normal(size=n)


def test_npz_classification(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _classification()
    np.savez(tmp_path / "blobs.npz", X=X, y=y)
    s = _run(tmp_path, "--data", str(tmp_path / "blobs.npz"), "--epochs", "20")
    assert s["dataset"] == "blobs" and s["loss"] == "softmax_cross_entropy"
    assert s["sizes"] == [3, 128, 3] and s["train_samples"] + s["test_samples"] == len(X)
    assert s["test_accuracy"] >= 0.85  # a near-linear problem
    assert s["final_train_loss"] < 0.5 and s["seconds"] > 0
    printed = capsys.readouterr().out
    assert "test_accuracy" in printed and "final_train_loss" in printed


def test_npz_regression(tmp_path: Path) -> None:
    X, y = _regression()
    np.savez(tmp_path / "line.npz", X=X, y=y)
    s = _run(tmp_path, "--data", str(tmp_path / "line.npz"), "--epochs", "20", "--lr", "0.01")
    assert s["loss"] == "mse" and s["activations"][-1] == "identity"
    assert "test_accuracy" not in s
    assert s["final_test_loss"] < 0.1 * float(np.var(y))  # it explains most of the variance


def test_csv_classification_with_header(tmp_path: Path) -> None:
    X, y = _classification()
    path = tmp_path / "table.csv"
    np.savetxt(path, np.c_[y, X], delimiter=",", header="label,a,b,c", comments="", fmt="%.6g")
    s = _run(
        tmp_path,
        "--data",
        str(path),
        "--target",
        "label",
        "--epochs",
        "20",
        "--hidden",
        "16",
        "--dtype",
        "float32",
    )
    assert s["loss"] == "softmax_cross_entropy" and s["dtype"] == "float32"
    assert s["sizes"] == [3, 16, 3] and s["test_accuracy"] >= 0.85


def test_csv_regression_without_header(tmp_path: Path) -> None:
    X, y = _regression()
    path = tmp_path / "plain.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",")  # label last, the default
    s = _run(tmp_path, "--data", str(path), "--epochs", "20", "--lr", "0.01")
    assert s["loss"] == "mse" and s["sizes"][0] == 3
    assert s["final_test_loss"] < 0.1 * float(np.var(y))


def test_string_labels_and_save(tmp_path: Path) -> None:
    import refbp

    X, y = _classification()
    np.savez(tmp_path / "named.npz", X=X, y=np.array(["cat", "dog", "eel"])[y])
    s = _run(
        tmp_path,
        "--data",
        str(tmp_path / "named.npz"),
        "--epochs",
        "5",
        "--save",
        str(tmp_path / "model.npz"),
    )
    assert s["loss"] == "softmax_cross_entropy"
    assert refbp.load(s["saved"]).sizes == s["sizes"]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--data", "{tmp}/nothing.npz"], "no such file"),
        ("text", ["--data", "{tmp}/notes.txt"], "must be .npz or .csv"),
        ("other", ["--data", "{tmp}/other.npz"], "must hold arrays 'X' and 'y'"),
        ("csv", ["--data", "{tmp}/t.csv", "--target", "nope"], "not a column"),
        ("csv", ["--data", "{tmp}/t.csv", "--test-fraction", "0"], "--test-fraction"),
        ("csv", ["--data", "{tmp}/t.csv", "--activation", "swish"], "unknown activation"),
        ("csv", ["--data", "{tmp}/t.csv", "--lr", "-1"], "lr must be"),
    ],
)
def test_bad_input_exits_with_a_message(
    setup: str | None, args: list[str], message: str, tmp_path: Path
) -> None:
    if setup == "text":
        (tmp_path / "notes.txt").write_text("1,2,3\n")
    elif setup == "other":
        np.savez(tmp_path / "other.npz", features=np.ones((4, 2)))
    elif setup == "csv":
        X, y = _classification(20)
        np.savetxt(tmp_path / "t.csv", np.c_[X, y], delimiter=",", header="a,b,c,y", comments="")
    argv = ["train", *[a.format(tmp=tmp_path) for a in args], "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match="^refbp train: .*" + message.replace("-", r"\-")):
        main(argv)


def test_digits_reaches_96_percent(tmp_path: Path) -> None:
    """The acceptance test: `refbp train --dataset digits` with its defaults (~3 s)."""
    pytest.importorskip("sklearn")
    s = _run(tmp_path, "--dataset", "digits")
    assert s["dataset"] == "digits" and s["sizes"][0] == 64 and s["sizes"][-1] == 10
    assert s["test_samples"] >= 300  # a held-out quarter of the 1797 images, not a handful
    assert s["test_accuracy"] >= 0.96, s
