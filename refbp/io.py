"""Save and load a network as a plain ``.npz`` archive (no pickle, so loading runs no code).

Keys: ``format`` (= "refbp-mlp-1"), ``W0..W{L-1}``, ``b0..b{L-1}``, ``activations``
(a unicode array of names) and ``loss``.  A round trip is bit-exact: arrays are stored in
the network's dtype.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from refbp._validate import check_finite
from refbp.errors import DTypeError, FormatError, RefbpError
from refbp.network import MLP

__all__ = ["load", "save"]

FORMAT = "refbp-mlp-1"


def save(net: MLP, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` to ``path`` (``.npz`` is appended if missing); return the path written."""
    if not isinstance(net, MLP):
        raise DTypeError(f"save: net must be a refbp.MLP, got {type(net).__name__}")
    # load() refuses a network with inf or NaN parameters: do not write a file it would refuse
    for kind, params in (("weights", net.weights), ("biases", net.biases)):
        for i, arr in enumerate(params):
            check_finite(arr, f"{kind}[{i}]", "save")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "activations": np.array(net.activations, dtype=np.str_),
        "loss": np.array(net.loss),
    }
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i}"] = w
        arrays[f"b{i}"] = b
    if not isinstance(path, (str, os.PathLike)):
        raise DTypeError(f"save: path must be a str or a path, got {type(path).__name__}")
    p = Path(path)
    if p.name in ("", ".", ".."):
        raise ValueError(f"save: path must name a file, got {os.fspath(path)!r}")
    if p.suffix != ".npz":
        p = p.with_name(p.name + ".npz")
    try:
        np.savez(p, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds oddly
    except OSError as exc:  # no such folder, a folder of that name, no permission, disk full
        raise type(exc)(exc.errno, f"save: cannot write {p}: {exc.strerror or exc}") from None
    return p


def _read(path: str | os.PathLike[str], shown: str) -> dict[str, np.ndarray]:
    """Every array of the archive, read with allow_pickle=False."""
    p = Path(path)
    if not p.exists() and p.suffix != ".npz" and p.with_name(p.name + ".npz").exists():
        p = p.with_name(p.name + ".npz")  # what save() wrote for this path
    try:
        # the file opened here, not by np.load, which leaves it open when the archive is
        # refused (a truncated zip): it is closed on every way out
        f = open(p, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file {shown}") from None
    except OSError as exc:  # a folder, no permission
        raise _not_npz(shown, str(exc)) from None
    with f:
        return _members(f, shown)


def _not_npz(shown: str, why: str) -> FormatError:
    return FormatError(f"load: {shown} is not a .npz archive written by refbp.save ({why})")


def _members(f: BinaryIO, shown: str) -> dict[str, np.ndarray]:
    try:
        archive = np.load(f, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # a pickle, a text file, a truncated or corrupt archive; NumPy's own advice for a
        # pickle ("load it unsafely with allow_pickle=") is not passed on
        why = "a pickle or another format" if "allow_pickle" in str(exc) else str(exc)
        raise _not_npz(shown, why) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FormatError(
            f"load: {shown} holds a single array (.npy), expected a .npz archive written by "
            "refbp.save"
        )
    with archive:
        arrays: dict[str, np.ndarray] = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                if "allow_pickle" not in str(exc):  # a damaged member, not a pickled one
                    raise FormatError(
                        f"load: {shown} is corrupt: cannot read {key!r} ({exc})"
                    ) from None
                raise FormatError(
                    f"load: {shown} holds an object (pickled) array {key!r}, which is refused: "
                    "loading never unpickles"
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise FormatError(
                    f"load: {shown} is corrupt: cannot read {key!r} ({exc})"
                ) from None
    return arrays


def _text(arr: np.ndarray | None, ndim: int) -> bool:
    return arr is not None and arr.dtype.kind == "U" and arr.ndim == ndim


def load(path: str | os.PathLike[str]) -> MLP:
    """Read a network written by ``save``; the archive is opened with allow_pickle=False.

    Anything else (a missing file aside, which raises FileNotFoundError) raises a
    ``FormatError`` that names the file and what was wrong with it.
    """
    shown = repr(os.fspath(path))
    arrays = _read(path, shown)
    fmt = arrays.get("format")
    if not _text(fmt, 0) or str(fmt) != FORMAT:
        got = "no 'format' key" if fmt is None else f"format {fmt!r}"
        raise FormatError(
            f"load: {shown} is not a refbp network archive: expected format {FORMAT!r}, got {got}"
        )
    names, loss = arrays.get("activations"), arrays.get("loss")
    if names is None or not _text(names, 1) or len(names) == 0:
        raise FormatError(
            f"load: {shown}: expected 'activations' to be a 1-D array of names, got {names!r}"
        )
    if loss is None or not _text(loss, 0):
        raise FormatError(f"load: {shown}: expected 'loss' to be one name, got {loss!r}")
    n = len(names)
    expected = {"format", "activations", "loss"} | {f"W{i}" for i in range(n)}
    expected |= {f"b{i}" for i in range(n)}
    if set(arrays) != expected:
        raise FormatError(
            f"load: {shown}: a {n}-layer network needs exactly the keys {sorted(expected)}, "
            f"got {sorted(arrays)}"
        )
    weights = [arrays[f"W{i}"] for i in range(n)]
    biases = [arrays[f"b{i}"] for i in range(n)]
    try:
        return MLP(weights, biases, [str(s) for s in names], str(loss))
    except RefbpError as exc:
        raise type(exc)(f"load: {shown} does not hold a valid network: {exc}") from None
