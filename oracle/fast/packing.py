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
from oracle.fast.buckets import Buckets, buckets_for
from oracle.fast.core import ACT_INDEX, LOSS_INDEX, SKIP
from oracle.network import OracleResult

__all__ = ["Packed", "checked_pack", "pack", "pack_params", "pack_structure", "unpack"]


class Packed(NamedTuple):
    """The arguments of :data:`oracle.fast.core.core_jit`, in its order."""

    W: F64
    b: F64
    act_idx: npt.NDArray[np.int32]
    loss_idx: npt.NDArray[np.int32]
    X: F64
    Y: F64
    unit_mask: npt.NDArray[np.bool_]
    row_mask: npt.NDArray[np.bool_]
    n_rows: F64
    n_entries: F64


def pack_params(net: Network, bk: Buckets) -> tuple[F64, F64]:
    """``W (D, P, P)`` and ``b (D, P)``: each layer's parameters in the top-left corner."""
    D, P = bk.depth, bk.width
    W = np.zeros((D, P, P))
    b = np.zeros((D, P))
    for i, (w, bias) in enumerate(zip(net.weights, net.biases, strict=True)):
        W[i, : w.shape[0], : w.shape[1]] = w
        b[i, : bias.shape[0]] = bias
    return W, b


def _pack_data(x: F64, y: F64, bk: Buckets) -> tuple[F64, F64]:
    Xp = np.zeros((bk.batch, bk.width))
    Yp = np.zeros((bk.batch, bk.width))
    Xp[: x.shape[0], : x.shape[1]] = x
    Yp[: y.shape[0], : y.shape[1]] = y
    return Xp, Yp


def pack_structure(net: Network, B: int, bk: Buckets) -> dict[str, Any]:
    """The structure as data: activation and loss indices, unit and row masks, B and B·O."""
    D, P = bk.depth, bk.width
    L = len(net.weights)
    widths = net.widths
    act_idx = np.full(D, SKIP, dtype=np.int32)
    act_idx[:L] = [ACT_INDEX[a] for a in net.activations]
    unit_mask = np.zeros((D, P), dtype=np.bool_)
    for i in range(D):
        # Identity layers carry the output layer's units.
        unit_mask[i, : widths[min(i, L - 1) + 1]] = True
    return {
        "act_idx": act_idx,
        "loss_idx": np.asarray(LOSS_INDEX[net.loss], dtype=np.int32),
        "unit_mask": unit_mask,
        "row_mask": np.arange(bk.batch) < B,
        "n_rows": np.asarray(float(B)),
        "n_entries": np.asarray(float(B * widths[-1])),
    }


def pack(net: Network, x: F64, y: F64) -> tuple[Packed, Buckets]:
    """``net`` on ``x (B, n_in)``, ``y (B, n_out)`` in its bucket."""
    bk = buckets_for(net.widths, x.shape[0])
    W, b = pack_params(net, bk)
    Xp, Yp = _pack_data(x, y, bk)
    return Packed(W=W, b=b, X=Xp, Y=Yp, **pack_structure(net, x.shape[0], bk)), bk


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
