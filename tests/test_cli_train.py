"""``refbp train``: on the user's .npz / .csv data and on scikit-learn's digits.

Run in-process through ``refbp.cli.main`` (the console script's entry point); the
subprocess form ``python -m refbp.cli train`` is exercised in test_import.py with JAX
blocked.  refbp alone: no JAX, no oracle.
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


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.1])
def test_split_is_stratified_seeded_and_complete(seed: int, fraction: float) -> None:
    from refbp_tools.train import split

    labels = np.array([0] * 10 + [1] * 7 + [2] * 3 + [5] * 1)
    rng = np.random.default_rng(99)
    labels = labels[rng.permutation(len(labels))]
    tr, te = split(len(labels), fraction, seed, labels)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(labels)))
    for c, n in ((0, 10), (1, 7), (2, 3), (5, 1)):  # each class held out by its own share
        assert int((labels[te] == c).sum()) == round(n * fraction)
    assert te.tolist() == sorted(te.tolist())  # held-out rows in file order
    again = split(len(labels), fraction, seed, labels)
    assert tr.tolist() == again[0].tolist() and te.tolist() == again[1].tolist()
    other = split(len(labels), fraction, seed + 1, labels)
    assert tr.tolist() != other[0].tolist()  # the seed decides
    assert tr.tolist() != sorted(tr.tolist())  # training rows shuffled across classes

    tr, te = split(40, fraction, seed, None)  # regression: one shuffled split
    assert len(te) == round(40 * fraction) and len(tr) == 40 - len(te)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(40))
    assert np.concatenate([tr, te]).tolist() != list(range(40))
    assert split(40, fraction, seed + 1, None)[1].tolist() != te.tolist()


def test_run_is_the_documented_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary recomputed from the recipe the module documents: stratified split,
    standardisation with the training rows' mean and standard deviation (a constant column
    divided by 1), MLP.init with the seed, refbp.train with every option, the held-out loss
    after each epoch, accuracy from argmax."""
    import itertools

    import refbp
    from refbp_tools.train import split
    from tests.figures import record_saved_figures

    X, y = _classification(60)
    tr, te = split(60, 0.3, 11, y)
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
    train_accuracy = float((net.predict(Xs[tr]).argmax(axis=1) == y[tr]).mean())
    out = tmp_path / "out"
    expected = {
        "dataset": "d", "task": "classification", "sizes": sizes, "activations": acts,
        "loss": "softmax_cross_entropy", "dtype": "float32", "epochs": 3,
        "train_samples": len(tr), "test_samples": len(te),
        "final_train_loss": history[-1], "final_test_loss": held_out[-1],
        "classes": ["3", "4", "5"], "train_accuracy": train_accuracy, "test_accuracy": accuracy,
        "plot": str(out / "train-d.png"), "seconds": 1.235,
    }  # fmt: skip
    assert s == expected
    assert (out / "train-d.json").read_text() == json.dumps(expected, indent=2) + "\n"
    printed = capsys.readouterr().out.splitlines()
    assert printed[-len(expected) :] == [f"{k:>18}: {v}" for k, v in expected.items()]
    assert printed[:4] == [
        "data: d.npz, arrays X and y",
        "  60 rows, 3 features",
        "  target: array 'y'",
        "  task: classification into 3 classes (3, 4, 5), softmax; guessed: the targets are "
        "integer labels; pass --task regression to fit them as numbers",
    ]  # what was understood comes before training
    assert "training on d: 3/3 loss" in "\n".join(printed[4:])

    [loss_plot, accuracy_plot] = plots["train-d.png"]["axes"]
    assert plots["train-d.png"]["size"] == [10.0, 4.0]
    assert plots["train-d.png"]["savefig"] == {"dpi": 120}
    assert loss_plot["title"] == "d: [3, 5, 4, 3] relu, softmax_cross_entropy"
    assert (loss_plot["xlabel"], loss_plot["ylabel"], loss_plot["yscale"]) == (
        "epoch",
        "loss",
        "log",
    )
    assert [(ln["label"], ln["x"]) for ln in loss_plot["lines"]] == [
        ("training loss", [1.0, 2.0, 3.0]), ("held-out loss", [1.0, 2.0, 3.0])
    ]  # fmt: skip
    assert loss_plot["lines"][0]["y"] == [float(f"{v:.6g}") for v in history]
    assert loss_plot["lines"][1]["y"] == [float(f"{v:.6g}") for v in held_out]
    assert loss_plot["legend"]["labels"] == ["training loss", "held-out loss"]
    # accuracy beside the loss: after each epoch, on the training and the held-out rows
    assert (accuracy_plot["xlabel"], accuracy_plot["ylabel"]) == ("epoch", "accuracy")
    assert accuracy_plot["legend"]["labels"] == ["training accuracy", "held-out accuracy"]
    train_acc, test_acc = (ln["y"] for ln in accuracy_plot["lines"])
    assert train_acc[-1] == float(f"{train_accuracy:.6g}")
    assert test_acc[-1] == float(f"{accuracy:.6g}")
    assert all(0.0 <= v <= 1.0 for v in train_acc + test_acc) and len(test_acc) == 3


def test_regression_plots_the_loss_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.figures import record_saved_figures

    X, y = _regression(40)
    np.savez(tmp_path / "r.npz", X=X, y=y)
    plots = record_saved_figures(monkeypatch)
    _run(tmp_path, "--data", str(tmp_path / "r.npz"), "--epochs", "2", "--lr", "0.01")
    [only] = plots["train-r.png"]["axes"]
    assert plots["train-r.png"]["size"] == [6.0, 4.0] and only["ylabel"] == "loss"


def test_regression_targets_keep_their_columns(tmp_path: Path) -> None:
    X, y = _regression(40)
    np.savez(tmp_path / "two.npz", X=X, Y=np.c_[y, -y])  # 'Y' is accepted for 'y'
    s = _run(tmp_path, "--data", str(tmp_path / "two.npz"), "--epochs", "1", "--hidden")
    assert s["sizes"] == [3, 2] and s["loss"] == "mse" and s["activations"] == ["identity"]
    assert (s["train_samples"], s["test_samples"]) == (30, 10)


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
    assert command_refusal([*argv, "--out", str(tmp_path / "o")]) == f"refbp train: {message}"
    assert not (tmp_path / "o").exists()


def test_an_unusable_out_or_save_is_refused_before_training(tmp_path: Path) -> None:
    X, y = _classification(20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    a_file = tmp_path / "a_file"
    a_file.write_text("kept\n")
    for flag, place, why in (("--out", a_file, "exists and is not a directory"),
                             ("--save", tmp_path, "is a directory")):  # fmt: skip
        argv = ["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o")]
        said = command_refusal([*argv, flag, str(place)])
        assert said == f"refbp train: {flag}: {place} {why}"
    assert a_file.read_text() == "kept\n" and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("flag", "bad", "expected"),
    [
        ("--test-fraction", "0", "a fraction in (0, 1)"),
        ("--test-fraction", "1", "a fraction in (0, 1)"),
        ("--test-fraction", "-0.5", "a fraction in (0, 1)"),
        ("--test-fraction", "nan", "a fraction in (0, 1)"),
        ("--epochs", "0", "a positive integer"),  # trains nothing: no report to write
        ("--epochs", "-1", "a positive integer"),
        ("--batch-size", "0", "a positive integer"),
        ("--hidden", "0", "a positive integer"),
        ("--lr", "0", "a learning rate above 0"),
        ("--lr", "inf", "a learning rate above 0"),
        ("--momentum", "1", "a momentum in [0, 1)"),
        ("--momentum", "nan", "a momentum in [0, 1)"),
        ("--weight-decay", "-1", "a weight decay of at least 0"),
        ("--seed", "-1", "a non-negative integer"),
    ],
)
def test_a_setting_out_of_its_range_is_a_usage_error_naming_the_flag(
    flag: str, bad: str, expected: str, tmp_path: Path
) -> None:
    """Refused by argparse before any work (exit 2, the flag named, nothing written): a
    negative seed used to end in NumPy's traceback, --epochs 0 in a report of no losses
    that replaced the previous run's."""
    X, y = _classification(20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    argv = ["train", "--data", str(tmp_path / "d.npz"), flag, bad, "--out", str(tmp_path / "o")]
    said = command_refusal(argv)
    assert said.endswith(f"argument {flag}: expected {expected}, got {bad}") or said.endswith(
        f"argument {flag}: expected {expected}, got {float(bad)}"
    ), said
    assert not (tmp_path / "o").exists()


def test_digits_are_scaled_to_the_unit_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from refbp_tools.train.data import load_digits

    pytest.importorskip("sklearn")
    d = load_digits()
    X, y = d.X, d.y
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0  # pixel intensities 0..16
    assert sorted(set(y.tolist())) == list(range(10))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # as if not installed
    with pytest.raises(SystemExit) as exc:
        load_digits()
    assert str(exc.value) == (
        "refbp train --dataset digits needs scikit-learn: pip install 'refbp[data]'"
    )


def test_without_matplotlib_the_plot_is_skipped_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
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
    printed = capsys.readouterr().out
    assert (
        "              plot: skipped: matplotlib is not installed (pip install 'refbp[data]')\n"
        in printed
    )
    assert "None" not in printed
    # a column of byte-string labels is one column of labels: classification, three classes
    assert summary["loss"] == "softmax_cross_entropy" and summary["sizes"][-1] == 3


def test_a_single_held_out_sample_and_a_deep_out_dir(tmp_path: Path) -> None:
    """One held-out sample is enough; --out may not exist yet, or exist already."""
    X, y = _regression(4)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "a" / "b"
    for _ in range(2):
        argv = ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--out", str(out)]
        assert main(argv) == 0
    s = json.loads((out / "train-d.json").read_text())
    assert (s["train_samples"], s["test_samples"]) == (3, 1)
    assert np.isfinite(s["final_train_loss"]) and np.isfinite(s["final_test_loss"])


def test_an_unknown_activation_is_a_usage_error_listing_the_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import refbp

    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "digits", "--activation", "swish"])
    assert exc.value.code == 2
    names = ", ".join(f"'{n}'" for n in refbp.ACTIVATIONS)
    assert f"argument --activation: invalid choice: 'swish' (choose from {names})" in (
        capsys.readouterr().err
    )


def test_features_near_the_float64_limit_are_standardised_without_overflow(
    tmp_path: Path,
) -> None:
    """Finite features as large as 1e308 (a whole column, or one cell) train like any other:
    no RuntimeWarning from the variance's squares, no NaN made out of finite data, and the
    standardised column is the same as for the data divided by 2^1000."""
    X, y = _regression(40)
    big = X.copy()
    big[:, 0] *= 2.0**1000  # ~1e301: its squares overflow float64
    big[3, 1] = 1e308
    np.savez(tmp_path / "big.npz", X=big, y=y)
    small = big.copy()
    small[:, 0] /= 2.0**1000
    np.savez(tmp_path / "small.npz", X=small, y=y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs = [_run(tmp_path / name, "--data", str(tmp_path / f"{name}.npz"), "--epochs", "2",
                     "--hidden", "3") for name in ("big", "small")]  # fmt: skip
    assert np.isfinite(runs[0]["final_train_loss"])
    # column 0 standardises to the same values either way: the same training, bit for bit
    assert runs[0]["final_train_loss"] == runs[1]["final_train_loss"]


def test_save_makes_its_folder_and_a_failed_save_writes_no_report(tmp_path: Path) -> None:
    X, y = _classification(20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    base = ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--hidden", "3"]
    deep = tmp_path / "nets" / "today" / "n.npz"
    assert main([*base, "--out", str(tmp_path / "o"), "--save", str(deep)]) == 0
    assert deep.is_file()
    first = (tmp_path / "o" / "train-d.json").read_text()
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder would go\n")
    # a folder that cannot be made, found only when saving: exit 2, the old reports kept
    said = command_refusal([*base, "--out", str(tmp_path / "o"),
                            "--save", str(blocker / "n.npz")])  # fmt: skip
    assert said.startswith("refbp train: --save: ") and str(blocker) in said
    assert (tmp_path / "o" / "train-d.json").read_text() == first


def test_a_diverging_training_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a usage error: the settings were valid and the run failed (lr far too large)."""
    X, y = _regression(40)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    argv = ["train", "--data", str(tmp_path / "d.npz"), "--lr", "1e10", "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    assert "the loss came out non-finite" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
