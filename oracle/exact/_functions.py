"""Activations and losses in arbitrary precision, each with its derivative written out.

Every function takes and returns mpmath numbers and is evaluated at the caller's working
precision (the caller holds an ``mp.workdps`` context).  Nothing here rounds to a float.

The formulas are the contract's (docs/contract.md), in forms with no cancellation that
the precision would have to absorb:

* σ'(z) = σ(z) σ(−z) and tanh'(z) = sech² z: both factors are computed directly, so the
  derivative stays accurate where σ(z) or tanh z is 1 to the working precision.
* gelu (tanh approximation) z/2 (1 + tanh u) is z σ(2u), the same number: 1 + tanh u
  cancels for z < −3.  Its derivative is σ(2u) + 2 z σ(2u) σ(−2u) u'.
* the constants are the contract's decimals (0.01, 0.044715), not their float64 roundings.

Kinks follow ``jax.nn``: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = 1; the l1 subgradient
is 0 at a = y; huber's two branches have the same slope ±1 at |a − y| = 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import mpmath
from mpmath import mp

Mpf = Any  # mpmath.mpf: mpmath ships no type information
Row = list[Mpf]

__all__ = ["EXACT_ACTIVATIONS", "EXACT_LOSSES", "ExactActivation", "ExactLoss", "sigmoid"]


def sigmoid(z: Mpf) -> Mpf:
    """σ(z) = 1 / (1 + e^−z); never 0 or 1 for finite z (mp's exponent range is unbounded)."""
    return 1 / (1 + mp.exp(-z))


# --------------------------------------------------------------------------- activations


@dataclass(frozen=True, slots=True)
class ExactActivation:
    """One activation on a row ``z`` of a layer: ``forward(z) -> a``, ``vjp(z, a, g) -> δ``.

    ``g`` is ∂C/∂a for the row; elementwise activations return σ'(z) ⊙ g, softmax its
    vector-Jacobian product s ⊙ (g − ⟨s, g⟩).  ``magnitude(z, a, m)`` is the same product
    taken over absolute values, given the magnitude ``m >= |g|`` of the upstream gradient:
    the scale a rounding error in δ is measured against (see ``exact_magnitudes``).  It is
    taken over the form without cancellation (softmax: s_k Σ_{j≠k} s_j (g_k − g_j)), so that
    only differences of the upstream gradient itself are allowed to cancel.
    """

    name: str
    forward: Callable[[Row], Row]
    vjp: Callable[[Row, Row, Row], Row]
    magnitude: Callable[[Row, Row, Row], Row]


def _elementwise(name: str, f: Callable[[Mpf], Mpf], df: Callable[[Mpf], Mpf]) -> ExactActivation:
    def forward(z: Row) -> Row:
        return [f(v) for v in z]

    def vjp(z: Row, a: Row, g: Row) -> Row:
        return [df(v) * gv for v, gv in zip(z, g, strict=True)]

    def magnitude(z: Row, a: Row, m: Row) -> Row:
        return [abs(df(v)) * mv for v, mv in zip(z, m, strict=True)]

    return ExactActivation(name, forward, vjp, magnitude)


_SLOPE = mpmath.mpf("0.01")
_GELU_K = mpmath.mpf("0.044715")


def _gelu_u(z: Mpf) -> tuple[Mpf, Mpf]:
    """u = √(2/π) (z + 0.044715 z³) and du/dz."""
    c = mp.sqrt(2 / mp.pi)
    return c * (z + _GELU_K * z**3), c * (1 + 3 * _GELU_K * z**2)


def _gelu(z: Mpf) -> Mpf:
    u, _ = _gelu_u(z)
    return z * sigmoid(2 * u)


def _gelu_d(z: Mpf) -> Mpf:
    u, du = _gelu_u(z)
    s, t = sigmoid(2 * u), sigmoid(-2 * u)
    return s + 2 * z * s * t * du


def _softmax(z: Row) -> Row:
    top = max(z)
    e = [mp.exp(v - top) for v in z]
    total = mp.fsum(e)
    return [v / total for v in e]


def _softmax_vjp(z: Row, a: Row, g: Row) -> Row:
    # s_k (g_k − ⟨s, g⟩) written as s_k Σ_j s_j (g_k − g_j) (Σ s = 1): a constant g then
    # gives exactly 0, not the rounding of 1 − Σ s; the sum is O(n²), and n is small.
    return [
        sk * mp.fsum(sj * (gk - gj) for sj, gj in zip(a, g, strict=True))
        for sk, gk in zip(a, g, strict=True)
    ]


def _softmax_magnitude(z: Row, a: Row, m: Row) -> Row:
    # the magnitude of s_k Σ_{j≠k} s_j (g_k − g_j): small where softmax saturates, as δ is
    return [
        sk * mp.fsum(sj * (mk + mj) for j, (sj, mj) in enumerate(zip(a, m, strict=True)) if j != k)
        for k, (sk, mk) in enumerate(zip(a, m, strict=True))
    ]


_ACTIVATION_LIST: tuple[ExactActivation, ...] = (
    _elementwise("identity", lambda z: z, lambda z: mpmath.mpf(1)),
    _elementwise("sigmoid", sigmoid, lambda z: sigmoid(z) * sigmoid(-z)),
    _elementwise("tanh", mp.tanh, lambda z: mp.sech(z) ** 2),
    _elementwise(
        "relu", lambda z: z if z > 0 else mpmath.mpf(0), lambda z: mpmath.mpf(1 if z > 0 else 0)
    ),
    _elementwise(
        "leaky_relu",
        lambda z: z if z >= 0 else _SLOPE * z,
        lambda z: mpmath.mpf(1) if z >= 0 else _SLOPE,
    ),
    _elementwise(
        "elu",
        lambda z: z if z > 0 else mp.expm1(z),
        lambda z: mpmath.mpf(1) if z > 0 else mp.exp(z),
    ),
    _elementwise("softplus", lambda z: mp.log1p(mp.exp(z)), sigmoid),
    _elementwise("gelu", _gelu, _gelu_d),
    _elementwise("silu", lambda z: z * sigmoid(z), lambda z: sigmoid(z) * (1 + z * sigmoid(-z))),
    ExactActivation("softmax", _softmax, _softmax_vjp, _softmax_magnitude),
)

EXACT_ACTIVATIONS: Mapping[str, ExactActivation] = MappingProxyType(
    {a.name: a for a in _ACTIVATION_LIST}
)


# --------------------------------------------------------------------------- losses

Normaliser = Literal["entries", "rows"]


@dataclass(frozen=True, slots=True)
class ExactLoss:
    """``C = Σ_rows terms(a, c, y) / N`` with N = B·O ("entries") or B ("rows").

    ``terms(a, c, y)`` is one row's summed contribution and ``grad(a, c, y)`` its gradient
    ∂(Σ terms)/∂a (divide by N for ∂C/∂a); ``magnitude(a, c, y)`` bounds ``|grad|`` by the
    same expression over absolute values, written where it can be without cancellation
    (σ(a) − y = σ(a)(1 − y) − y σ(−a), a − y = a (1 − y) − y (1 − a) for probabilities), so
    that only a network output close to its target cancels (mse: |a| + |y|).  ``c`` is 1 − a
    for the row, passed in because the network computes it without cancellation when the
    output is a sigmoid or softmax (binary_cross_entropy needs it where a is 1 to the
    working precision).
    """

    name: str
    terms: Callable[[Row, Row, Row], Mpf]
    grad: Callable[[Row, Row, Row], Row]
    magnitude: Callable[[Row, Row, Row], Row]
    normaliser: Normaliser


def _sign(d: Mpf) -> Mpf:
    return mpmath.mpf(0 if d == 0 else (1 if d > 0 else -1))


def _huber(d: Mpf) -> Mpf:
    return d * d / 2 if abs(d) <= 1 else abs(d) - mpmath.mpf(1) / 2


def _huber_d(d: Mpf) -> Mpf:
    return d if abs(d) <= 1 else _sign(d)


def _pairs(a: Row, y: Row) -> list[Mpf]:
    return [av - yv for av, yv in zip(a, y, strict=True)]


def _spread(a: Row, y: Row) -> list[Mpf]:
    """|a| + |y|: the magnitude of a − y."""
    return [abs(av) + abs(yv) for av, yv in zip(a, y, strict=True)]


def _log_sigmoid(z: Mpf) -> Mpf:
    """log σ(z) = −log(1 + e^−z)."""
    return -mp.log1p(mp.exp(-z))


def _softmax_ce_terms(a: Row, c: Row, y: Row) -> Mpf:
    top = max(a)
    lse = top + mp.log(mp.fsum(mp.exp(v - top) for v in a))
    return -mp.fsum(yv * (av - lse) for av, yv in zip(a, y, strict=True))


def _softmax_ce_grad(a: Row, c: Row, y: Row) -> Row:
    # ∂/∂a_k of −Σ_j y_j (a_j − lse) = s_k Σ_j y_j − y_k: rows of y need not sum to 1 exactly.
    total = mp.fsum(y)
    return [s * total - yv for s, yv in zip(_softmax(a), y, strict=True)]


def _sigmoid_ce_terms(a: Row, c: Row, y: Row) -> Mpf:
    return -mp.fsum(
        yv * _log_sigmoid(av) + (1 - yv) * _log_sigmoid(-av) for av, yv in zip(a, y, strict=True)
    )


def _bce_terms(a: Row, c: Row, y: Row) -> Mpf:
    return -mp.fsum(
        yv * mp.log(av) + (1 - yv) * mp.log(cv) for av, cv, yv in zip(a, c, y, strict=True)
    )


def _bce_grad(a: Row, c: Row, y: Row) -> Row:
    # −y/a + (1 − y)/(1 − a) = (a − y) / (a (1 − a))
    return [(av - yv) / (av * cv) for av, cv, yv in zip(a, c, y, strict=True)]


def _huber_magnitude(a: Row, c: Row, y: Row) -> Row:
    return [
        abs(av) + abs(yv) if abs(av - yv) <= 1 else mpmath.mpf(1)
        for av, yv in zip(a, y, strict=True)
    ]


def _softmax_ce_magnitude(a: Row, c: Row, y: Row) -> Row:
    # s_k Σ_j y_j − y_k = Σ_{j≠k} (s_k y_j − y_k s_j)
    s = _softmax(a)
    return [
        mp.fsum(s[k] * abs(y[j]) + abs(y[k]) * s[j] for j in range(len(s)) if j != k)
        for k in range(len(s))
    ]


def _sigmoid_ce_magnitude(a: Row, c: Row, y: Row) -> Row:
    return [sigmoid(av) * abs(1 - yv) + abs(yv) * sigmoid(-av) for av, yv in zip(a, y, strict=True)]


def _bce_magnitude(a: Row, c: Row, y: Row) -> Row:
    return [
        (av * abs(1 - yv) + abs(yv) * cv) / (av * cv) for av, cv, yv in zip(a, c, y, strict=True)
    ]


def _sum_sq(a: Row, y: Row) -> Mpf:
    return mp.fsum(d * d for d in _pairs(a, y))


_LOSS_LIST: tuple[ExactLoss, ...] = (
    ExactLoss(
        "mse",
        lambda a, c, y: _sum_sq(a, y),
        lambda a, c, y: [2 * d for d in _pairs(a, y)],
        lambda a, c, y: [2 * m for m in _spread(a, y)],
        "entries",
    ),
    ExactLoss(
        "quadratic",
        lambda a, c, y: _sum_sq(a, y) / 2,
        lambda a, c, y: _pairs(a, y),
        lambda a, c, y: _spread(a, y),
        "rows",
    ),
    ExactLoss(
        "l1",
        lambda a, c, y: mp.fsum(abs(d) for d in _pairs(a, y)),
        lambda a, c, y: [_sign(d) for d in _pairs(a, y)],
        lambda a, c, y: [abs(_sign(d)) for d in _pairs(a, y)],
        "entries",
    ),
    ExactLoss(
        "huber",
        lambda a, c, y: mp.fsum(_huber(d) for d in _pairs(a, y)),
        lambda a, c, y: [_huber_d(d) for d in _pairs(a, y)],
        _huber_magnitude,
        "entries",
    ),
    ExactLoss(
        "softmax_cross_entropy",
        _softmax_ce_terms,
        _softmax_ce_grad,
        _softmax_ce_magnitude,
        "rows",
    ),
    ExactLoss(
        "sigmoid_cross_entropy",
        _sigmoid_ce_terms,
        lambda a, c, y: [sigmoid(av) - yv for av, yv in zip(a, y, strict=True)],
        _sigmoid_ce_magnitude,
        "rows",
    ),
    ExactLoss("binary_cross_entropy", _bce_terms, _bce_grad, _bce_magnitude, "rows"),
)

EXACT_LOSSES: Mapping[str, ExactLoss] = MappingProxyType({s.name: s for s in _LOSS_LIST})
