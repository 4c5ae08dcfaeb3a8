"""``refbp train``: train an MLP on scikit-learn's digits or on the user's own .npz/.csv data.

Classification when the targets are one column of integer labels (one-hot targets, softmax
cross-entropy, accuracy reported); regression (identity output, mse) otherwise.  Writes a
learning-curve PNG and a JSON summary under ``--out`` (default ``reports/``).
"""

from __future__ import annotations

import argparse
import json
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from refbp._types import FloatArray
from refbp_tools.progress import Progress

if TYPE_CHECKING:
    from refbp.network import MLP


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=["digits"], help="a bundled dataset (needs scikit-learn)")
    src.add_argument("--data", type=Path, help=".npz (arrays X and y) or .csv (label last)")
    p.add_argument("--target", default=None, help="csv: name or index of the label column")
    p.add_argument("--hidden", type=int, nargs="*", default=[128], help="hidden widths")
    p.add_argument("--activation", default="tanh", help="hidden activation (registry name)")
    p.add_argument("--epochs", type=int, default=30, help="passes over the training split")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    p.add_argument("--batch-size", type=int, default=32, help="examples per SGD step")
    p.add_argument("--momentum", type=float, default=0.9, help="momentum μ (0 for plain SGD)")
    p.add_argument(
        "--weight-decay", type=float, default=1e-4, help="L2 decay on the weights (not biases)"
    )
    p.add_argument(
        "--test-fraction", type=float, default=0.25, help="share held out for testing, in (0, 1)"
    )
    p.add_argument(
        "--dtype", choices=["float32", "float64"], default="float64", help="network and data dtype"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split, init and batches")
    p.add_argument("--out", type=Path, default=Path("reports"), help="where to write results")
    p.add_argument("--save", type=Path, default=None, help="save the trained network (.npz)")


def _load_digits() -> tuple[FloatArray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit(
            "refbp train --dataset digits needs scikit-learn: pip install 'refbp[data]'"
        ) from None
    d = load_digits()
    return np.asarray(d.data, dtype=np.float64) / 16.0, np.asarray(d.target)


def _load_file(path: Path, target: str | None) -> tuple[FloatArray, np.ndarray]:
    if not path.exists():
        raise SystemExit(f"refbp train: no such file {path}")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                keys = set(f.files)
                if "X" not in keys or not ({"y", "Y"} & keys):
                    raise SystemExit(
                        f"refbp train: {path} must hold arrays 'X' and 'y', has {sorted(keys)}"
                    )
                X, y = f["X"], f["y" if "y" in keys else "Y"]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise SystemExit(f"refbp train: cannot read {path} as a .npz archive: {exc}") from None
        if X.dtype.kind not in "biuf":
            raise SystemExit(f"refbp train: {path}: X must be numeric, got dtype {X.dtype}")
        return np.asarray(X, dtype=np.float64), np.asarray(y)
    if path.suffix == ".csv":
        with path.open() as fh:
            first = [c.strip() for c in fh.readline().strip().split(",")]
        has_header = any(not _is_number(c) for c in first)
        try:
            table = np.loadtxt(path, delimiter=",", skiprows=1 if has_header else 0, ndmin=2)
        except ValueError as exc:
            raise SystemExit(f"refbp train: cannot read {path} as numeric csv: {exc}") from None
        col = table.shape[1] - 1
        if target is not None:
            if has_header and target in first:
                col = first.index(target)
            else:
                try:
                    col = int(target)
                except ValueError:
                    valid = first if has_header else list(range(table.shape[1]))
                    raise SystemExit(
                        f"refbp train: --target {target!r} is not a column of {path}; "
                        f"columns are {valid}"
                    ) from None
            if not -table.shape[1] <= col < table.shape[1]:
                raise SystemExit(
                    f"refbp train: --target {col} is out of range for {table.shape[1]} columns"
                )
        y = table[:, col]
        X = np.delete(table, col, axis=1)
        return X, y
    raise SystemExit(f"refbp train: --data must be .npz or .csv, got {path.suffix!r}")


def _are_labels(y: np.ndarray) -> bool:
    """One column of class labels: strings or booleans, or at most 1000 distinct integers."""
    if y.ndim != 1:
        return False
    if y.dtype.kind in "bUS":
        return True
    if y.dtype.kind in "iu":
        return len(np.unique(y)) <= 1000
    if y.dtype.kind == "f" and np.isfinite(y).all():
        return bool(np.array_equal(y, np.round(y))) and len(np.unique(y)) <= 1000
    return False


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _split(
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


def _plot(history: list[float], test_curve: list[float], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(history) + 1)
    ax.plot(epochs, history, label="training loss")
    ax.plot(epochs, test_curve, label="held-out loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _fit(
    net: MLP,
    Xs: FloatArray,
    Y: FloatArray,
    tr: np.ndarray,
    te: np.ndarray,
    name: str,
    args: argparse.Namespace,
) -> tuple[list[float], list[float]]:
    """Train ``net`` on rows ``tr``; return (training loss, held-out loss) per epoch."""
    import refbp

    test_curve: list[float] = []
    with Progress(f"training on {name}", total=args.epochs) as bar:

        def on_epoch(epoch: int, value: float) -> None:
            test_curve.append(net.evaluate(Xs[te], Y[te]))
            bar.advance(text=f"loss {value:.4f}  held-out {test_curve[-1]:.4f}")

        history = refbp.train(
            net,
            Xs[tr],
            Y[tr],
            lr=args.lr,
            batch_size=args.batch_size,
            epochs=args.epochs,
            seed=args.seed,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            on_epoch=on_epoch,
        )
    return history, test_curve


def run(args: argparse.Namespace) -> int:
    import refbp

    start = time.perf_counter()
    name = "digits" if args.dataset else args.data.stem
    X, y = _load_digits() if args.dataset == "digits" else _load_file(args.data, args.target)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind in "biuUS":
        y = y[:, 0]  # one column of labels
    if X.ndim != 2 or len(X) == 0:
        raise SystemExit(f"refbp train: X must be a non-empty 2-D array, got shape {X.shape}")
    if len(y) != len(X):
        raise SystemExit(f"refbp train: X has {len(X)} rows but the targets have {len(y)}")
    if not np.isfinite(X).all():
        bad = tuple(np.argwhere(~np.isfinite(X))[0].tolist())
        raise SystemExit(f"refbp train: X must be finite, got {X[bad]} at index {bad}")
    classification = _are_labels(y)
    if classification:
        classes, labels = np.unique(y, return_inverse=True)
        Y = np.eye(len(classes))[labels]
        loss, out_act = "softmax_cross_entropy", "identity"
    else:
        labels = None
        Y = y.reshape(len(y), -1).astype(np.float64)
        loss, out_act = "mse", "identity"
    if not 0.0 < args.test_fraction < 1.0:
        raise SystemExit(
            f"refbp train: --test-fraction must be in (0, 1), got {args.test_fraction}"
        )
    tr, te = _split(len(X), args.test_fraction, args.seed, labels)
    if len(tr) == 0 or len(te) == 0:
        raise SystemExit(
            f"refbp train: {len(X)} samples split into {len(tr)} for training and {len(te)} "
            f"held out (--test-fraction {args.test_fraction}); both must be non-empty"
        )
    # Standardise with training statistics only, so the held-out split stays unseen.
    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
    sd[sd == 0] = 1.0
    Xs = (X - mu) / sd
    sizes = [X.shape[1], *args.hidden, Y.shape[1]]
    acts = [args.activation] * len(args.hidden) + [out_act]
    try:
        net = refbp.MLP.init(sizes, acts, loss, dtype=np.dtype(args.dtype), seed=args.seed)
        history, test_curve = _fit(net, Xs, Y, tr, te, name, args)
    except (refbp.RefbpError, ValueError) as exc:  # refbp's messages name the culprit
        raise SystemExit(f"refbp train: {exc}") from None

    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {
        "dataset": name,
        "sizes": sizes,
        "activations": acts,
        "loss": loss,
        "dtype": args.dtype,
        "epochs": args.epochs,
        "train_samples": len(tr),
        "test_samples": len(te),
        "final_train_loss": history[-1] if history else None,
        "final_test_loss": test_curve[-1] if test_curve else None,
        "seconds": round(seconds, 3),
    }
    if classification:
        pred = net.predict(Xs[te]).argmax(axis=1)
        summary["test_accuracy"] = float((pred == labels[te]).mean())  # type: ignore[index]
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / f"train-{name}.png"
    title = f"{name}: {sizes} {args.activation}, {loss}"
    summary["plot"] = str(png) if _plot(history, test_curve, png, title) else None
    if args.save is not None:
        summary["saved"] = str(refbp.save(net, args.save))
    (args.out / f"train-{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    for k, v in summary.items():
        print(f"{k:>18}: {v}")
    return 0
