"""Central finite differences of the oracle's forward loss: the check on the oracle itself.

No ``jax.grad`` here: only :func:`oracle.network.forward` and the loss formulas
are evaluated, at every parameter, bias, input entry and z-probe moved by ±h.

Step and accuracy (float64):

* each entry θ_i moves by ``h_i = 2^round(log2(h · max(1, |θ_i|)))``: relative to
  the entry's size, and a power of two so that ``θ_i ± h_i`` is exact and the
  denominator is exactly the step taken;
* ``order=2`` (default, h = 1e-6): [f(θ+h) − f(θ−h)] / 2h, truncation error
  ~h²·|f'''|/6 ≈ 1e-12 and rounding error ~ε·|C|/h ≈ 1e-10·|C|, so expect
  agreement with autodiff to ~1e-8–1e-9 relative (normwise) on unsaturated networks;
* ``order=4`` (h = 1e-3 recommended): the five-point stencil
  [−f(θ+2h) + 8f(θ+h) − 8f(θ−h) + f(θ−2h)] / 12h, truncation ~h⁴ ≈ 1e-12 and
  rounding ~1e-13·|C|: ~1e-10–1e-11 relative, but needs the function smooth over
  ±2h, so it is more easily spoiled by a nearby kink.

Finite differences across a kink (relu, leaky_relu, elu at 0; l1 at a = y; huber
at |a − y| = 1) return a mean of the one-sided slopes, not the oracle's chosen
subgradient: keep test inputs at least ~10·h away from kinks.

For small networks only: the 2N (or 4N) perturbed losses, N = #weights + #biases
+ #inputs + #units·B, are evaluated vmapped in chunks of ``CHUNK``; one compile per
network shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import numpy as np
import numpy.typing as npt

from oracle._checks import F64, check_inputs, check_network, check_targets
from oracle._config import oracle_numerics
from oracle.functions import LOSSES
from oracle.network import OracleResult, forward

Array = jax.Array

__all__ = ["numeric_backprop", "relative_steps"]

#: Refuse problems with more entries than this: 2N forward passes of an N-entry network.
MAX_ENTRIES = 20_000


def relative_steps(theta: F64, h: float) -> F64:
    """Power-of-two steps ``~h · max(1, |θ_i|)`` for every entry of ``theta (N,)``."""
    scale = h * np.maximum(1.0, np.abs(theta))
    return np.exp2(np.round(np.log2(scale)))


def _split(theta: Array, shapes: Sequence[tuple[int, ...]]) -> list[Array]:
    out, start = [], 0
    for shp in shapes:
        size = int(np.prod(shp))
        out.append(theta[start : start + size].reshape(shp))
        start += size
    return out


#: Perturbed losses are evaluated this many at a time (one compile per network shape).
CHUNK = 256


@partial(jax.jit, static_argnames=("shapes", "activations", "loss"))
def _losses_at(
    theta: Array,
    index: Array,
    step: Array,
    y: Array,
    shapes: tuple[tuple[int, ...], ...],
    activations: tuple[str, ...],
    loss: str,
) -> tuple[Array, Array]:
    """C and the output at θ + step[k]·e_{index[k]} for every k: ``theta (N,)``,
    ``index, step (CHUNK,)``; returns ``(CHUNK,)`` losses and ``(CHUNK, B, n_out)`` outputs
    (the outputs too, so that the unperturbed one needs no executable of its own).

    θ is (weights, biases, X, probes) flattened.  Only entry index[k] moves: the others
    get ``+ 0·step`` = +0, which is exact, and steps are powers of two, so θ_i + step is
    exact too and the difference quotient divides by exactly the step taken.
    """
    L = len(activations)

    def one(i: Array, s: Array) -> tuple[Array, Array]:
        moved = theta + jax.nn.one_hot(i, theta.shape[0], dtype=theta.dtype) * s
        parts = _split(moved, shapes)
        ws, bs, x, ps = parts[:L], parts[L : 2 * L], parts[2 * L], parts[2 * L + 1 :]
        out = forward(ws, bs, activations, x, ps)
        return LOSSES[loss](out, y), out

    return jax.vmap(one)(index, step)


@oracle_numerics
def numeric_backprop(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    h: float = 1e-6,
    order: int = 2,
) -> OracleResult:
    """Finite-difference :class:`OracleResult`: loss and output exact, gradients by differences.

    Shapes as in :func:`oracle.network.backprop`.  ``deltas[l] (B, n_l)`` are the
    differences of C with respect to a probe added to z_l.  See the module
    docstring for the step and the accuracy to expect.
    """
    who = "oracle.numeric_backprop"
    if order not in (2, 4):
        raise ValueError(f"{who}: order must be 2 or 4, got {order!r}")
    if not (h > 0 and np.isfinite(h)):
        raise ValueError(f"{who}: h must be a positive finite float, got {h!r}")
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    B = x.shape[0]
    probes = [np.zeros((B, w.shape[1])) for w in net.weights]
    parts: list[F64] = [*net.weights, *net.biases, x, *probes]
    shapes = tuple(p.shape for p in parts)
    theta = np.concatenate([p.ravel() for p in parts])
    N = theta.size
    if N > MAX_ENTRIES:
        raise ValueError(
            f"{who}: {N} entries to perturb exceeds {MAX_ENTRIES}; use a smaller network or batch"
        )
    steps = relative_steps(theta, h)
    multiples = (1.0, -1.0) if order == 2 else (2.0, 1.0, -1.0, -2.0)
    # Job k·N + i moves entry i by multiples[k]·h_i; the last job (step 0) is θ itself,
    # so C comes from the same executable.
    index = np.concatenate([*(np.arange(N) for _ in multiples), [0]])
    step = np.concatenate([*(m * steps for m in multiples), [0.0]])
    values, output = _evaluate(theta, index, step, y, shapes, net.activations, net.loss)
    f = values[:-1].reshape(len(multiples), N)
    if order == 2:
        grad = (f[0] - f[1]) / (2.0 * steps)
    else:
        grad = (-f[0] + 8.0 * f[1] - 8.0 * f[2] + f[3]) / (12.0 * steps)
    g = _split_np(grad, shapes)
    L = len(net.weights)
    return OracleResult(
        loss=float(values[-1]),
        output=output,
        deltas=g[2 * L + 1 :],
        grad_weights=g[:L],
        grad_biases=g[L : 2 * L],
        grad_input=g[2 * L],
    )


def _evaluate(
    theta: F64,
    index: npt.NDArray[np.int64],
    step: F64,
    y: F64,
    shapes: tuple[tuple[int, ...], ...],
    activations: tuple[str, ...],
    loss: str,
) -> tuple[F64, F64]:
    """All jobs in fixed-size chunks (the last padded with zero steps, results dropped):
    the M losses, and the output of the last job."""
    M = index.size
    pad = -M % CHUNK
    index = np.concatenate([index, np.zeros(pad, dtype=index.dtype)])
    step = np.concatenate([step, np.zeros(pad)])
    pending = [
        _losses_at(theta, index[k : k + CHUNK], step[k : k + CHUNK], y, shapes, activations, loss)
        for k in range(0, M + pad, CHUNK)
    ]
    losses = np.concatenate([np.asarray(c, dtype=np.float64) for c, _ in pending])
    last = (M - 1) % CHUNK  # the last job sits in the last chunk at this offset
    return losses[:M], np.array(pending[-1][1][last], dtype=np.float64)


def _split_np(v: F64, shapes: Sequence[tuple[int, ...]]) -> list[F64]:
    out, start = [], 0
    for shp in shapes:
        size = int(np.prod(shp))
        out.append(np.array(v[start : start + size].reshape(shp)))
        start += size
    return out
