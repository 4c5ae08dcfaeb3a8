"""The held-out cases: random small networks per activation × loss × dtype cell.

A cell (A, L, dtype) holds networks of depth 1-3 and widths 1-6 (batch 1-4) whose hidden
layers all use A and whose output uses A half of the time (always when the network has one
layer) or another activation valid for L; binary_cross_entropy takes a sigmoid or softmax
output (``oracle.domains``), so there A is kept in the hidden layers.  A softmax layer has
at least two units: over one unit it is the constant 1 and every gradient below it is 0.

Scales go up to saturation: each layer's W and b are rescaled so that the largest |z| of the
layer on the batch is the case's ``zmax``, drawn log-uniformly in [0.5, 40] for float64 and
[0.5, 15] for float32.  Everything is drawn in float64 from a NumPy generator seeded by
(seed, cell, index), then rounded once to the dtype: the case is exactly what every
implementation and the exact arbiter are given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import numpy.typing as npt

from oracle._checks import check_activation, check_loss
from oracle.domains import PROBABILITY_ACTIVATIONS, PROBABILITY_OUTPUT_LOSSES, TARGET_KINDS
from oracle.exact import EXACT_ACTIVATIONS, round_mpf
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES

__all__ = ["DTYPES", "ZMAX", "Case", "draw_cases"]

F64 = npt.NDArray[np.float64]
Array = npt.NDArray[np.floating]

DTYPES: tuple[str, ...] = ("float32", "float64")
#: The largest |z| a case reaches, per dtype: saturation without rounding every unit to ±1.
ZMAX = {"float32": 15.0, "float64": 40.0}
ZMIN = 0.5


@dataclass(frozen=True)
class Case:
    """One network and batch of a cell, in the cell's dtype."""

    activation: str  # the cell's activation (hidden layers; the output half of the time)
    loss: str
    dtype: str
    index: int
    activations: tuple[str, ...]
    zmax: float
    weights: tuple[Array, ...] = field(repr=False)
    biases: tuple[Array, ...] = field(repr=False)
    X: Array = field(repr=False)
    Y: Array = field(repr=False)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[0], *(w.shape[1] for w in self.weights))

    @property
    def cell(self) -> tuple[str, str, str]:
        return (self.activation, self.loss, self.dtype)

    def describe(self) -> str:
        return (
            f"sizes={list(self.sizes)} activations={list(self.activations)} loss={self.loss} "
            f"{self.dtype} batch={self.X.shape[0]} |z|max={self.zmax:.3g} (case {self.index})"
        )

    def args(self) -> tuple[list[Array], list[Array], list[str], str, Array, Array]:
        """``(weights, biases, activations, loss, X, Y)``, fresh copies for one call."""
        return (
            [w.copy() for w in self.weights],
            [b.copy() for b in self.biases],
            list(self.activations),
            self.loss,
            self.X.copy(),
            self.Y.copy(),
        )


def _targets(rng: np.random.Generator, loss: str, shape: tuple[int, int]) -> F64:
    kind = TARGET_KINDS[loss]
    if kind == "real":
        return rng.normal(0.0, 1.0, shape)
    if kind == "unit_interval":
        y = rng.uniform(0.0, 1.0, shape)
        y[rng.random(shape) < 0.2] = 0.0  # the ends are valid targets and exercise the logs
        y[rng.random(shape) < 0.2] = 1.0
        return y
    if rng.random() < 0.5:
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    p = rng.gamma(1.0, 1.0, shape) + 1e-3
    rows: F64 = p / p.sum(axis=1, keepdims=True)
    return rows


def _structure(rng: np.random.Generator, act: str, loss: str) -> tuple[list[int], list[str]]:
    valid = PROBABILITY_ACTIVATIONS if loss in PROBABILITY_OUTPUT_LOSSES else ACTIVATION_NAMES
    depth = int(rng.integers(1 if act in valid else 2, 4))
    if act in valid and (depth == 1 or rng.random() < 0.5):
        out = act
    else:
        out = str(rng.choice(np.array(valid)))
    acts = [act] * (depth - 1) + [out]
    sizes = [int(n) for n in rng.integers(1, 7, depth + 1)]
    for k, name in enumerate(acts):
        if name == "softmax":
            sizes[k + 1] = max(2, sizes[k + 1])
    return sizes, acts


def _activate(name: str, z: F64) -> F64:
    """The activation in float64 (through the arbiter at 20 digits): only for scaling."""
    forward = EXACT_ACTIVATIONS[name].forward
    with mpmath.workdps(20):
        rows = [[round_mpf(v, np.float64) for v in forward([mpmath.mpf(x) for x in r])] for r in z]
    return np.array(rows, dtype=np.float64)


def _case(seed: int, cell: int, index: int, act: str, loss: str, dtype: str) -> Case:
    rng = np.random.default_rng([seed, cell, index])
    dt = np.dtype(dtype)
    sizes, acts = _structure(rng, act, loss)
    zmax = float(math.exp(rng.uniform(math.log(ZMIN), math.log(ZMAX[dtype]))))
    batch = int(rng.integers(1, 5))
    X = rng.normal(0.0, 1.0, (batch, sizes[0])).astype(dt)
    a = X.astype(np.float64)
    ws, bs = [], []
    for n_in, n_out, name in zip(sizes[:-1], sizes[1:], acts, strict=True):
        w, b = rng.normal(0.0, 1.0, (n_in, n_out)), rng.normal(0.0, 0.5, n_out)
        top = float(np.max(np.abs(a @ w + b)))
        if top > 0:
            w, b = w * (zmax / top), b * (zmax / top)
        ws.append(w.astype(dt))
        bs.append(b.astype(dt))
        a = _activate(name, a @ ws[-1].astype(np.float64) + bs[-1].astype(np.float64))
    Y = _targets(rng, loss, (batch, sizes[-1])).astype(dt)
    return Case(act, loss, dtype, index, tuple(acts), zmax, tuple(ws), tuple(bs), X, Y)


def draw_cases(
    cases_per_cell: int,
    seed: int,
    *,
    activations: tuple[str, ...] = ACTIVATION_NAMES,
    losses: tuple[str, ...] = LOSS_NAMES,
    dtypes: tuple[str, ...] = DTYPES,
) -> list[Case]:
    """``cases_per_cell`` cases for every (activation, loss, dtype) cell, reproducibly."""
    if (
        isinstance(cases_per_cell, bool)
        or not isinstance(cases_per_cell, int)
        or cases_per_cell < 1
    ):
        raise ValueError(f"draw_cases: cases_per_cell must be an int >= 1, got {cases_per_cell!r}")
    for name in activations:
        check_activation("draw_cases", name)
    for name in losses:
        check_loss("draw_cases", name)
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"draw_cases: dtypes must be among {', '.join(DTYPES)}, got {d!r}")
    cases = []
    cell = 0
    for dtype in dtypes:
        for loss in losses:
            for act in activations:
                for i in range(cases_per_cell):
                    cases.append(_case(seed, cell, i, act, loss, dtype))
                cell += 1
    return cases
