"""Forward and reverse mode of a fully connected network in arbitrary precision.

Row-major, as the contract: a⁰ = X (B, n₀); zˡ = aˡ⁻¹ Wˡ + bˡ (B, nₗ), aˡ = σˡ(zˡ); C is the
loss of aᴸ against Y (B, n_L), averaged over the batch.  The reverse pass is the four
equations with δˡ = ∂C/∂zˡ:

    BP1  δᴸ = σ'(zᴸ) ⊙ ∇ₐC             (softmax: s ⊙ (∇ₐC − ⟨s, ∇ₐC⟩) row by row)
    BP2  δˡ = σ'(zˡ) ⊙ (δˡ⁺¹ Wˡ⁺¹ᵀ)
    BP3  ∂C/∂bˡ = Σ_batch δˡ
    BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ,          and ∂C/∂X = δ¹ W¹ᵀ.

Every number is an ``mpmath.mpf`` held in a NumPy object array; all arithmetic runs inside
``mp.workdps(dps)`` (the global precision is never changed).  Float inputs are converted
exactly (a float64 is an mpf of 53 bits); object arrays of mpf are taken as they are, so a
caller can evaluate the network at points no float can hold (finite differences, the
perturbations of :func:`exact_sensitivity`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import mpmath
import numpy as np
import numpy.typing as npt
from mpmath import mp

from oracle._checks import as_f64, check_inputs, check_network, check_targets
from oracle._config import oracle_numerics
from oracle.exact._functions import EXACT_ACTIVATIONS, EXACT_LOSSES, Mpf, sigmoid

ObjArray = npt.NDArray[np.object_]

__all__ = [
    "SMALL",
    "ExactForward",
    "ExactResult",
    "exact_backprop",
    "exact_forward",
    "exact_magnitudes",
    "exact_sensitivity",
    "is_small",
]

#: The exact property's networks: depth, every width (input included) and batch; the arbiter
#: takes these and any others of the same depth and batch within their multiply-adds.
SMALL: Mapping[str, int] = MappingProxyType(dict(max_depth=3, max_width=6, max_batch=4))
#: The multiply-adds of one backprop of the largest network SMALL allows.
MAX_MULTIPLY_ADDS = SMALL["max_batch"] * SMALL["max_depth"] * SMALL["max_width"] ** 2
#: Below this many digits a float64 input would not be held exactly.
MIN_DPS = 20


class ExactForward(NamedTuple):
    """``loss`` C (mpf), ``output`` aᴸ (B, n_L), ``zs[l]`` and ``activations[l]`` (B, nₗ)."""

    loss: Mpf
    output: ObjArray
    zs: list[ObjArray]
    activations: list[ObjArray]


class ExactResult(NamedTuple):
    """Every quantity of backprop, as object arrays of mpf.

    ``loss`` C; ``output (B, n_L)``; ``zs[l]``, ``deltas[l] (B, nₗ)``;
    ``grad_weights[l] (nₗ₋₁, nₗ)``; ``grad_biases[l] (nₗ,)``; ``grad_input (B, n₀)``.
    """

    loss: Mpf
    output: ObjArray
    zs: list[ObjArray]
    deltas: list[ObjArray]
    grad_weights: list[ObjArray]
    grad_biases: list[ObjArray]
    grad_input: ObjArray


class _Net(NamedTuple):
    weights: list[ObjArray]
    biases: list[ObjArray]
    activations: tuple[str, ...]
    loss: str
    X: ObjArray
    Y: ObjArray


def is_small(sizes: Sequence[int], batch: int) -> bool:
    """Whether the arbiter takes a network ``sizes = (n_in, n_1, ..., n_out)`` on ``batch``
    rows: depth and batch within SMALL, and no more multiply-adds in one backprop,
    B·Σ nₗnₗ₊₁, than the largest network SMALL allows.  Widths alone are no measure of the
    cost: [8, 1, 1, 2] on one row (11 multiply-adds) takes 12 ms in exact arithmetic, the
    sensitivity included, [64, 1] on 4 rows 42 ms, SMALL's largest, [6, 6, 6, 6] on 4, 3 s."""
    depth = len(sizes) - 1
    if not (1 <= depth <= SMALL["max_depth"] and 1 <= batch <= SMALL["max_batch"]):
        return False
    if any(n < 1 for n in sizes):
        return False
    return batch * sum(a * b for a, b in itertools.pairwise(sizes)) <= MAX_MULTIPLY_ADDS


def _as_mp(who: str, what: str, x: object, ndim: int) -> ObjArray:
    """``x`` as a fresh object array of finite mpf with ``ndim`` dimensions."""
    arr = np.asarray(x)
    if arr.dtype == np.object_:
        if arr.ndim != ndim:
            raise ValueError(f"{who}: {what} must have {ndim} dimensions, got shape {arr.shape}")
        flat = arr.ravel()
        for i, v in enumerate(flat):
            if not isinstance(v, mpmath.mpf | int | float) or not mp.isfinite(v):
                where = tuple(int(j) for j in np.unravel_index(i, arr.shape))
                raise ValueError(
                    f"{who}: {what} must hold finite mpf numbers, got {v!r} at {where}"
                )
        return np.array([mpmath.mpf(v) for v in flat], dtype=object).reshape(arr.shape)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise TypeError(f"{who}: {what} must be float16, float32, float64 or int, got {arr.dtype}")
    f = as_f64(who, what, arr, ndim)
    bad = np.argwhere(~np.isfinite(f))
    if len(bad):
        at = tuple(int(i) for i in bad[0])
        raise ValueError(f"{who}: {what} must be finite, got {f[at]} at {at}")
    return np.array([mpmath.mpf(float(v)) for v in f.ravel()], dtype=object).reshape(f.shape)


@oracle_numerics  # the shared checks ask for JAX's x64; a target may have switched it off
def _network(
    who: str,
    weights: Sequence[object],
    biases: Sequence[object],
    activations: Sequence[str],
    loss: str,
    X: object,
    Y: object,
) -> _Net:
    """Validate names and shapes (the oracle's checks, on zero proxies) and convert exactly."""
    if isinstance(activations, str):
        raise TypeError(
            f"{who}: activations must be a sequence of names, got the string {activations!r}"
        )
    ws = [_as_mp(who, f"weights[{i}]", w, 2) for i, w in enumerate(weights)]
    bs = [_as_mp(who, f"biases[{i}]", b, 1) for i, b in enumerate(biases)]
    x, y = _as_mp(who, "X", X, 2), _as_mp(who, "Y", Y, 2)
    net = check_network(
        who, [np.zeros(w.shape) for w in ws], [np.zeros(b.shape) for b in bs], activations, loss
    )
    check_targets(who, net, check_inputs(who, net, np.zeros(x.shape)), np.zeros(y.shape))
    return _Net(ws, bs, net.activations, net.loss, x, y)


def _rows(f: Any, *arrays: ObjArray) -> ObjArray:
    """Apply a row function ``f(row, ...) -> row`` to every row of (B, n) object arrays."""
    out = [f(*(list(a[i]) for a in arrays)) for i in range(arrays[0].shape[0])]
    result = np.empty(arrays[0].shape, dtype=object)
    for i, row in enumerate(out):
        result[i, :] = row
    return result


def _complement(name: str, z: ObjArray, a: ObjArray) -> ObjArray:
    """1 − a for the output layer, without cancellation for sigmoid and softmax."""
    if name == "sigmoid":
        return np.vectorize(lambda v: sigmoid(-v), otypes=[object])(z)  # type: ignore[no-any-return]
    if name == "softmax":
        return _rows(lambda s: [mp.fsum(s[:k] + s[k + 1 :]) for k in range(len(s))], a)
    return 1 - a  # type: ignore[no-any-return]


def _forward(who: str, net: _Net) -> tuple[ExactForward, ObjArray, ObjArray]:
    """The forward pass, ∂C/∂aᴸ (B, n_L) and its magnitude, at the working precision."""
    a = net.X
    zs, acts = [], []
    for w, b, name in zip(net.weights, net.biases, net.activations, strict=True):
        z = a @ w + b
        a = _rows(EXACT_ACTIVATIONS[name].forward, z)
        zs.append(z)
        acts.append(a)
    spec = EXACT_LOSSES[net.loss]
    c = a
    if net.loss == "binary_cross_entropy":
        c = _complement(net.activations[-1], zs[-1], a)
        bad = [(i, v) for i, v in np.ndenumerate(a) if not (v > 0 and c[i] > 0)]
        if bad:
            raise ValueError(
                f"{who}: binary_cross_entropy needs outputs in (0, 1), got "
                f"{mpmath.nstr(bad[0][1], 17)} at {bad[0][0]}"
            )
    B, n_out = a.shape
    n = B * n_out if spec.normaliser == "entries" else B
    terms = [spec.terms(list(a[i]), list(c[i]), list(net.Y[i])) for i in range(B)]
    grad = _rows(lambda r, s, t: [g / n for g in spec.grad(r, s, t)], a, c, net.Y)
    mag = _rows(lambda r, s, t: [g / n for g in spec.magnitude(r, s, t)], a, c, net.Y)
    return ExactForward(mp.fsum(terms) / n, a, zs, acts), grad, mag


def _check_dps(who: str, dps: int) -> None:
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < MIN_DPS:
        raise ValueError(f"{who}: dps must be an int >= {MIN_DPS}, got {dps!r}")


def exact_forward(
    weights: Sequence[object],
    biases: Sequence[object],
    activations: Sequence[str],
    loss: str,
    X: object,
    Y: object,
    *,
    dps: int = 60,
) -> ExactForward:
    """The loss, output and every z and a of the network at ``dps`` decimal digits."""
    _check_dps("exact_forward", dps)
    net = _network("exact_forward", weights, biases, activations, loss, X, Y)
    with mp.workdps(dps):
        return _forward("exact_forward", net)[0]


def _reverse(net: _Net, fwd: ExactForward, g: ObjArray, magnitude: bool) -> ExactResult:
    """BP1-BP4 from g = ∂C/∂aᴸ; with ``magnitude``, the same pass over absolute values."""
    depth = len(net.weights)
    deltas: list[ObjArray] = [g] * depth
    gw: list[ObjArray] = [g] * depth
    gb: list[ObjArray] = [g] * depth
    for k in reversed(range(depth)):  # g is ∂C/∂aᵏ, pulled back one layer per step
        act = EXACT_ACTIVATIONS[net.activations[k]]
        vjp = act.magnitude if magnitude else act.vjp
        deltas[k] = _rows(vjp, fwd.zs[k], fwd.activations[k], g)  # BP1, BP2
        below = net.X if k == 0 else fwd.activations[k - 1]
        w = net.weights[k]
        if magnitude:
            below, w = np.abs(below), np.abs(w)
        gw[k] = below.T @ deltas[k]  # BP4
        gb[k] = deltas[k].sum(axis=0)  # BP3
        g = deltas[k] @ w.T
    return ExactResult(fwd.loss, fwd.output, fwd.zs, deltas, gw, gb, g)


def _backprop(who: str, net: _Net) -> ExactResult:
    fwd, grad, _ = _forward(who, net)
    return _reverse(net, fwd, grad, magnitude=False)


def exact_backprop(
    weights: Sequence[object],
    biases: Sequence[object],
    activations: Sequence[str],
    loss: str,
    X: object,
    Y: object,
    *,
    dps: int = 60,
) -> ExactResult:
    """Backpropagation at ``dps`` decimal digits: ``weights[l] (nₗ₋₁, nₗ)``, ``biases[l] (nₗ,)``,
    ``X (B, n₀)``, ``Y (B, n_L)``; float, int or mpf object arrays, every entry finite."""
    _check_dps("exact_backprop", dps)
    net = _network("exact_backprop", weights, biases, activations, loss, X, Y)
    with mp.workdps(dps):
        return _backprop("exact_backprop", net)


def exact_magnitudes(
    weights: Sequence[object],
    biases: Sequence[object],
    activations: Sequence[str],
    loss: str,
    X: object,
    Y: object,
    *,
    dps: int = 60,
) -> ExactResult:
    """The scale of every backprop quantity: the reverse pass over absolute values.

    ∇ₐC is replaced by its magnitude (a − y by |a| + |y|, softmax_cross_entropy's
    s Σy − y by s Σ|y| + |y|, ...), σ'(z) by |σ'(z)|, softmax's VJP s ⊙ (g − ⟨s, g⟩) by
    s ⊙ (m + ⟨s, m⟩), W and aˡ⁻¹ by |W| and |aˡ⁻¹|.  Each entry bounds the sum of the
    absolute values of the terms that make up the exact quantity, so it is never below
    |exact| and equals it where nothing cancels.  A rounding error measured against it
    says how much of the quantity's scale was lost, where a relative error of a value that
    cancels to almost zero says nothing.  ``loss`` and ``output`` are the exact ones.
    """
    who = "exact_magnitudes"
    _check_dps(who, dps)
    net = _network(who, weights, biases, activations, loss, X, Y)
    with mp.workdps(dps):
        fwd, _, mag = _forward(who, net)
        return _reverse(net, fwd, mag, magnitude=True)


def exact_sensitivity(
    weights: Sequence[object],
    biases: Sequence[object],
    activations: Sequence[str],
    loss: str,
    X: object,
    Y: object,
    rho: float,
    count: int = 2,
    seed: int = 0,
    *,
    dps: int = 60,
) -> list[ExactResult]:
    """Exact results on ``count`` copies of the case with every entry of W, b, X and Y
    multiplied by 1 ± ``rho`` (independent random signs, seeded).

    The perturbation is applied in mp and is exact: x (1 ± rho) for 53-bit x and rho needs
    at most 106 + log₂(1/rho) bits, far inside ``dps`` = 60 (199 bits) for rho >= 1e-20.
    A case's conditioning is then s = max_k ‖q_k − q‖ / (rho ‖q‖) per quantity q.
    """
    who = "exact_sensitivity"
    _check_dps(who, dps)
    if not isinstance(rho, float | int) or not 0 < rho < 1:
        raise ValueError(f"{who}: rho must be a number in (0, 1), got {rho!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{who}: count must be an int >= 1, got {count!r}")
    net = _network(who, weights, biases, activations, loss, X, Y)
    rng = np.random.default_rng(seed)
    out = []
    with mp.workdps(dps):
        r = mpmath.mpf(float(rho))

        def shake(x: ObjArray) -> ObjArray:
            signs = rng.choice(np.array([-1, 1]), size=x.shape)
            return x + x * r * signs  # type: ignore[no-any-return]

        for _ in range(count):
            moved = _Net(
                [shake(w) for w in net.weights],
                [shake(b) for b in net.biases],
                net.activations,
                net.loss,
                shake(net.X),
                shake(net.Y),
            )
            out.append(_backprop(who, moved))
    return out
