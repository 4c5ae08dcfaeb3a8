"""``refbp train``: train an MLP on scikit-learn's digits or on the user's own .npz/.csv data.

The data (``data.load``): a .npz with arrays X and y, or a .csv whose delimiter (comma,
semicolon, tab) and header row are detected and whose target column is the last unless
``--target-column`` names another.  The task (``data.decide_task``): classification when
``--task`` says so or, by default, when the targets are labels (text, booleans, integers):
one-hot targets, softmax cross-entropy, accuracy reported; regression (identity output,
mse) otherwise.  What was understood is printed before training.  Then a stratified split,
standardisation with the training rows' statistics, ``refbp.MLP.init`` and ``refbp.train``.
Writes a learning-curve PNG and a JSON summary under ``--out`` (default ``.refbp/``, which
git ignores: a run leaves the checkout clean; ``--out reports`` regenerates the reference).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from refbp._types import FloatArray
from refbp_tools.argtypes import count, number, positive
from refbp_tools.paths import unwritable
from refbp_tools.progress import Progress
from refbp_tools.train.data import Dataset, Task, decide_task, describe, load, load_digits
from refbp_tools.train.plot import Curves, plot
from refbp_tools.train.table import DELIMITERS, parse_delimiter

if TYPE_CHECKING:
    from refbp.network import MLP

__all__ = ["add_arguments", "run"]

PLOT_SKIPPED = "skipped: matplotlib is not installed (pip install 'refbp[data]')"


def _delimiter(text: str) -> str:
    try:
        return parse_delimiter(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# flag, type, default, help: the optimisation options, each shown with its default in --help;
# a value outside its range is refused by argparse (exit 2, the flag named), before any work
_TRAINING: tuple[tuple[str, Callable[[str], Any], float, str], ...] = (
    ("--epochs", positive, 30, "passes over the training split"),
    ("--lr", number("a learning rate above 0", "lr", lambda v: v > 0), 0.1, "SGD learning rate"),
    ("--batch-size", positive, 32, "examples per SGD step"),
    ("--momentum", number("a momentum in [0, 1)", "momentum", lambda v: 0 <= v < 1), 0.9,
     "momentum μ, 0 for plain SGD"),
    ("--weight-decay", number("a weight decay of at least 0", "decay", lambda v: v >= 0), 1e-4,
     "L2 decay on the weights, not the biases"),
    ("--test-fraction", number("a fraction in (0, 1)", "fraction", lambda v: 0 < v < 1), 0.25,
     "share held out for testing, in (0, 1)"),
    ("--seed", count, 0, "seed of the split, init and batches"),
)  # fmt: skip


def _data_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=["digits"], help="a bundled dataset (needs scikit-learn)")
    src.add_argument("--data", type=Path, help=".npz (arrays X and y) or .csv file")
    p.add_argument(
        "--target-column",
        "--target",
        dest="target_column",
        metavar="NAME|INDEX",
        help="csv: the target column, by header name or index from 0 (default: a "
        "column named label, target, y or class, else the last)",
    )
    p.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: classification when the targets are labels (text, "
        "true/false or integers), regression otherwise; the guess is printed",
    )
    p.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                   help=f"csv: the cell separator, one character or {', '.join(DELIMITERS)} "
                        "(default: detected among comma, semicolon and tab)")  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    import refbp

    _data_arguments(p)
    p.add_argument(
        "--hidden",
        type=positive,
        nargs="*",
        default=[128],
        help="hidden layer widths (default: %(default)s)",
    )
    p.add_argument(
        "--activation",
        default="tanh",
        choices=list(refbp.ACTIVATIONS),
        metavar="NAME",
        help="hidden activation, one of %(choices)s (default: %(default)s)",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float64",
        help="network and data dtype (default: %(default)s)",
    )
    for flag, kind, default, text in _TRAINING:
        p.add_argument(flag, type=kind, default=default, help=f"{text} (default: %(default)s)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path(".refbp"),
        help="folder for the plot and the JSON summary (default: %(default)s)",
    )
    p.add_argument("--save", type=Path, default=None,
                   help="also save the trained network here (.npz)")  # fmt: skip


def split(
    n: int, fraction: float, seed: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test); stratified by label when there are labels."""
    rng = np.random.default_rng(seed)
    if labels is None:
        perm = rng.permutation(n)
        k = round(n * fraction)
        return perm[k:], perm[:k]
    train_idx, test_idx = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = round(len(idx) * fraction)
        test_idx.append(idx[:k])
        train_idx.append(idx[k:])
    return rng.permutation(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def _accuracy(net: MLP, X: FloatArray, labels: np.ndarray) -> float:
    return float((net.predict(X).argmax(axis=1) == labels).mean())


def _fit(net: MLP, Xs: FloatArray, task: Task, tr: np.ndarray, te: np.ndarray,
         name: str, args: argparse.Namespace) -> Curves:  # fmt: skip
    """Train ``net`` on rows ``tr``; the curves per epoch, held-out rows ``te``."""
    import refbp

    curves = Curves()
    Y = task.Y
    with Progress(f"training on {name}", total=args.epochs) as bar:

        def on_epoch(epoch: int, value: float) -> None:
            curves.test_loss.append(net.evaluate(Xs[te], Y[te]))
            text = f"loss {value:.4f}  held-out {curves.test_loss[-1]:.4f}"
            if task.labels is not None:
                curves.train_accuracy.append(_accuracy(net, Xs[tr], task.labels[tr]))
                curves.test_accuracy.append(_accuracy(net, Xs[te], task.labels[te]))
                text += f"  accuracy {curves.test_accuracy[-1]:.3f}"
            bar.advance(text=text)

        curves.train_loss = refbp.train(
            net, Xs[tr], Y[tr], lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
            seed=args.seed, momentum=args.momentum, weight_decay=args.weight_decay,
            on_epoch=on_epoch,
        )  # fmt: skip
    return curves


def _checked(data: Dataset) -> None:
    X, y = data.X, data.y
    if X.ndim != 2 or len(X) == 0:
        raise SystemExit(f"refbp train: X must be a non-empty 2-D array, got shape {X.shape}")
    if len(y) != len(X):
        raise SystemExit(f"refbp train: X has {len(X)} rows but the targets have {len(y)}")
    if not np.isfinite(X).all():
        bad = tuple(np.argwhere(~np.isfinite(X))[0].tolist())
        raise SystemExit(f"refbp train: X must be finite, got {X[bad]} at index {bad}")


def _split_checked(n: int, task: Task, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    # --test-fraction is in (0, 1) already (its argparse type); a small n can still leave
    # one side empty
    tr, te = split(n, args.test_fraction, args.seed, task.labels)
    if len(tr) == 0 or len(te) == 0:
        raise SystemExit(
            f"refbp train: {n} samples split into {len(tr)} for training and {len(te)} "
            f"held out (--test-fraction {args.test_fraction}); both must be non-empty"
        )
    return tr, te


def run(args: argparse.Namespace) -> int:
    """Train and write the reports.  Exit 0: done; 1: the training diverged; 2: the
    arguments, the data or a path cannot be used (said on stderr).  Nothing is written
    unless the training succeeded."""
    try:
        return _train_and_write(args)
    except SystemExit as exc:
        if isinstance(exc.code, str):  # a refusal, with its message: a usage error
            print(exc.code, file=sys.stderr)
            return 2
        raise


def _train_and_write(args: argparse.Namespace) -> int:
    import refbp

    start = time.perf_counter()
    for flag, path, directory in (("--out", args.out, True), ("--save", args.save, False)):
        why = None if path is None else unwritable(Path(path), directory=directory)
        if why is not None:  # before training, not after it
            raise SystemExit(f"refbp train: {flag}: {why}")
    if args.dataset == "digits":
        data = load_digits()
    else:
        data = load(args.data, args.target_column, args.delimiter, args.task)
    _checked(data)
    task = decide_task(data.y, args.task, data.target)
    tr, te = _split_checked(len(data.X), task, args)
    for line in describe(data, task):
        print(line, flush=True)
    # Standardise with training statistics only, so the held-out split stays unseen (a
    # constant column is divided by 1).  The statistics are taken of each column divided by
    # the power of two just above its largest training magnitude: that division is exact, so
    # the result has the same bits as without it, and values near the float64 limit no
    # longer overflow in the sum or the squares.
    scale = np.ldexp(1.0, np.frexp(np.abs(data.X[tr]).max(axis=0))[1])
    X = data.X / scale
    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
    sd[sd == 0] = 1.0 / scale[sd == 0]
    Xs = (X - mu) / sd
    loss = "softmax_cross_entropy" if task.classification else "mse"
    sizes = [X.shape[1], *args.hidden, task.Y.shape[1]]
    acts = [args.activation] * len(args.hidden) + ["identity"]
    try:
        net = refbp.MLP.init(sizes, acts, loss, dtype=np.dtype(args.dtype), seed=args.seed)
        curves = _fit(net, Xs, task, tr, te, data.name, args)
    except refbp.NumericalError as exc:  # the settings made the training diverge
        print(f"refbp train: {exc}", file=sys.stderr)
        return 1
    except (refbp.RefbpError, ValueError) as exc:  # refbp's messages name the culprit
        raise SystemExit(f"refbp train: {exc}") from None

    summary: dict[str, Any] = {
        "dataset": data.name,
        "task": "classification" if task.classification else "regression",
        "sizes": sizes,
        "activations": acts,
        "loss": loss,
        "dtype": args.dtype,
        "epochs": args.epochs,
        "train_samples": len(tr),
        "test_samples": len(te),
        "final_train_loss": curves.train_loss[-1] if curves.train_loss else None,
        "final_test_loss": curves.test_loss[-1] if curves.test_loss else None,
    }
    if task.classification:
        assert task.classes is not None and task.labels is not None
        summary["classes"] = [str(c) for c in task.classes.tolist()]
        summary["train_accuracy"] = _accuracy(net, Xs[tr], task.labels[tr])
        summary["test_accuracy"] = _accuracy(net, Xs[te], task.labels[te])
    # The network first: one that cannot be saved leaves the reports as they were.
    if args.save is not None:
        try:
            Path(args.save).parent.mkdir(parents=True, exist_ok=True)
            summary["saved"] = str(refbp.save(net, args.save))
        except OSError as exc:
            raise SystemExit(f"refbp train: --save: cannot write {args.save}: {exc}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / f"train-{data.name}.png"
    title = f"{data.name}: {sizes} {args.activation}, {loss}"
    summary["plot"] = str(png) if plot(curves, png, title) else None
    summary["seconds"] = round(time.perf_counter() - start, 3)
    (args.out / f"train-{data.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    for k, v in summary.items():
        if k == "classes" and len(v) > 10:
            v = f"{len(v)} classes"
        print(f"{k:>18}: {PLOT_SKIPPED if k == 'plot' and v is None else v}")
    return 0
