"""Mini-batch SGD with gradients from the bucketed executables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy.typing as npt

from oracle._checks import F64, Network, check_inputs, check_network, check_targets
from oracle._config import oracle_numerics
from oracle.fast.network import run_core
from oracle.fast.packing import pack, unpack
from oracle.network import SGDResult, check_batches, sgd_loop

__all__ = ["sgd_fast"]


@oracle_numerics
def sgd_fast(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    batches: Sequence[npt.ArrayLike],
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> SGDResult:
    """:func:`oracle.network.sgd` with gradients from the bucketed executables.

    Unlike the plain version, a new batch size or structure costs no compile
    (within the buckets).
    """
    who = "oracle.sgd_fast"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    idx = check_batches(who, batches, x.shape[0])

    def grad_fn(
        ws: Sequence[F64], bs: Sequence[F64], xb: F64, yb: F64
    ) -> tuple[float, list[F64], list[F64]]:
        step = Network(tuple(ws), tuple(bs), net.activations, net.loss)
        packed, _ = pack(step, xb, yb)
        r = unpack(run_core(packed), net.widths, xb.shape[0])
        return r.loss, r.grad_weights, r.grad_biases

    return sgd_loop(grad_fn, net, x, y, idx, float(lr), float(momentum), float(weight_decay))
