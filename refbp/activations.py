"""The activation registry: each entry carries its forward map, its backward map and its kinks.

Every entry is written with numerical care for pre-activations as large as ±1e4 (and far
beyond): no overflow, no NaN, no RuntimeWarning, and float32 stays float32 (constants are
Python floats, which NumPy 2 treats as "weak" and does not let promote an array).

Kink conventions follow ``jax.nn``: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = 1.

Backward maps take (z, a, g) with g = dC/da and return dC/dz.  For the elementwise entries
that is the ⊙ of the backprop equations, g ⊙ σ'(z), and ``derivative`` gives σ'(z) itself;
softmax mixes a row, so its backward is a vector-Jacobian product and it has no
elementwise derivative.  An elementwise entry may also give ``vjp``, a fused form of
g ⊙ σ'(z) that saves temporaries (identity: g itself; tanh: two fresh arrays updated in
place instead of eight new ones); it must equal ``g * derivative(z, a)`` bit for bit, which
tests/bench/test_fast_paths.py checks for every entry.  In-place updates only ever touch
arrays the function itself has just created, never z, a or g.

Adding an activation is one ``_register(Activation(...))`` call here and one entry in the
oracle's ``oracle.functions.ACTIVATIONS``; every test, benchmark and report iterates over
the registries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from refbp._types import FloatArray

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]

Derivative = Callable[[FloatArray, FloatArray], FloatArray]


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation function a = σ(z), applied to z (B, O).

    ``derivative(z, a)`` is σ'(z) (B, O) for elementwise activations and ``None`` for
    softmax.  ``backward(z, a, g)`` is dC/dz (B, O) given g = dC/da (B, O): ``vjp(z, a, g)``
    where the entry has one (softmax must; elementwise entries may, as a fused fast path),
    else g ⊙ derivative(z, a).
    ``kinks`` lists the points where σ is not differentiable and a one-sided value is chosen.
    """

    name: str
    forward: Callable[[FloatArray], FloatArray]
    derivative: Derivative | None
    vjp: Callable[[FloatArray, FloatArray, FloatArray], FloatArray] | None = None
    kinks: tuple[float, ...] = ()
    output_range: tuple[float, float] = (-math.inf, math.inf)

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None

    def backward(self, z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
        """dC/dz (B, O) from g = dC/da (B, O): g ⊙ σ'(z), or the VJP for softmax."""
        if self.vjp is not None:
            return self.vjp(z, a, g)
        assert self.derivative is not None
        return g * self.derivative(z, a)


_REGISTRY: dict[str, Activation] = {}
ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(_REGISTRY)
"""Name -> Activation.  Read-only view; entries are added by ``_register`` in this module."""


def _register(entry: Activation) -> None:
    if entry.name in _REGISTRY:
        raise ValueError(f"activation {entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry


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


# --- elementwise building blocks ------------------------------------------------------

# Bytes of one block in ``_blockwise``: a block and a temporary of its size stay in L2.
_BLOCK_BYTES = 1 << 19


def _blockwise(kernel: Callable[[FloatArray, FloatArray], None], z: FloatArray) -> FloatArray:
    """A fresh array ``out`` (z's shape) filled by ``kernel(z_part, out_part)``, block by block.

    A formula of several elementwise passes (tanh' has seven) then works on blocks that
    stay in cache, instead of streaming a large z through memory once per pass, and its
    temporaries are block-sized: tanh' on 512 × 2048 float64 takes 2.3 ms instead of 5.4.
    Each element is computed by the same operations either way, so the bits are the same.
    """
    dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
    out = np.empty(z.shape, dtype=dtype)
    block = _BLOCK_BYTES // dtype.itemsize
    if z.size <= block:
        kernel(z, out)
        return out
    flat_z, flat_out = z.reshape(-1), out.reshape(-1)  # out is C-contiguous: a view
    for start in range(0, flat_z.size, block):
        kernel(flat_z[start : start + block], flat_out[start : start + block])
    return out


def _sigmoid(z: FloatArray) -> FloatArray:
    # exp(-|z|) never overflows; both branches are exact rearrangements of 1/(1+e^-z).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# identity -------------------------------------------------------------------------------
_register(
    Activation(
        name="identity",
        forward=lambda z: z,  # a is z itself: nothing downstream writes to it
        derivative=lambda z, a: np.ones_like(z),
        vjp=lambda z, a, g: g,  # g ⊙ 1 is g: handed on as it is, neither copied nor written
    )
)


# sigmoid -------------------------------------------------------------------------------------
def _sigmoid_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    # Not a (1 − a): once a rounds near 1, 1 − a keeps few digits (z = 12 in float32 loses
    # three of seven; z = 30 in float64 likewise).  With e = exp(−|z|), σ'(z) = e / (1 + e)²
    # is a sum and products of positives, accurate to a few ulps for every z.
    return _blockwise(_sigmoid_derivative_kernel, z)


def _sigmoid_derivative_kernel(z: FloatArray, e: FloatArray) -> None:
    # In place in e (same operations, same rounding as e / ((1 + e)(1 + e)) written out):
    # e = exp(−|z|), then d = (1 + e)², then e / d.
    np.abs(z, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = 1.0 + e
    d *= d
    e /= d


def _sigmoid_vjp(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    d = _sigmoid_derivative(z, a)  # a fresh array: g ⊙ σ' is written into it
    d *= g
    return d


_register(
    Activation(
        name="sigmoid",
        forward=_sigmoid,
        derivative=_sigmoid_derivative,
        vjp=_sigmoid_vjp,
        output_range=(0.0, 1.0),
    )
)


# tanh ----------------------------------------------------------------------------------------
def _tanh_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    # 1 − a² cancels the same way as a (1 − a) once |a| rounds near 1 (|z| > 4 in float32).
    # sech²(z) = 4e / (1 + e)² with e = exp(−2|z|) has no cancellation.
    return _blockwise(_tanh_derivative_kernel, z)


def _tanh_derivative_kernel(z: FloatArray, e: FloatArray) -> None:
    # In place in e (same operations, same rounding as 4e / ((1 + e)(1 + e)) written out;
    # 4e is exact): e = exp(−2|z|), then d = (1 + e)², then 4e / d.
    np.abs(z, out=e)
    e *= -2.0
    np.exp(e, out=e)
    d = 1.0 + e
    d *= d
    e *= 4.0
    e /= d


def _tanh_vjp(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    d = _tanh_derivative(z, a)  # a fresh array: g ⊙ tanh' is written into it
    d *= g
    return d


_register(
    Activation(
        name="tanh",
        forward=np.tanh,
        derivative=_tanh_derivative,
        vjp=_tanh_vjp,
        output_range=(-1.0, 1.0),
    )
)

# relu: relu'(0) = 0, as jax.nn.relu ---------------------------------------------------------
_register(
    Activation(
        name="relu",
        forward=lambda z: np.maximum(z, 0.0),
        derivative=lambda z, a: (z > 0).astype(z.dtype),
        vjp=lambda z, a, g: g * (z > 0),  # the bool mask multiplies as 0 or 1 in g's dtype
        kinks=(0.0,),
        output_range=(0.0, math.inf),
    )
)

# leaky_relu, slope 0.01: leaky_relu'(0) = 1, as jax.nn.leaky_relu ---------------------------
LEAKY_SLOPE = 0.01
_register(
    Activation(
        name="leaky_relu",
        forward=lambda z: np.where(z >= 0, z, LEAKY_SLOPE * z),
        derivative=lambda z, a: np.where(z >= 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
        kinks=(0.0,),
    )
)


# elu, alpha 1: elu'(0) = 1, as jax.nn.elu ----------------------------------------------------
def _elu(z: FloatArray) -> FloatArray:
    # expm1 only of the non-positive part, so large positive z never reaches exp.
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


_register(
    Activation(
        name="elu",
        forward=_elu,
        # for z <= 0, d/dz expm1(z) = exp(z), taken directly: a + 1 would cancel to 0 once
        # a rounds to -1 (z = -30 in float32: 9.4e-14 becomes 0).  exp(0) = 1 at the kink.
        derivative=lambda z, a: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))).astype(z.dtype),
        kinks=(0.0,),
        output_range=(-1.0, math.inf),
    )
)

# softplus: log(1 + e^z) through logaddexp (no overflow); softplus' = sigmoid ---------------
_register(
    Activation(
        name="softplus",
        forward=lambda z: np.logaddexp(z.dtype.type(0), z),
        derivative=lambda z, a: _sigmoid(z),
        output_range=(0.0, math.inf),
    )
)

# gelu, tanh approximation (jax.nn.gelu's default) --------------------------------------------
# gelu(z) = z/2 (1 + tanh u), u = c (z + k z³).  Since (1 + tanh u)/2 = σ(2u) exactly, it is
# computed as z σ(2u) with the stable sigmoid: 1 + tanh u would cancel for z < −3 and leave
# float32 with no correct digit at z = −5.
GELU_C = math.sqrt(2.0 / math.pi)  # a Python float: weak, keeps float32 float32
GELU_K = 0.044715
# σ(2u) is exactly 0 or 1 in float64 once |z| > 10; clipping z there keeps z³ from
# overflowing float32 (|z| > 7e12) without changing any result.
_GELU_CLIP = 1.0e3


def _gelu_parts(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(σ(2u), σ'(2u), zc): the gate, its slope, and z clipped for the polynomial."""
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    two_u = (2.0 * GELU_C) * (zc + GELU_K * zc * zc * zc)
    e = np.exp(-np.abs(two_u))
    gate = np.where(two_u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    slope = e / ((1.0 + e) * (1.0 + e))
    return gate, slope, zc


def _gelu(z: FloatArray) -> FloatArray:
    gate, _, _ = _gelu_parts(z)
    return z * gate


def _gelu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    # d/dz [z σ(2u)] = σ(2u) + z σ'(2u) · 2c (1 + 3k z²); σ'(2u) is exactly 0 wherever z was
    # clipped, so the clipped zc in the polynomial changes nothing and cannot overflow.
    gate, slope, zc = _gelu_parts(z)
    return gate + zc * slope * (2.0 * GELU_C) * (1.0 + 3.0 * GELU_K * zc * zc)


_register(Activation(name="gelu", forward=_gelu, derivative=_gelu_derivative))


# silu: z σ(z); silu' = σ(z) (1 + z (1 - σ(z))) --------------------------------------------
def _silu_derivative(z: FloatArray, a: FloatArray) -> FloatArray:
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


_register(Activation(name="silu", forward=lambda z: z * _sigmoid(z), derivative=_silu_derivative))


# softmax, row-wise: not elementwise, so backward is the VJP a ⊙ (g − Σ_j g_j a_j) ----------
def softmax(z: FloatArray) -> FloatArray:
    """Row-wise softmax of z (B, O), shifted by each row's max so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    row_sums: FloatArray = e.sum(axis=1, keepdims=True)
    out: FloatArray = e / row_sums
    return out


def _softmax_vjp(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    ga: FloatArray = (g * a).sum(axis=1, keepdims=True)
    return a * (g - ga)


_register(
    Activation(
        name="softmax",
        forward=softmax,
        derivative=None,
        vjp=_softmax_vjp,
        output_range=(0.0, 1.0),
    )
)
