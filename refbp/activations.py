"""The activation registry: one entry per activation, its forward map and its derivative.

Each activation is a pair of plain functions, ``<name>_forward(z)`` and
``<name>_derivative(z, a)``, with the formula and the kink convention in the docstring (as
``jax.nn`` does), and one line in the table ``_TABLE`` at the bottom.  These are the
reference forms: the stable formula written once, readable top to bottom.  The network
runs the same formulas through ``refbp.kernels`` where a kernel exists (fewer passes over
memory); tests/bench/test_fast_paths.py holds every kernel to its reference form.

Every form is written with numerical care for pre-activations as large as ±1e4 (and far
beyond): no overflow, no NaN, no RuntimeWarning, and float32 stays float32 (constants are
Python floats, which NumPy 2 treats as "weak" and does not let promote an array).  Integer
input is computed in float64.

Kink conventions follow ``jax.nn``: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = 1.

Adding an activation is one entry in ``_TABLE`` here and one in the oracle's
``oracle.functions``; every test, benchmark and report iterates over the registries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from refbp import kernels
from refbp._constants import GELU_C, GELU_CLIP, GELU_K, LEAKY_SLOPE
from refbp._entries import bare, call_checked, checked
from refbp._types import FloatArray

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]

Forward = Callable[[FloatArray], FloatArray]
"""z (B, O) -> a = σ(z) (B, O)."""
Derivative = Callable[[FloatArray, FloatArray], FloatArray]
"""(z, a) -> σ'(z) (B, O), elementwise."""
Backward = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]
"""(z, a, g = dC/da) -> dC/dz (B, O)."""
Line = tuple[float, float]
"""(slope, intercept): σ(z) ≈ slope · z + intercept."""


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation function a = σ(z), applied to z (B, O).

    ``forward`` and ``derivative`` are the reference forms; softmax mixes a row, so it has no
    elementwise derivative (``None``) and gives its vector-Jacobian product as ``vjp``.
    ``fast_forward`` / ``fast_backward``, where set, compute the same thing from
    ``refbp.kernels`` in fewer passes; ``functions`` is the pair the network runs.
    ``kinks``: where σ is not differentiable and a one-sided value is chosen.
    ``output_range``: the closed hull of σ's values.  ``asymptotes``: the lines σ follows as
    z → −∞ and z → +∞ (σ' tends to their slopes), for elementwise entries.
    """

    name: str
    forward: Forward
    derivative: Derivative | None
    vjp: Backward | None = None
    kinks: tuple[float, ...] = ()
    output_range: tuple[float, float] = (-math.inf, math.inf)
    asymptotes: tuple[Line, Line] | None = None
    fast_forward: Forward | None = None
    fast_backward: Backward | None = None

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None

    def backward(self, z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
        """dC/dz (B, O) from g = dC/da (B, O): g ⊙ σ'(z), or the VJP for softmax."""
        where = f"ACTIVATIONS[{self.name!r}].backward"
        out: FloatArray = call_checked(
            self._backward, where, ("z", "a", "g"), not self.elementwise, (z, a, g)
        )
        return out

    def _backward(self, z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
        if self.vjp is not None:
            return bare(self.vjp)(z, a, g)
        assert self.derivative is not None
        return g * bare(self.derivative)(z, a)

    @property
    def functions(self) -> tuple[Forward, Backward]:
        """(forward, backward) as the network runs them, on arrays it has checked: the
        kernels where there are some, else the bare reference forms."""
        return (self.fast_forward or bare(self.forward), self.fast_backward or self._backward)


_REGISTRY: dict[str, Activation] = {}
ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(_REGISTRY)
"""Name -> Activation.  Read-only view of ``_TABLE``."""


def _register(entry: Activation) -> None:
    """Add ``entry``, its public forms checked at the door (``refbp._entries``)."""
    if entry.name in _REGISTRY:
        raise ValueError(f"activation {entry.name!r} is registered twice")
    rows = entry.derivative is None
    door = f"ACTIVATIONS[{entry.name!r}]"
    _REGISTRY[entry.name] = replace(
        entry,
        forward=checked(entry.forward, f"{door}.forward", ("z",), rows=rows),
        derivative=None if entry.derivative is None else checked(
            entry.derivative, f"{door}.derivative", ("z", "a"), rows=False
        ),
        vjp=None if entry.vjp is None else checked(
            entry.vjp, f"{door}.vjp", ("z", "a", "g"), rows=True
        ),
    )  # fmt: skip


def get_activation(name: object, where: str = "refbp") -> Activation:
    """The registry entry for ``name``; an unknown name lists the valid ones."""
    from refbp.errors import DTypeError, UnknownNameError

    if not isinstance(name, str):
        raise DTypeError(
            f"{where}: activation names must be strings, got {type(name).__name__} {name!r}"
        )
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"{where}: unknown activation {name!r}; valid names are {sorted(_REGISTRY)}"
        ) from None


def _float(z: FloatArray) -> FloatArray:
    return z if z.dtype.kind == "f" else z.astype(np.float64)


# --- the reference forms ----------------------------------------------------------------


def identity_forward(z: FloatArray) -> FloatArray:
    """a = z, returned as it is (nothing downstream writes to it)."""
    return z


def identity_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """identity'(z) = 1."""
    return np.ones_like(_float(z))


def _sigmoid_parts(z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(σ(z), e) with e = exp(−|z|), which never overflows."""
    z = _float(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), e


def sigmoid_forward(z: FloatArray) -> FloatArray:
    """σ(z) = 1 / (1 + e^{−z}): 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0, e = exp(−|z|).

    Both branches are exact rearrangements; neither overflows.  No kink.
    """
    return _sigmoid_parts(z)[0]


def sigmoid_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """σ'(z) = σ(z) σ(−z) = e / (1 + e)², e = exp(−|z|).

    Not a (1 − a): once a rounds near 1, 1 − a keeps few digits (z = 12 in float32 loses
    three of seven).  e / (1 + e)² is a sum and products of positives: a few ulps for every z.
    """
    e = np.exp(-np.abs(_float(z)))
    return e / ((1.0 + e) * (1.0 + e))


def tanh_forward(z: FloatArray) -> FloatArray:
    """tanh(z).  No kink."""
    return np.tanh(z)


def tanh_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """tanh'(z) = sech²(z) = 4e / (1 + e)², e = exp(−2|z|).

    Not 1 − a², which cancels once |a| rounds near 1 (|z| > 4 in float32).
    """
    e = np.exp(-2.0 * np.abs(_float(z)))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def relu_forward(z: FloatArray) -> FloatArray:
    """relu(z) = max(z, 0)."""
    return np.maximum(z, 0.0)


def relu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """relu'(z) = 1 for z > 0, else 0; relu'(0) = 0 (the kink, as jax.nn.relu)."""
    return (z > 0).astype(_float(z).dtype)


def leaky_relu_forward(z: FloatArray) -> FloatArray:
    """leaky_relu(z) = z for z ≥ 0, 0.01 z for z < 0."""
    return np.where(z >= 0, z, LEAKY_SLOPE * _float(z))


def leaky_relu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """leaky_relu'(z) = 1 for z ≥ 0, 0.01 for z < 0; leaky_relu'(0) = 1 (as jax.nn)."""
    return np.where(z >= 0, 1.0, LEAKY_SLOPE).astype(_float(z).dtype)


def elu_forward(z: FloatArray) -> FloatArray:
    """elu(z) = z for z > 0, e^z − 1 for z ≤ 0 (alpha 1).

    expm1 is taken of the non-positive part only, so large positive z never reaches exp,
    and it keeps the digits that exp(z) − 1 loses near 0.
    """
    return np.where(z > 0, z, np.expm1(np.minimum(_float(z), 0.0)))


def elu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """elu'(z) = 1 for z > 0, e^z for z ≤ 0; elu'(0) = 1 (as jax.nn.elu).

    e^z is taken directly: a + 1 would cancel to 0 once a rounds to −1 (z = −30 in float32:
    9.4e-14 becomes 0).  It is exp(min(z, 0)), which is 1 for every z ≥ 0.
    """
    return np.exp(np.minimum(_float(z), 0.0))


def softplus_forward(z: FloatArray) -> FloatArray:
    """softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), through logaddexp."""
    z = _float(z)
    return np.logaddexp(z.dtype.type(0), z)


def softplus_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """softplus'(z) = σ(z)."""
    return sigmoid_forward(z)


def _gelu_parts(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(σ(2u), σ'(2u), zc): the gate, its slope, and z clipped for the polynomial."""
    zc = np.clip(_float(z), -GELU_CLIP, GELU_CLIP)
    gate, e = _sigmoid_parts((2.0 * GELU_C) * (zc + GELU_K * zc * zc * zc))
    return gate, e / ((1.0 + e) * (1.0 + e)), zc


def gelu_forward(z: FloatArray) -> FloatArray:
    """gelu(z) = z/2 (1 + tanh u), u = √(2/π) (z + 0.044715 z³): the tanh approximation,
    jax.nn.gelu's default.  Computed as z σ(2u), the same number ((1 + tanh u)/2 = σ(2u)),
    because 1 + tanh u cancels for z < −3 and would leave float32 no digit at z = −5.
    """
    return _float(z) * _gelu_parts(z)[0]


def gelu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """gelu'(z) = σ(2u) + z σ'(2u) · 2√(2/π) (1 + 3 · 0.044715 z²).

    σ'(2u) is exactly 0 wherever z was clipped, so the clipped z in the polynomial changes
    nothing and cannot overflow.
    """
    gate, slope, zc = _gelu_parts(z)
    return gate + zc * slope * (2.0 * GELU_C) * (1.0 + 3.0 * GELU_K * zc * zc)


def silu_forward(z: FloatArray) -> FloatArray:
    """silu(z) = z σ(z)."""
    return _float(z) * sigmoid_forward(z)


def silu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    """silu'(z) = σ(z) + z σ'(z), with σ'(z) = e/(1 + e)² (see ``sigmoid_derivative``).

    Not σ(z) (1 + z (1 − σ(z))): 1 − σ(z) keeps few digits once σ(z) rounds near 1.
    """
    z = _float(z)
    return sigmoid_forward(z) + z * sigmoid_derivative(z, z)


def softmax_forward(z: FloatArray) -> FloatArray:
    """softmax(z)_j = e^{z_j} / Σ_k e^{z_k} along each row of z (B, O), computed after
    subtracting each row's max, so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    row_sums: FloatArray = e.sum(axis=1, keepdims=True)
    out: FloatArray = e / row_sums
    return out


def softmax_vjp(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """dC/dz = a ⊙ (g − Σ_j g_j a_j) per row: the vector-Jacobian product of softmax,
    computed as a ⊙ (h − Σ_j h_j a_j) with h = g − g_m, m the column of the row's largest a.

    The two are equal because Σ_j a_j = 1, but g − Σ g a cancels where a is nearly one-hot:
    in the column m, g_m − Σ g a = Σ_{j≠m} a_j (g_m − g_j) is of the size of the small a_j,
    and the rounding of g_m a_m (of the size of g_m) is left in it whole (|z| = 35 in float64:
    five digits of sixteen).  With h_m = 0 exactly, the column m is −a_m Σ_{j≠m} a_j h_j, a
    sum of small terms, and a constant g gives exactly 0 as it should.
    """
    rows = np.arange(len(a))
    h = g - g[rows, a.argmax(axis=1)][:, None]
    ha = (h[:, None, :] @ a[:, :, None])[:, 0]  # Σ_j h_j a_j per row, (B, 1)
    out: FloatArray = a * (h - ha)
    return out


# --- the table --------------------------------------------------------------------------

_FLAT: Line = (0.0, 0.0)
_UNIT: Line = (1.0, 0.0)

_TABLE: tuple[Activation, ...] = (
    Activation(
        "identity", identity_forward, identity_derivative,
        asymptotes=(_UNIT, _UNIT), fast_backward=kernels.identity_backward,
    ),
    Activation(
        "sigmoid", sigmoid_forward, sigmoid_derivative,
        output_range=(0.0, 1.0), asymptotes=(_FLAT, (0.0, 1.0)),
        fast_forward=kernels.sigmoid, fast_backward=kernels.sigmoid_backward,
    ),
    Activation(
        "tanh", tanh_forward, tanh_derivative,
        output_range=(-1.0, 1.0), asymptotes=((0.0, -1.0), (0.0, 1.0)),
        fast_backward=kernels.tanh_backward,
    ),
    Activation(
        "relu", relu_forward, relu_derivative,
        kinks=(0.0,), output_range=(0.0, math.inf), asymptotes=(_FLAT, _UNIT),
        fast_backward=kernels.relu_backward,
    ),
    Activation(
        "leaky_relu", leaky_relu_forward, leaky_relu_derivative,
        kinks=(0.0,), asymptotes=((LEAKY_SLOPE, 0.0), _UNIT),
        fast_forward=kernels.leaky_relu, fast_backward=kernels.leaky_relu_backward,
    ),
    Activation(
        "elu", elu_forward, elu_derivative,
        kinks=(0.0,), output_range=(-1.0, math.inf), asymptotes=((0.0, -1.0), _UNIT),
        fast_forward=kernels.elu, fast_backward=kernels.elu_backward,
    ),
    Activation(
        "softplus", softplus_forward, softplus_derivative,
        output_range=(0.0, math.inf), asymptotes=(_FLAT, _UNIT),
        fast_forward=kernels.softplus, fast_backward=kernels.softplus_backward,
    ),
    Activation(
        "gelu", gelu_forward, gelu_derivative,
        asymptotes=(_FLAT, _UNIT),
        fast_forward=kernels.gelu, fast_backward=kernels.gelu_backward,
    ),
    Activation(
        "silu", silu_forward, silu_derivative,
        asymptotes=(_FLAT, _UNIT),
        fast_forward=kernels.silu, fast_backward=kernels.silu_backward,
    ),
    Activation(
        "softmax", softmax_forward, None, vjp=softmax_vjp, output_range=(0.0, 1.0),
        fast_forward=kernels.softmax, fast_backward=kernels.softmax_backward,
    ),
)  # fmt: skip

for _entry in _TABLE:
    _register(_entry)
