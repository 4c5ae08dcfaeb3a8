"""Save and load a network as a plain ``.npz`` archive (no pickle, so loading runs no code).

Keys: ``format`` (= "refbp-mlp-1"), ``W0..W{L-1}``, ``b0..b{L-1}``, ``activations``
(a unicode array of names) and ``loss``.  A round trip is bit-exact: arrays are stored in
the network's dtype.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from refbp.errors import ShapeError
from refbp.network import MLP

__all__ = ["load", "save"]

FORMAT = "refbp-mlp-1"


def save(net: MLP, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` to ``path`` (``.npz`` is appended by NumPy if missing); return the path."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "activations": np.array(net.activations, dtype=np.str_),
        "loss": np.array(net.loss),
    }
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i}"] = w
        arrays[f"b{i}"] = b
    p = Path(path)
    if p.suffix != ".npz":
        p = p.with_name(p.name + ".npz")
    np.savez(p, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds oddly
    return p


def load(path: str | os.PathLike[str]) -> MLP:
    """Read a network written by ``save``; the archive is opened with allow_pickle=False."""
    with np.load(path, allow_pickle=False) as data:
        if "format" not in data or str(data["format"]) != FORMAT:
            raise ShapeError(f"load: {os.fspath(path)!r} is not a refbp network ({FORMAT}) archive")
        names = [str(n) for n in data["activations"]]
        weights = [data[f"W{i}"] for i in range(len(names))]
        biases = [data[f"b{i}"] for i in range(len(names))]
        return MLP(weights, biases, names, str(data["loss"]))
