"""Bug models: the oracle's backward pass with one classic mistake applied.

``model_backprop`` rebuilds backpropagation layer by layer from the oracle's own pieces (its
forward trace, ``jax.vjp`` of each activation, ``jax.grad`` of the loss), in float64, and can
apply one mistake on the way.  With no mistake it reproduces the oracle (a judge self-check
pins that); with one, it is what a target carrying that bug would return, so the diagnosis
can name the bug whose model the target matches.

Scale-type bugs (a missing or doubled batch mean, an output mean, a flipped sign) need no
model: the target is then a constant times the oracle, which ``diagnosis`` measures directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oracle.engine.cases import Case
from oracle.fast import ForwardTrace, activation_vjp_fast, loss_grad_fast
from oracle.functions import ACTIVATION_SPECS

__all__ = ["STRUCTURAL", "Bug", "ModelResult", "kink_slopes", "model_backprop"]


@dataclass(frozen=True)
class Bug:
    """One mistake: its diagnosis id, the variant, and for kinks which slope is used instead."""

    id: str
    variant: str = ""
    activation: str = ""
    slope: float = 0.0  # kink_convention: the slope used at the kink


@dataclass(frozen=True)
class ModelResult:
    loss: float
    deltas: list[np.ndarray]
    grad_weights: list[np.ndarray]
    grad_biases: list[np.ndarray]
    grad_input: np.ndarray


#: Bugs that change the structure of the computation, in the order the diagnosis tries them.
STRUCTURAL: tuple[Bug, ...] = (
    Bug("derivative_missing", "hidden"),
    Bug("derivative_missing", "all"),
    Bug("derivative_at_activation", "hidden"),
    Bug("derivative_at_activation", "all"),
    Bug("weights_not_transposed", "backward"),
    Bug("weights_not_transposed", "gradient"),
    Bug("bias_not_summed", "first_row"),
    Bug("bias_not_summed", "last_row"),
    Bug("bias_not_summed", "unit_axis"),
)


def kink_slopes(activation: str, kink: float) -> tuple[float, float, float]:
    """(convention, left, right): the oracle's σ' at the kink and the one-sided slopes."""
    step = 1e-7 * max(1.0, abs(kink))
    z = np.array([[kink, kink - step, kink + step]])
    _, d = activation_vjp_fast(activation, z, np.ones_like(z))
    conv, left, right = (float(v) for v in d[0])
    # the one-sided values are σ' a step away; round the ones that are exact to exact
    return conv, _tidy(left), _tidy(right)


def _tidy(x: float) -> float:
    r = round(x, 4)
    return r if abs(r - x) < 1e-5 else x


def _pull(name: str, z: np.ndarray, g: np.ndarray) -> np.ndarray:
    _, dz = activation_vjp_fast(name, z, g)
    return dz


def _applies(bug: Bug, layer: int, depth: int) -> bool:
    return bug.variant == "all" or layer < depth - 1


def _delta(
    bug: Bug | None,
    i: int,
    case: Case,
    trace: ForwardTrace,
    upstream: np.ndarray,
) -> np.ndarray:
    s = case.structure
    name = s.activations[i]
    z, a = trace.pre_activations[i], trace.activations[i]
    if bug is not None and bug.id == "derivative_missing" and _applies(bug, i, s.depth):
        return upstream
    if bug is not None and bug.id == "derivative_at_activation" and _applies(bug, i, s.depth):
        if not ACTIVATION_SPECS[name].rowwise:
            return _pull(name, a, upstream)
    d = _pull(name, z, upstream)
    if bug is not None and bug.id == "kink_convention" and bug.activation == name:
        for k in ACTIVATION_SPECS[name].kinks:
            on = z == k
            if on.any():
                conv = kink_slopes(name, k)[0]
                d = np.where(on, upstream * bug.slope, d) if conv != bug.slope else d
    return d


def model_backprop(case: Case, trace: ForwardTrace, bug: Bug | None = None) -> ModelResult | None:
    """The oracle's backprop rebuilt in float64, with ``bug`` applied; None if it cannot apply
    (weights_not_transposed needs square layers).  A bias summed over units is (B,)."""
    s = case.structure
    ws = [np.asarray(w, np.float64) for w in case.weights]
    x = np.asarray(case.X, np.float64)
    y = np.asarray(case.Y, np.float64)
    out = trace.activations[-1]
    c, g = loss_grad_fast(s.loss, out, y)
    if bug is not None and bug.id == "kink_convention" and bug.activation == s.loss:
        g = np.where(out == y, bug.slope / _loss_count(s.loss, y), g)
    transposed = bug is not None and bug.id == "weights_not_transposed"
    if transposed and any(w.shape[0] != w.shape[1] for w in ws):
        return None
    inputs: Sequence[np.ndarray] = [x, *trace.activations[:-1]]
    deltas: list[np.ndarray] = [np.empty(0)] * s.depth
    gw: list[np.ndarray] = [np.empty(0)] * s.depth
    gb: list[np.ndarray] = [np.empty(0)] * s.depth
    upstream = g
    for i in range(s.depth - 1, -1, -1):
        d = _delta(bug, i, case, trace, upstream)
        deltas[i] = d
        flip = transposed and bug is not None and bug.variant == "gradient"
        gw[i] = d.T @ inputs[i] if flip else inputs[i].T @ d
        gb[i] = _bias_grad(bug, d)
        back = ws[i] if transposed and bug is not None and bug.variant == "backward" else ws[i].T
        upstream = d @ back
    return ModelResult(float(c), deltas, gw, gb, upstream)


def _bias_grad(bug: Bug | None, d: np.ndarray) -> np.ndarray:
    if bug is None or bug.id != "bias_not_summed":
        out: np.ndarray = d.sum(axis=0)
    elif bug.variant == "first_row":
        out = d[0].copy()
    elif bug.variant == "last_row":
        out = d[-1].copy()
    else:
        out = d.sum(axis=1)
    return out


def _loss_count(loss: str, y: np.ndarray) -> int:
    from oracle.functions import LOSS_SPECS

    return y.size if LOSS_SPECS[loss].normaliser == "entries" else len(y)
