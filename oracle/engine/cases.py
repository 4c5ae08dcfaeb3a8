"""The cases the engine checks, and the Hypothesis strategies that draw them.

A network case is drawn structure first (depth, widths, batch, an activation per layer, a
loss, a dtype, all within the target's :class:`~oracle.engine.protocol.Capabilities`), then
the numbers that fill it: a seed for NumPy's generator plus the scales and the share of
exact zeros, drawn by Hypothesis so that it can shrink them.  Drawing numbers from a seed
rather than entry by entry keeps examples cheap while Hypothesis still controls what
matters: shapes, names, scales, zeros (which put pre-activations exactly on the kinks) and
saturation.  Random draws never contain subnormals (XLA flushes them to zero under jit;
``no_subnormals`` checks).

Kink cases are built on purpose: W = I and b = 0 make the first layer's z equal to X, so
chosen entries of X land exactly on each kink.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from oracle.domains import PROBABILITY_OUTPUT_LOSSES, TARGET_KINDS
from oracle.engine.protocol import Capabilities
from oracle.functions import ACTIVATION_SPECS

__all__ = [
    "Case",
    "Structure",
    "exact_identity_output",
    "exact_l1_ties",
    "fill",
    "kink_case",
    "l1_tie_case",
    "network_groups",
    "no_subnormals",
    "replay_case",
    "structures",
    "targets",
    "variants",
]


@dataclass(frozen=True)
class Structure:
    sizes: tuple[int, ...]  # (n_in, n_1, ..., n_out)
    activations: tuple[str, ...]
    loss: str
    dtype: str
    batch: int

    @property
    def depth(self) -> int:
        return len(self.activations)


@dataclass(frozen=True)
class Case:
    """A network and a batch: ``weights[l] (n_l, n_{l+1})``, ``X (B, n_0)``, ``Y (B, n_L)``,
    every array in ``structure.dtype``."""

    structure: Structure
    weights: list[np.ndarray] = field(repr=False)
    biases: list[np.ndarray] = field(repr=False)
    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    seed: int = 0
    scales: tuple[float, float] = (1.0, 1.0)  # (weight gain, input scale)
    zero_share: float = 0.0
    kind: str = "random"

    @property
    def arrays(self) -> list[np.ndarray]:
        return [*self.weights, *self.biases, self.X, self.Y]

    def describe(self) -> str:
        s = self.structure
        return (
            f"sizes={list(s.sizes)}, activations={list(s.activations)}, loss={s.loss!r}, "
            f"dtype={s.dtype}, batch={s.batch}"
        )

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        return (
            f"Case({self.describe()}, seed={self.seed}, gain={self.scales[0]}, "
            f"x_scale={self.scales[1]}, zero_share={self.zero_share}, kind={self.kind!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis's pretty printer would otherwise spell out every array of a dataclass
        printer.text(repr(self))


# Strategy objects are cached: one made afresh on every draw costs Hypothesis a validation
# each time (a third of the cost of drawing a network case).
@functools.cache
def _up_to(n: int) -> st.SearchStrategy[int]:
    return st.integers(1, n)


@functools.cache
def _choice(options: tuple[object, ...]) -> st.SearchStrategy[object]:
    return st.sampled_from(options)


def _outputs(caps: Capabilities, loss: str, n_out: int) -> tuple[str, ...]:
    choices = caps.outputs_for(loss)
    if loss in PROBABILITY_OUTPUT_LOSSES and n_out == 1:
        # a softmax over one unit is exactly 1: the loss is infinite for every y < 1
        choices = tuple(c for c in choices if c != "softmax")
    return choices


@st.composite
def structures(draw: st.DrawFn, caps: Capabilities, loss: str, dtype: str) -> Structure:
    """A structure within ``caps`` for ``loss`` and ``dtype``."""
    depth = draw(_up_to(caps.max_depth))
    if caps.square:
        sizes = (draw(_up_to(caps.max_width)),) * (depth + 1)
    else:
        sizes = tuple(draw(_up_to(caps.max_width)) for _ in range(depth + 1))
    if caps.uniform_hidden and depth > 1:
        hidden = (draw(_choice(caps.activations)),) * (depth - 1)
    else:
        hidden = tuple(draw(_choice(caps.activations)) for _ in range(depth - 1))
    choices = _outputs(caps, loss, sizes[-1])
    if not choices:  # only a softmax was allowed, over one unit: widen the output layer
        sizes = (*sizes[:-1], 2) if not caps.square else (2,) * (depth + 1)
        choices = _outputs(caps, loss, 2)
    out = draw(_choice(choices))
    batch = draw(_up_to(caps.max_batch))
    return Structure(sizes, (*(str(h) for h in hidden), str(out)), loss, dtype, batch)


def no_subnormals(a: np.ndarray) -> np.ndarray:
    """``a`` itself, after checking a random draw held no subnormal (XLA would flush it)."""
    tiny = np.finfo(a.dtype).tiny
    if ((a != 0) & (np.abs(a) < tiny)).any():
        raise AssertionError("a random draw produced a subnormal")
    return a


def targets(rng: np.random.Generator, loss: str, shape: tuple[int, int]) -> np.ndarray:
    """Float64 targets valid for ``loss``: reals, numbers in [0, 1], or probability rows."""
    kind = TARGET_KINDS[loss]
    B, n_out = shape
    if kind == "real":
        return rng.normal(0.0, 1.0, shape)
    if kind == "unit_interval":
        y = rng.uniform(0.0, 1.0, shape)
        # the ends of the interval are valid and exercise the log terms' edges
        y[rng.random(shape) < 0.2] = 0.0
        y[rng.random(shape) < 0.2] = 1.0
        return y
    if rng.random() < 0.5:  # probability rows: half one-hot, half soft
        return np.eye(n_out)[rng.integers(0, n_out, B)]
    p = rng.gamma(1.0, 1.0, shape) + 1e-3
    rows: np.ndarray = p / p.sum(axis=1, keepdims=True)
    return rows


def fill(s: Structure, seed: int, gain: float, x_scale: float, zero_share: float) -> Case:
    """The numbers of a case: drawn in float64, then rounded once to the case's dtype.

    Weights ~ N(0, gain²/fan_in) keep every pre-activation's spread near gain·x_scale, so
    units are neither all saturated nor all linear.  ``zero_share`` of the inputs and biases
    are exactly 0: a row of zero inputs with zero biases puts z exactly on the kinks.
    """
    rng = np.random.default_rng(seed)
    pairs = list(zip(s.sizes[:-1], s.sizes[1:], strict=True))
    ws = [rng.normal(0.0, gain / np.sqrt(fan_in), (fan_in, fan_out)) for fan_in, fan_out in pairs]
    bs = [rng.normal(0.0, 0.5, fan_out) for _, fan_out in pairs]
    X = rng.normal(0.0, x_scale, (s.batch, s.sizes[0]))
    if zero_share > 0:
        for b in bs:
            b[rng.random(b.size) < zero_share] = 0.0
        X[rng.random(X.shape) < zero_share] = 0.0
        if s.batch > 1:
            X[rng.integers(0, s.batch)] = 0.0  # at least one all-zero row
    Y = targets(rng, s.loss, (s.batch, s.sizes[-1]))
    cast = [np.asarray(a, dtype=s.dtype) for a in (*ws, *bs, X, Y)]
    no_subnormals(np.concatenate([a.ravel() for a in cast]))
    L = s.depth
    return Case(s, cast[:L], cast[L : 2 * L], cast[-2], cast[-1], seed, (gain, x_scale), zero_share)


# (seed, weight gain, input scale, share of exact zeros).  Built once.
FILLINGS = st.tuples(
    st.integers(0, 2**32 - 1),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.sampled_from([1.0, 0.1, 3.0]),
    st.sampled_from([0.0, 0.25, 1.0]),
)


# Seeds of one group's networks are this far apart (an odd constant: distinct mod 2³²).
_SEED_STRIDE = 0x9E3779B1


@st.composite
def _groups(draw: st.DrawFn, size: int, structure: st.SearchStrategy[Structure]) -> list[Case]:
    # One draw of scales and a seed per group, each network's seed derived from it: the
    # group's numbers are as random as with a draw per network, for a fifth of the draws.
    s = draw(structure)
    seed, gain, x_scale, zero_share = draw(FILLINGS)
    return [
        fill(s, (seed + k * _SEED_STRIDE) % 2**32, gain, x_scale, zero_share) for k in range(size)
    ]


@functools.cache
def network_groups(
    caps: Capabilities, loss: str, dtype: str, size: int
) -> st.SearchStrategy[list[Case]]:
    """``size`` networks of one drawn structure, each with its own parameters and data.

    A group shares its structure, its scales (weight gain, input scale, share of zeros) and
    Hypothesis's per-example overhead (a few ms, more than checking a small network costs);
    every network in it has its own seed and is a separate, fully checked case.
    """
    return _groups(size, structures(caps, loss, dtype))


def kink_values(kink: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Entries for one row of z: the kink itself in every other place, random values between."""
    row = rng.normal(0.0, 1.0, n)
    row[::2] = kink
    return row


def kink_case(
    caps: Capabilities, activation: str, loss: str, dtype: str, width: int, batch: int, seed: int
) -> Case | None:
    """A network whose first layer has W = I, b = 0, so z¹ = X, and X sits on the kinks.

    The first layer carries ``activation``; if the target does not take it as an output (or
    ``loss`` needs probabilities) a second layer with a supported output activation follows.
    None if the target's capabilities leave no such network.
    """
    kinks = ACTIVATION_SPECS[activation].kinks
    if not kinks:
        return None
    rng = np.random.default_rng(seed)
    n = min(width, caps.max_width)
    B = min(batch, caps.max_batch)
    outputs = _outputs(caps, loss, n)
    if activation in outputs:
        acts: tuple[str, ...] = (activation,)
    elif activation in caps.activations and outputs and caps.max_depth >= 2:
        acts = (activation, outputs[int(rng.integers(len(outputs)))])
    else:
        return None
    sizes = (n,) * (len(acts) + 1)
    X = np.stack([kink_values(kinks[int(rng.integers(len(kinks)))], n, rng) for _ in range(B)])
    ws = [np.eye(n)]
    bs = [np.zeros(n)]
    if len(acts) == 2:
        ws.append(rng.normal(0.0, 1.0 / np.sqrt(n), (n, n)))
        bs.append(rng.normal(0.0, 0.5, n))
    s = Structure(sizes, acts, loss, dtype, B)
    Y = targets(rng, loss, (B, n))
    cast = [np.asarray(a, dtype=dtype) for a in (*ws, *bs, X, Y)]
    L = len(acts)
    return Case(s, cast[:L], cast[L : 2 * L], cast[-2], cast[-1], seed, kind="kink")


def l1_tie_case(caps: Capabilities, dtype: str, width: int, batch: int, seed: int) -> Case | None:
    """One layer W = I, b = 0, identity output, under l1, with Y = X in every other entry.

    a = X then holds in every float arithmetic (each output is x·1 plus exact zeros), so those
    outputs equal their targets exactly in the target too, where l1's slope is sign(0) = 0 by
    the contract.  None if the target has no l1 or no identity output for it."""
    if "l1" not in caps.losses_usable() or "identity" not in caps.outputs_for("l1"):
        return None
    rng = np.random.default_rng(seed)
    n, B = min(width, caps.max_width), min(batch, caps.max_batch)
    X = rng.normal(0.0, 1.0, (B, n))
    Y = rng.normal(0.0, 1.0, (B, n))
    Y.flat[::2] = X.flat[::2]  # the same float64 values: still equal once cast
    s = Structure((n, n), ("identity",), "l1", dtype, B)
    w, b, x, y = (np.asarray(a, dtype=dtype) for a in (np.eye(n), np.zeros(n), X, Y))
    return Case(s, [w], [b], x, y, seed, kind="l1_tie")


def exact_identity_output(case: Case) -> bool:
    """Is a = X exactly in any arithmetic: one identity layer with W = I and b = 0?"""
    s = case.structure
    if s.activations != ("identity",):
        return False
    w, b = case.weights[0], case.biases[0]
    return w.shape[0] == w.shape[1] and bool((w == np.eye(len(w))).all()) and not b.any()


def exact_l1_ties(case: Case) -> bool:
    """Are the case's l1 ties ties in any arithmetic (an exact identity output)?  Decided
    from the arrays, not the case's kind, so that a failure's reproduction is judged alike."""
    return case.structure.loss == "l1" and exact_identity_output(case)


def variants(case: Case, caps: Capabilities, count: int = 2) -> list[Case]:
    """Fuller versions of a (shrunk) case for a diagnosis to be tested on: the same layers,
    loss and dtype, widths and batch of at least 3 (two different batches), moderate scales.
    A kink case's (or an l1 tie case's) variants are of its kind too."""
    s = case.structure
    out = []
    for k in range(1, count + 1):
        batch = min(max(s.batch, 3) + k - 1, caps.max_batch)
        if caps.square:
            sizes = (min(max(s.sizes[0], 3), caps.max_width),) * len(s.sizes)
        else:
            sizes = tuple(min(max(n, 3), caps.max_width) for n in s.sizes)
        if case.kind in ("kink", "l1_tie"):
            v = (
                kink_case(caps, s.activations[0], s.loss, s.dtype, sizes[0], batch, case.seed + k)
                if case.kind == "kink"
                else l1_tie_case(caps, s.dtype, sizes[0], batch, case.seed + k)
            )
            if v is not None:
                out.append(v)
            continue
        wider = Structure(sizes, s.activations, s.loss, s.dtype, batch)
        out.append(fill(wider, case.seed + k, min(case.scales[0], 2.0), 1.0, case.zero_share))
    return out


#: rows of probability targets must sum to 1 within this (float32 one-hot or soft rows)
_ROW_SUM_ATOL = 1e-4


def replay_case(
    weights: Sequence[Any], biases: Sequence[Any], activations: Sequence[str], loss: str,
    X: Any, Y: Any, seed: int, who: str,
) -> Case:  # fmt: skip
    """A case from a user's arrays (a failure report's reproduction), in weights[0]'s dtype.

    What is not a valid case is refused here, with what was expected and what came, so
    that it is never reported as the target's disagreement: a float dtype other than
    float32 or float64, a non-finite entry, targets outside the loss's domain.  Shapes and
    names are checked by the oracle, which raises in the caller."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or not weights:
        raise ValueError(f"{who}: weights must be a list with one array per layer, got {weights!r}")
    if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
        raise ValueError(f"{who}: biases must be a list with one array per layer")
    if isinstance(activations, str) or loss not in TARGET_KINDS:
        raise ValueError(
            f"{who}: activations must be a list of names and loss one of {list(TARGET_KINDS)}, "
            f"got {activations!r} and {loss!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{who}: seed must be a non-negative int, got {seed!r}")
    dtype = np.asarray(weights[0]).dtype
    if dtype.name not in ("float32", "float64"):
        raise TypeError(
            f"{who}: weights[0] sets the case's dtype and must be float32 or float64, got {dtype}"
        )
    L = len(weights)
    names = [*(f"weights[{i}]" for i in range(L)), *(f"biases[{i}]" for i in range(len(biases)))]
    arrays = []
    for name, given in zip([*names, "X", "Y"], [*weights, *biases, X, Y], strict=True):
        a = np.asarray(given)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{who}: {name} must be a real array, got dtype {a.dtype}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = tuple(np.argwhere(~np.isfinite(a))[0].tolist())
            raise ValueError(f"{who}: {name} must be finite, got {a[bad]} at index {bad}")
        with np.errstate(over="ignore"):  # a value beyond the dtype's range: refused below
            cast = np.asarray(a, dtype=dtype)
        if not np.isfinite(cast).all():
            bad = tuple(np.argwhere(~np.isfinite(cast))[0].tolist())
            raise ValueError(f"{who}: {name} does not fit in {dtype}: {a[bad]} at index {bad}")
        arrays.append(cast)
    y = arrays[-1]
    kind = TARGET_KINDS[loss]
    if kind != "real" and ((y < 0).any() or (kind == "unit_interval" and (y > 1).any())):
        raise ValueError(f"{who}: {loss} needs targets in [0, 1], got [{y.min()}, {y.max()}]")
    if kind == "probability_rows" and y.ndim == 2:
        worst = float(np.abs(y.sum(axis=1, dtype=np.float64) - 1.0).max(initial=0.0))
        if worst > _ROW_SUM_ATOL:
            raise ValueError(
                f"{who}: {loss} needs rows of Y that sum to 1, one is off by {worst:.3g}"
            )
    ws = arrays[:L]
    if any(w.ndim != 2 for w in ws):
        shapes = [w.shape for w in ws]
        raise ValueError(f"{who}: weights must be 2-D (n_in, n_out) arrays, got shapes {shapes}")
    sizes = (ws[0].shape[0], *(w.shape[1] for w in ws))
    batch = arrays[-2].shape[0] if arrays[-2].ndim else 0  # the oracle refuses a bad X
    s = Structure(tuple(int(n) for n in sizes), tuple(activations), loss, dtype.name, batch)
    return Case(s, arrays[:L], arrays[L:-2], arrays[-2], y, seed, kind="replay")
