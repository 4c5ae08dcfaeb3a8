"""Copying a checked network and its data into a padded bucket, and slicing results back.

Results are float64 NumPy copies of the real parts (small contiguous arrays, not views of
the padding), with the meaning of :func:`oracle.network.backprop`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from oracle._checks import F64, Network, check_inputs, check_network, check_targets
from oracle.fast.buckets import Buckets, buckets_for, float_size, split_floats
from oracle.fast.core import ACT_INDEX, LOSS_INDEX, SKIP
from oracle.network import OracleResult

__all__ = ["Packed", "checked_pack", "pack", "unpack"]


class Packed(NamedTuple):
    """The arguments of :data:`oracle.fast.core.core_jit`, in its order: the bucket's flat
    floats (:func:`oracle.fast.buckets.float_layout`), the activation indices (D,) followed
    by the loss index, and the bucket."""

    floats: F64
    ints: npt.NDArray[np.int32]
    bucket: Buckets


def pack(net: Network, x: F64, y: F64 | None) -> tuple[Packed, Buckets]:
    """``net`` on ``x (B, n_in)``, ``y (B, n_out)`` in its bucket (zero targets if None).

    Every layer's parameters sit in the top-left corner of its padded slot; identity
    padding layers carry the output layer's units in their unit mask.
    """
    B = x.shape[0]
    bk = buckets_for(net.widths, B)
    floats = np.zeros(float_size(bk))
    f = split_floats(floats, bk)
    widths = net.widths
    L = len(net.weights)
    for i, (w, bias) in enumerate(zip(net.weights, net.biases, strict=True)):
        f["W"][i, : w.shape[0], : w.shape[1]] = w
        f["b"][i, : bias.shape[0]] = bias
    f["X"][:B, : x.shape[1]] = x
    if y is not None:
        f["Y"][:B, : y.shape[1]] = y
    for i in range(bk.depth):
        f["unit_mask"][i, : widths[min(i, L - 1) + 1]] = 1.0
    f["row_mask"][:B] = 1.0
    f["n_rows"][...] = B
    f["n_entries"][...] = B * widths[-1]
    ints = np.full(bk.depth + 1, SKIP, dtype=np.int32)
    ints[:L] = [ACT_INDEX[a] for a in net.activations]
    ints[-1] = LOSS_INDEX[net.loss]
    return Packed(floats, ints, bk), bk


def checked_pack(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> tuple[Packed, tuple[int, ...], int]:
    """The arguments validated and copied into the padded bucket; the real widths and B."""
    who = "oracle.backprop_fast"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    packed, _ = pack(net, x, y)
    return packed, net.widths, x.shape[0]


def unpack(raw: Sequence[Any], widths: Sequence[int], B: int) -> OracleResult:
    """The real parts of ``core_jit``'s padded results, for ``widths`` and B rows."""
    c, out, deltas, gW, gb, gX = raw
    L = len(widths) - 1
    # Copies, so that results are small contiguous arrays, not views of the padding.
    return OracleResult(
        loss=float(c),
        output=np.array(out[:B, : widths[-1]]),
        deltas=[np.array(deltas[i, :B, : widths[i + 1]]) for i in range(L)],
        grad_weights=[np.array(gW[i, : widths[i], : widths[i + 1]]) for i in range(L)],
        grad_biases=[np.array(gb[i, : widths[i + 1]]) for i in range(L)],
        grad_input=np.array(gX[:B, : widths[0]]),
    )
