"""Every Hypothesis strategy of the suite: structure first, then data.

A network case is drawn as its structure (depth 1-6, widths 1-64, batch 1-64, an activation
per layer from the whole registry, a loss, a dtype) and then the numbers that fill it: a
seed for NumPy's generator plus the scales and the share of exact zeros, all drawn by
Hypothesis so that it can shrink them.  Drawing numbers from a seed rather than element by
element keeps examples cheap (thousands per minute) while Hypothesis still controls the
things that matter: shapes, names, scales, zeros (which put pre-activations exactly on the
kinks) and saturation.

Random draws never contain subnormals (normal and uniform draws at these scales cannot
produce them, and ``no_subnormals`` checks); the subnormal boundary is tested explicitly.

Registries drive everything: activations and losses come from ``refbp.ACTIVATIONS`` and
``refbp.LOSSES``, target domains from ``oracle.domains``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

import refbp
from oracle.domains import PROBABILITY_ACTIVATIONS, PROBABILITY_OUTPUT_LOSSES
from oracle.engine.cases import Structure as EngineStructure
from oracle.engine.cases import fill as engine_fill
from oracle.engine.cases import no_subnormals
from oracle.engine.cases import targets as targets  # re-exported: the tests draw targets here

ACTIVATION_NAMES: tuple[str, ...] = tuple(sorted(refbp.ACTIVATIONS))
LOSS_NAMES: tuple[str, ...] = tuple(sorted(refbp.LOSSES))
DTYPES: tuple[type[np.floating], ...] = (np.float32, np.float64)
MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 6, 64, 64


def examples(factor: float) -> int:
    """``factor`` times the loaded profile's max_examples: one knob sizes the whole suite."""
    return max(1, int(settings.default.max_examples * factor))


def output_activations(loss: str) -> tuple[str, ...]:
    """Output activations ``loss`` is defined for: all, or only probability-valued ones."""
    return PROBABILITY_ACTIVATIONS if loss in PROBABILITY_OUTPUT_LOSSES else ACTIVATION_NAMES


@dataclass(frozen=True)
class Structure:
    sizes: tuple[int, ...]  # (n_in, n_1, ..., n_out)
    activations: tuple[str, ...]
    loss: str
    dtype: type[np.floating]
    batch: int

    @property
    def depth(self) -> int:
        return len(self.activations)


@dataclass(frozen=True)
class NetCase:
    """A network and a batch, ready for ``refbp.MLP`` and the oracle.  Arrays are in ``dtype``."""

    structure: Structure
    weights: list[np.ndarray] = field(repr=False)
    biases: list[np.ndarray] = field(repr=False)
    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    seed: int = 0
    scales: tuple[float, float] = (1.0, 1.0)  # (weight gain, input scale)
    zero_share: float = 0.0

    def net(self) -> refbp.MLP:
        s = self.structure
        return refbp.MLP(self.weights, self.biases, list(s.activations), s.loss)

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        s = self.structure
        return (
            f"NetCase(sizes={list(s.sizes)}, activations={list(s.activations)}, loss={s.loss!r}, "
            f"dtype={np.dtype(s.dtype).name}, batch={s.batch}, seed={self.seed}, "
            f"gain={self.scales[0]}, x_scale={self.scales[1]}, zero_share={self.zero_share})"
        )


# Strategy objects are cached: one made afresh on every draw costs Hypothesis a validation
# each time (measured: a third of the cost of drawing a network case).
@functools.cache
def _up_to(n: int) -> st.SearchStrategy[int]:
    return st.integers(1, n)


@functools.cache
def _choice(options: tuple[object, ...]) -> st.SearchStrategy[object]:
    return st.sampled_from(options)


@st.composite
def structures(
    draw: st.DrawFn,
    *,
    loss: str | None = None,
    dtype: type[np.floating] | None = None,
    max_depth: int = MAX_DEPTH,
    max_width: int = MAX_WIDTH,
    max_batch: int = MAX_BATCH,
) -> Structure:
    depth = draw(_up_to(max_depth))
    sizes = tuple(draw(_up_to(max_width)) for _ in range(depth + 1))
    loss_name = loss if loss is not None else draw(_choice(LOSS_NAMES))
    hidden = tuple(draw(_choice(ACTIVATION_NAMES)) for _ in range(depth - 1))
    choices = output_activations(loss_name)
    if loss_name in PROBABILITY_OUTPUT_LOSSES and sizes[-1] == 1:
        # a softmax over one unit is exactly 1: the loss is infinite for every y < 1
        choices = tuple(c for c in choices if c != "softmax")
    out = draw(_choice(choices))
    dt = dtype if dtype is not None else draw(_choice(DTYPES))
    batch = draw(_up_to(max_batch))
    return Structure(sizes, (*hidden, out), loss_name, dt, batch)


def fill(
    structure: Structure, seed: int, gain: float, x_scale: float, zero_share: float
) -> NetCase:
    """The numbers of a case, drawn as the engine draws them (``oracle.engine.cases.fill``):
    in float64, then rounded once to the case's dtype; ``zero_share`` of the inputs and
    biases exactly 0, so that z lands on the kinks."""
    s = structure
    drawn = engine_fill(
        EngineStructure(s.sizes, s.activations, s.loss, np.dtype(s.dtype).name, s.batch),
        seed, gain, x_scale, zero_share,
    )  # fmt: skip
    return NetCase(
        s, drawn.weights, drawn.biases, drawn.X, drawn.Y, seed, (gain, x_scale), zero_share
    )


# What fills a structure: (seed, weight gain, input scale, share of exact zeros).  Built once:
# a strategy object made afresh for every example costs Hypothesis its validation each time.
FILLINGS = st.tuples(
    st.integers(0, 2**32 - 1),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.sampled_from([1.0, 0.1, 3.0]),
    st.sampled_from([0.0, 0.25, 1.0]),
)


@st.composite
def net_cases(
    draw: st.DrawFn,
    structure: st.SearchStrategy[Structure] | None = None,
    **structure_kwargs: object,
) -> NetCase:
    s = draw(structure if structure is not None else structures(**structure_kwargs))  # type: ignore[arg-type]
    return fill(s, *draw(FILLINGS))


@st.composite
def net_case_groups(
    draw: st.DrawFn, size: int, structure: st.SearchStrategy[Structure]
) -> list[NetCase]:
    """``size`` networks of one drawn structure, each with its own drawn parameters and data.

    The fast oracle evaluates any structure with the same executable, so what a group
    shares is only Hypothesis's per-example overhead (about 4 ms, three times the cost of
    checking a network); every network in it is a separate, fully checked example.
    """
    s = draw(structure)
    return [fill(s, *draw(FILLINGS)) for _ in range(size)]


@functools.cache
def network_groups(loss: str, dtype: type[np.floating], size: int) -> st.SearchStrategy[list[NetCase]]:
    """The (cached) strategy of ``size``-network groups for one loss and dtype."""
    return net_case_groups(size, structures(loss=loss, dtype=dtype))


@st.composite
def matrices(
    draw: st.DrawFn,
    *,
    dtype: type[np.floating] | None = None,
    max_rows: int = MAX_BATCH,
    max_cols: int = MAX_WIDTH,
    scale: float | None = None,
) -> np.ndarray:
    """A (B, n) matrix: normal draws at a drawn scale, with a drawn share of exact zeros."""
    rows = draw(st.integers(1, max_rows))
    cols = draw(st.integers(1, max_cols))
    seed = draw(st.integers(0, 2**32 - 1))
    sc = scale if scale is not None else draw(st.sampled_from([1.0, 0.01, 5.0, 30.0]))
    zero_share = draw(st.sampled_from([0.0, 0.3]))
    dt = dtype if dtype is not None else draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0, sc, (rows, cols))
    m[rng.random(m.shape) < zero_share] = 0.0
    return no_subnormals(m.astype(dt))


def like(m: np.ndarray, seed: int, scale: float = 1.0) -> np.ndarray:
    """A random upstream gradient shaped and typed like ``m``, never all ones: ones pulled back
    through softmax give exactly zero, so any softmax backward would pass."""
    return np.random.default_rng(seed).normal(0.0, scale, m.shape).astype(m.dtype)
