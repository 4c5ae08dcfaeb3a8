"""What ``refbp train`` trains on: the data loaded, and the task decided (or guessed).

``load`` returns a ``Dataset`` (features X (N, F), raw targets y, and how they were read);
``decide_task`` turns y into the network's targets: one-hot rows for classification,
float columns for regression.  ``describe`` says, before training, what was understood.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refbp._types import FloatArray
from refbp_tools.train.table import read_table

__all__ = ["Dataset", "Task", "decide_task", "describe", "load"]

MAX_GUESSED_CLASSES = 1000  # more distinct integers than this are guessed to be a quantity
FEW_CLASSES = 20  # a first column with at most this many distinct integers looks like labels


@dataclass(frozen=True)
class Dataset:
    """Features X (N, F) as float64, targets y (N,) or (N, T) as read, and their story."""

    name: str
    X: FloatArray
    y: np.ndarray
    source: str  # e.g. "t.csv, comma-separated, with a header row"
    features: list[str] = field(default_factory=list)  # names, when the file has them
    target: str = "y"  # the target column's name, as the user would pass it


@dataclass(frozen=True)
class Task:
    """classification: Y one-hot (N, K) of the sorted ``classes``; labels (N,) index them."""

    classification: bool
    Y: FloatArray
    why: str
    guessed: bool
    classes: np.ndarray | None = None
    labels: np.ndarray | None = None


def load_digits() -> Dataset:
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise SystemExit(
            "refbp train --dataset digits needs scikit-learn: pip install 'refbp[data]'"
        ) from None
    d = sk_digits()
    X = np.asarray(d.data, dtype=np.float64) / 16.0  # pixel intensities 0..16 -> [0, 1]
    source = "scikit-learn's digits, 8×8 images of handwritten digits"
    return Dataset("digits", X, np.asarray(d.target), source, target="the digit shown, 0 to 9")


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if "X" not in keys or not ({"y", "Y"} & keys):
                raise SystemExit(
                    f"refbp train: {path} must hold arrays 'X' and 'y', has {sorted(keys)}"
                )
            key = "y" if "y" in keys else "Y"
            X, y = f["X"], f[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SystemExit(f"refbp train: cannot read {path} as a .npz archive: {exc}") from None
    if X.dtype.kind not in "biuf":
        raise SystemExit(f"refbp train: {path}: X must be numeric, got dtype {X.dtype}")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind in "biuUS":
        y = y[:, 0]  # one column of labels
    X = np.asarray(X, dtype=np.float64)
    return Dataset(path.stem, X, y, f"{path.name}, arrays X and {key}", target=f"array {key!r}")


def _load_csv(path: Path, target: str | None, delimiter: str | None, task: str | None) -> Dataset:
    table = read_table(path, delimiter)
    col = table.target_index(target)
    names = table.columns
    X = np.empty((len(table.rows), len(names) - 1), dtype=np.float64)
    kept = [c for c in range(len(names)) if c != col]
    for j, c in enumerate(kept):
        X[:, j] = table.numbers(c, "a feature")
    if task == "regression":
        y = table.numbers(col, "the target, for --task regression")
    else:
        y = table.labels(col)
    header = "with a header row" if table.header is not None else "no header row"
    source = f"{path.name}, {table.delimiter_name}-separated, {header}"
    if target is not None:
        chosen = "chosen with --target-column"
    elif col == table.named_target():
        chosen = "guessed from its name; choose another with --target-column"
    else:
        chosen = "the last; choose another with --target-column"
        chosen += _first_column_hint(X[:, 0], y, names[0])
    label = repr(names[col]) if table.header is not None else str(col)
    return Dataset(
        path.stem,
        X,
        y,
        source,
        [names[c] for c in kept] if table.header else [],
        f"column {label} ({chosen})",
    )


def _first_column_hint(first: FloatArray, y: np.ndarray, name: str) -> str:
    """A label column is often first: say so when the first column looks like labels (a
    few distinct integers) and the last, taken as the target, does not."""
    few = len(np.unique(first)) <= FEW_CLASSES and bool(np.array_equal(first, np.round(first)))
    if few and not are_labels(y):
        return f"; column {name!r}, the first, holds a few integers: is it the target?"
    return ""


def load(path: Path, target: str | None, delimiter: str | None, task: str | None) -> Dataset:
    """The user's .npz (arrays X and y) or .csv (one column is the target)."""
    if not path.exists():
        raise SystemExit(f"refbp train: no such file {path}")
    if path.suffix == ".npz":
        if target is not None or delimiter is not None:
            flag = "--target-column" if target is not None else "--delimiter"
            raise SystemExit(f"refbp train: {flag} is for .csv files; {path} is a .npz archive")
        return _load_npz(path)
    if path.suffix == ".csv":
        return _load_csv(path, target, delimiter, task)
    raise SystemExit(f"refbp train: --data must be .npz or .csv, got {path.suffix!r}")


def are_labels(y: np.ndarray) -> bool:
    """One column of class labels: strings or booleans, or at most 1000 distinct integers
    (integer-valued floats count: a csv column of labels)."""
    if y.ndim != 1:
        return False
    if y.dtype.kind in "bUS":
        return True
    if y.dtype.kind in "iu":
        return len(np.unique(y)) <= MAX_GUESSED_CLASSES
    if y.dtype.kind == "f" and np.isfinite(y).all():
        integral = bool(np.array_equal(y, np.round(y)))
        return integral and len(np.unique(y)) <= MAX_GUESSED_CLASSES
    return False


def _why(y: np.ndarray, classification: bool) -> str:
    if not classification:
        if y.ndim != 1:
            return f"{y.shape[1]} target columns"
        if y.dtype.kind in "iu":
            return f"more than {MAX_GUESSED_CLASSES} distinct integers"
        return "the targets are real numbers"
    kind = {"b": "true/false", "U": "text", "S": "text"}.get(y.dtype.kind, "integer")
    return f"the targets are {kind} labels"


def decide_task(y: np.ndarray, requested: str | None, target: str) -> Task:
    """The task asked for, or the guess (labels -> classification, else regression)."""
    guessed = requested is None
    classification = are_labels(y) if guessed else requested == "classification"
    if not classification:
        if y.dtype.kind not in "biuf":
            raise SystemExit(
                f"refbp train: --task regression needs numeric targets in {target}, "
                f"got {'text' if y.dtype.kind in 'US' else y.dtype} such as {str(y.flat[0])!r}"
            )
        Y = y.reshape(len(y), -1).astype(np.float64)
        return Task(False, Y, _why(y, False), guessed)
    if y.ndim != 1:
        raise SystemExit(
            f"refbp train: --task classification needs one column of class labels in {target}, "
            f"got targets of shape {y.shape}"
        )
    if y.dtype.kind == "f" and not bool(np.array_equal(y, np.round(y))):
        bad = y[np.flatnonzero(y != np.round(y))[0]]
        raise SystemExit(
            f"refbp train: --task classification needs class labels (integers or text) in "
            f"{target}, got the value {bad}; pass --task regression to fit the values"
        )
    classes, labels = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise SystemExit(
            f"refbp train: classification needs at least two classes, but every target in "
            f"{target} is {str(classes[0])!r}"
        )
    Y = np.eye(len(classes))[labels]
    return Task(True, Y, _why(y, True), guessed, classes, labels)


def _names(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown}, … ({len(values)} in all)"


def describe(data: Dataset, task: Task) -> list[str]:
    """What was understood, as printed before training."""
    n, f = data.X.shape
    feats = f" ({_names(data.features)})" if data.features else ""
    lines = [f"data: {data.source}", f"  {n} rows, {f} features{feats}", f"  target: {data.target}"]
    how = "as --task says"
    if task.guessed:
        how = f"guessed: {task.why}"
        if not task.classification and data.y.ndim == 1 and data.y.dtype.kind in "iu":
            how += "; pass --task classification if they are class labels"
        elif task.classification and data.y.dtype.kind in "iuf":
            how += "; pass --task regression to fit them as numbers"
    if task.classification:
        assert task.classes is not None
        names = _names([str(c) for c in task.classes.tolist()])
        k = len(task.classes)
        lines.append(f"  task: classification into {k} classes ({names}), softmax; {how}")
    else:
        k = task.Y.shape[1]
        outputs = "one output" if k == 1 else f"{k} outputs"
        lines.append(f"  task: regression, {outputs} (mse); {how}")
    return lines
