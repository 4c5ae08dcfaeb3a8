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


# --- every step of `refbp train`, checked exactly ----------------------------------------------


def test_a_data_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train"])
    assert exc.value.code == 2
    assert "one of the arguments --dataset --data is required" in capsys.readouterr().err


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
        (np.arange(1000.0), True),  # integral floats (a csv column of labels)
        (np.arange(1001.0), False),
        (np.array([0.0, 0.5]), False),
        (np.array([0.0, np.nan]), False),
        (np.array([0.0, np.inf]), False),
        (np.array([1 + 0j, 2 + 0j]), False),
    ],
)
def test_which_targets_are_labels(y: np.ndarray, labels: bool) -> None:
    from refbp_tools.train import _are_labels

    assert _are_labels(y) is labels


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.1])
def test_split_is_stratified_seeded_and_complete(seed: int, fraction: float) -> None:
    from refbp_tools.train import _split

    labels = np.array([0] * 10 + [1] * 7 + [2] * 3 + [5] * 1)
    rng = np.random.default_rng(99)
    labels = labels[rng.permutation(len(labels))]
    tr, te = _split(len(labels), fraction, seed, labels)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(labels)))
    for c, n in ((0, 10), (1, 7), (2, 3), (5, 1)):  # each class held out by its own share
        assert int((labels[te] == c).sum()) == round(n * fraction)
    assert te.tolist() == sorted(te.tolist())  # held-out rows in file order
    again = _split(len(labels), fraction, seed, labels)
    assert tr.tolist() == again[0].tolist() and te.tolist() == again[1].tolist()
    other = _split(len(labels), fraction, seed + 1, labels)
    assert tr.tolist() != other[0].tolist()  # the seed decides
    assert tr.tolist() != sorted(tr.tolist())  # training rows shuffled across classes

    tr, te = _split(40, fraction, seed, None)  # regression: one shuffled split
    assert len(te) == round(40 * fraction) and len(tr) == 40 - len(te)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(40))
    assert np.concatenate([tr, te]).tolist() != list(range(40))
    assert _split(40, fraction, seed + 1, None)[1].tolist() != te.tolist()


def test_run_is_the_documented_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary recomputed from the recipe the module documents: stratified split,
    standardisation with the training rows' mean and standard deviation (a constant column
    divided by 1), MLP.init with the seed, refbp.train with every option, the held-out loss
    after each epoch, accuracy from argmax."""
    import itertools

    import refbp
    from refbp_tools.train import _split
    from tests.figures import record_saved_figures

    X, y = _classification(60)
    tr, te = _split(60, 0.3, 11, y)
    X[:, 1] = 3.0  # constant on the training rows: its standard deviation 0 is replaced by 1
    X[te, 1] = 5.0  # (so the held-out rows show which value replaced it)
    X[:, 2] *= 100.0
    np.savez(tmp_path / "d.npz", X=X, y=(y + 3)[:, None])  # one column of labels 3, 4, 5
    plots = record_saved_figures(monkeypatch)
    clock = itertools.chain([100.0], itertools.repeat(101.2345678))
    monkeypatch.setattr("refbp_tools.train.time.perf_counter", lambda: next(clock))
    argv = ["--data", str(tmp_path / "d.npz"), "--hidden", "5", "4", "--activation", "relu",
            "--epochs", "3", "--lr", "0.05", "--batch-size", "7", "--momentum", "0.5",
            "--weight-decay", "0.01", "--test-fraction", "0.3", "--dtype", "float32",
            "--seed", "11"]  # fmt: skip
    s = _run(tmp_path, *argv)

    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
    sd[1] = 1.0
    Xs = (X - mu) / sd
    Y = np.eye(3)[y]
    sizes, acts = [3, 5, 4, 3], ["relu", "relu", "identity"]
    net = refbp.MLP.init(sizes, acts, "softmax_cross_entropy", dtype=np.float32, seed=11)
    held_out: list[float] = []
    history = refbp.train(
        net, Xs[tr], Y[tr], lr=0.05, batch_size=7, epochs=3, seed=11, momentum=0.5,
        weight_decay=0.01, on_epoch=lambda e, v: held_out.append(net.evaluate(Xs[te], Y[te])),
    )  # fmt: skip
    accuracy = float((net.predict(Xs[te]).argmax(axis=1) == y[te]).mean())
    out = tmp_path / "out"
    expected = {
        "dataset": "d", "sizes": sizes, "activations": acts, "loss": "softmax_cross_entropy",
        "dtype": "float32", "epochs": 3, "train_samples": len(tr), "test_samples": len(te),
        "final_train_loss": history[-1], "final_test_loss": held_out[-1],
        "seconds": 1.235, "test_accuracy": accuracy, "plot": str(out / "train-d.png"),
    }  # fmt: skip
    assert s == expected
    assert (out / "train-d.json").read_text() == json.dumps(expected, indent=2) + "\n"
    printed = capsys.readouterr().out.splitlines()
    assert printed[-len(expected) :] == [f"{k:>18}: {v}" for k, v in expected.items()]
    assert "training on d: 3/3 loss" in "\n".join(printed)

    [plot] = plots["train-d.png"]["axes"]
    assert plots["train-d.png"]["size"] == [6.0, 4.0]
    assert plots["train-d.png"]["savefig"] == {"dpi": 120}
    assert plot["title"] == "d: [3, 5, 4, 3] relu, softmax_cross_entropy"
    assert (plot["xlabel"], plot["ylabel"], plot["yscale"]) == ("epoch", "loss", "log")
    assert [(ln["label"], ln["x"]) for ln in plot["lines"]] == [
        ("training loss", [1.0, 2.0, 3.0]), ("held-out loss", [1.0, 2.0, 3.0])
    ]  # fmt: skip
    assert plot["lines"][0]["y"] == [float(f"{v:.6g}") for v in history]
    assert plot["lines"][1]["y"] == [float(f"{v:.6g}") for v in held_out]
    assert plot["legend"]["labels"] == ["training loss", "held-out loss"]


def test_regression_targets_keep_their_columns(tmp_path: Path) -> None:
    X, y = _regression(40)
    np.savez(tmp_path / "two.npz", X=X, Y=np.c_[y, -y])  # 'Y' is accepted for 'y'
    s = _run(tmp_path, "--data", str(tmp_path / "two.npz"), "--epochs", "1", "--hidden")
    assert s["sizes"] == [3, 2] and s["loss"] == "mse" and s["activations"] == ["identity"]
    assert (s["train_samples"], s["test_samples"]) == (30, 10)


def test_csv_columns(tmp_path: Path) -> None:
    from refbp_tools.train import _load_file

    path = tmp_path / "t.csv"
    path.write_text("a, b ,label\n1,2,0\n3,4,1\n5,6,0\n")
    X, y = _load_file(path, None)  # the last column by default; the header skipped
    assert X.tolist() == [[1, 2], [3, 4], [5, 6]] and y.tolist() == [0, 1, 0]
    X, y = _load_file(path, "b")  # a name, spaces around it ignored
    assert X.tolist() == [[1, 0], [3, 1], [5, 0]] and y.tolist() == [2, 4, 6]
    X, y = _load_file(path, "0")  # an index
    assert y.tolist() == [1, 3, 5] and X.dtype == np.float64
    assert _load_file(path, "-2")[1].tolist() == [2, 4, 6]
    assert _load_file(path, "-3")[1].tolist() == [1, 3, 5]
    for bad in ("3", "-4"):
        with pytest.raises(SystemExit) as exc:
            _load_file(path, bad)
        assert str(exc.value) == f"refbp train: --target {bad} is out of range for 3 columns"
    with pytest.raises(SystemExit) as exc:
        _load_file(path, "nope")
    assert str(exc.value) == (
        f"refbp train: --target 'nope' is not a column of {path}; columns are ['a', 'b', 'label']"
    )
    plain = tmp_path / "p.csv"
    plain.write_text("1,2,7\n3,4,8\n")  # no header: the first row is data
    X, y = _load_file(plain, None)
    assert X.tolist() == [[1, 2], [3, 4]] and y.tolist() == [7, 8]
    with pytest.raises(SystemExit) as exc:
        _load_file(plain, "x")
    assert str(exc.value).endswith("columns are [0, 1, 2]")
    one = tmp_path / "one.csv"
    one.write_text("1,2,7\n")  # a single row is still a table
    assert _load_file(one, None)[0].tolist() == [[1, 2]]
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(SystemExit, match=rf"^refbp train: cannot read {broken} as numeric csv: "):
        _load_file(broken, None)


def test_npz_contents(tmp_path: Path) -> None:
    from refbp_tools.train import _load_file

    good = tmp_path / "g.npz"
    np.savez(good, X=np.array([[1, 2], [3, 4]], dtype=np.int32), y=np.array([0, 1]))
    X, y = _load_file(good, None)
    assert X.dtype == np.float64 and X.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]
    for name, arrays in (("noy", {"X": np.ones((2, 2))}), ("nox", {"y": np.ones(2)})):
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(SystemExit) as exc:
            _load_file(tmp_path / f"{name}.npz", None)
        assert str(exc.value) == (
            f"refbp train: {tmp_path / name}.npz must hold arrays 'X' and 'y', has {sorted(arrays)}"
        )
    both = tmp_path / "both.npz"
    np.savez(both, X=np.ones((2, 1)), y=np.array([1, 2]), Y=np.array([3, 4]))
    assert _load_file(both, None)[1].tolist() == [1, 2]  # 'y' wins over 'Y'
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    with pytest.raises(SystemExit) as exc:  # never unpickle a user's file
        _load_file(pickled, None)
    assert str(exc.value).startswith(f"refbp train: cannot read {pickled} as a .npz archive: ")
    assert "allow_pickle" in str(exc.value)
    text = tmp_path / "text.npz"
    np.savez(text, X=np.array([["a", "b"]]), y=np.array([0]))
    with pytest.raises(SystemExit) as exc:
        _load_file(text, None)
    assert str(exc.value) == f"refbp train: {text}: X must be numeric, got dtype <U1"
    flags = tmp_path / "flags.npz"
    np.savez(flags, X=np.array([[True], [False]]), y=np.array([0, 1]))
    assert _load_file(flags, None)[0].tolist() == [[1.0], [0.0]]
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match=r"cannot read .*junk.npz as a \.npz archive"):
        _load_file(junk, None)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.ones(4), np.arange(4), "X must be a non-empty 2-D array, got shape (4,)"),
        (np.ones((0, 2)), np.arange(0), "X must be a non-empty 2-D array, got shape (0, 2)"),
        (np.ones((4, 2)), np.arange(3), "X has 4 rows but the targets have 3"),
        (np.array([[1.0, 2.0], [3.0, np.inf]]), np.arange(2),
         "X must be finite, got inf at index (1, 1)"),
        (np.ones((2, 2)), np.arange(2),  # one sample per class: nothing left to train on
         "2 samples split into 0 for training and 2 held out (--test-fraction 0.9); both must "
         "be non-empty"),
    ],
)  # fmt: skip
def test_unusable_data_is_refused_exactly(
    X: np.ndarray, y: np.ndarray, message: str, tmp_path: Path
) -> None:
    np.savez(tmp_path / "d.npz", X=X, y=y)
    argv = ["train", "--data", str(tmp_path / "d.npz"), "--test-fraction", "0.9"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path / "o")])
    assert str(exc.value) == f"refbp train: {message}"
    assert not (tmp_path / "o").exists()


def test_test_fraction_bounds(tmp_path: Path) -> None:
    X, y = _classification(20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    for bad in ("0", "1", "-0.5", "1.5"):
        with pytest.raises(SystemExit) as exc:
            main(["train", "--data", str(tmp_path / "d.npz"), "--test-fraction", bad,
                  "--out", str(tmp_path / "o")])  # fmt: skip
        assert str(exc.value) == (
            f"refbp train: --test-fraction must be in (0, 1), got {float(bad)}"
        )


def test_digits_are_scaled_to_the_unit_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from refbp_tools.train import _load_digits

    pytest.importorskip("sklearn")
    X, y = _load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0  # pixel intensities 0..16
    assert sorted(set(y.tolist())) == list(range(10))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # as if not installed
    with pytest.raises(SystemExit) as exc:
        _load_digits()
    assert str(exc.value) == (
        "refbp train --dataset digits needs scikit-learn: pip install 'refbp[data]'"
    )


def test_without_matplotlib_there_is_no_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    X, y = _classification(40)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([b"p", b"q", b"r"])[y][:, None])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    out = tmp_path / "out"
    assert (
        main(["train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--out", str(out)]) == 0
    )
    summary = json.loads((out / "train-d.json").read_text())
    assert summary["plot"] is None and not list(out.glob("*.png"))
    # a column of byte-string labels is one column of labels: classification, three classes
    assert summary["loss"] == "softmax_cross_entropy" and summary["sizes"][-1] == 3


def test_zero_epochs_a_single_held_out_sample_and_a_deep_out_dir(tmp_path: Path) -> None:
    """--epochs 0 reports the untrained network (no losses); one held-out sample is enough;
    --out may not exist yet, or exist already."""
    X, y = _regression(4)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "a" / "b"
    for _ in range(2):
        argv = ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "0", "--out", str(out)]
        assert main(argv) == 0
    s = json.loads((out / "train-d.json").read_text())
    assert (s["train_samples"], s["test_samples"]) == (3, 1)
    assert s["final_train_loss"] is None and s["final_test_loss"] is None
