"""Checks on the oracle itself, before it is trusted to judge refbp.

* conventions at the kinks, pinned through ``jax.grad`` on the oracle's own functions;
* the plain oracle (autodiff) against central finite differences (no autodiff);
* the fast, bucketed oracle against the plain one, to rounding, at bucket edges;
* classic worked examples with known answers;
* extremes: logits of ±1e4, the subnormal boundary (XLA flushes, NumPy does not).

Compiles are budgeted: the plain oracle and the finite differences compile once per
structure, so the structures here are few and shared between tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import SupportsFloat

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import oracle
from oracle import fast
from oracle.functions import ACTIVATION_NAMES, ACTIVATION_SPECS, ACTIVATIONS, LOSS_NAMES, LOSSES

CONTRACT_ACTIVATIONS = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "gelu",
    "silu",
    "softmax",
)
CONTRACT_LOSSES = (
    "mse",
    "quadratic",
    "l1",
    "huber",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "binary_cross_entropy",
)
KINKED = ("relu", "leaky_relu", "elu")

# --------------------------------------------------------------------------- helpers


def _net(
    rng: np.random.Generator, widths: Sequence[int], gain: float = 1.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """W_l ~ N(0, gain²/fan_in): pre-activations of order 1, units neither saturated nor linear."""
    ws = [
        rng.normal(0.0, gain / np.sqrt(widths[i]), (widths[i], widths[i + 1]))
        for i in range(len(widths) - 1)
    ]
    bs = [rng.normal(0.0, 0.3, widths[i + 1]) for i in range(len(widths) - 1)]
    return ws, bs


def _targets(rng: np.random.Generator, loss: str, B: int, O: int) -> np.ndarray:
    if loss == "softmax_cross_entropy":
        p: np.ndarray = rng.gamma(1.0, 1.0, (B, O)) + 1e-3
        rows: np.ndarray = p / p.sum(axis=1, keepdims=True)
        return rows
    if loss in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        return rng.uniform(0.0, 1.0, (B, O))
    return rng.normal(0.0, 1.0, (B, O))


def _rel(a: np.ndarray | float, b: np.ndarray | float) -> float:
    """Normwise relative difference ‖a − b‖ / ‖b‖ (0 if both are 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if np.array_equal(a, b):
        return 0.0
    nb, d = float(np.linalg.norm(b)), float(np.linalg.norm(a - b))
    if nb == 0.0:
        return 0.0 if d == 0.0 else np.inf
    return d / nb


def _assert_fast_equals_plain(
    f: oracle.OracleResult,
    p: oracle.OracleResult,
    ws: Sequence[np.ndarray],
    bs: Sequence[np.ndarray],
    acts: Sequence[str],
    X: np.ndarray,
    rtol: float = 1e-14,
) -> None:
    """Fast and plain agree to rounding: ‖fast − plain‖ <= rtol · max(‖plain‖, S).

    S is the size of what was summed to get the quantity, so that a sum that cancels
    (∂C/∂b = Σ_rows δ with l1's ±1 signs, ∂C/∂W = aᵀδ, δ Wᵀ) is judged by the rounding
    of its terms, not against its own tiny result: S = ‖Σ_rows |δ|‖ for ∂C/∂b,
    ‖|a|ᵀ|δ|‖ for ∂C/∂W, ‖|δ¹| |W¹|ᵀ‖ for ∂C/∂X and 2‖|δˡ⁺¹| |Wˡ⁺¹|ᵀ‖ for δˡ
    (every activation's VJP at most doubles its upstream: |σ'| <= 1.13, softmax <= 2).
    """

    def close(
        label: str, got: np.ndarray | float, want: np.ndarray | float, S: SupportsFloat
    ) -> None:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        assert got.shape == want.shape, (label, got.shape, want.shape)
        if np.array_equal(got, want):
            return
        err = float(np.linalg.norm(got - want))
        scale = max(float(np.linalg.norm(want)), float(S))
        assert err <= rtol * scale, f"{label}: ‖fast − plain‖ = {err:.3e}, scale {scale:.3e}"

    L = len(ws)
    assert len(f.deltas) == len(p.deltas) == len(f.grad_weights) == len(f.grad_biases) == L
    inputs = [X, *oracle.forward_fast(ws, bs, acts, X).activations[:-1]]
    norm = np.linalg.norm
    # The loss of outputs close to their targets cancels (mse of a ≈ y); its rounding is
    # relative to the outputs' own size, ‖a‖² / (B·O) per entry, not to the small result.
    close("loss", f.loss, p.loss, float(np.sum(p.output**2)) / p.output.size)
    close("output", f.output, p.output, 0.0)
    # T: the running size of what each δ is summed from.  At the output the loss gradient is
    # a difference of terms as large as the outputs (2(a − y)/(B·O) for mse, p − y, ...):
    # where a ≈ y it cancels, so T starts from |a| / (B·O) as well as |δᴸ|; each layer's
    # VJP at most doubles it (|σ'| <= 1.13, softmax <= 2) on its way through |W|ᵀ.
    T = [np.zeros(0)] * L
    T[L - 1] = np.abs(p.deltas[L - 1]) + 4.0 * np.abs(p.output) / p.output.size
    for i in range(L - 2, -1, -1):
        T[i] = np.maximum(np.abs(p.deltas[i]), 2.0 * (T[i + 1] @ np.abs(ws[i + 1]).T))
    close("grad_input", f.grad_input, p.grad_input, norm(T[0] @ np.abs(ws[0]).T))
    for i in range(L):
        close(f"deltas[{i}]", f.deltas[i], p.deltas[i], norm(T[i]))
        close(
            f"grad_weights[{i}]",
            f.grad_weights[i],
            p.grad_weights[i],
            norm(np.abs(inputs[i]).T @ T[i]),
        )
        close(f"grad_biases[{i}]", f.grad_biases[i], p.grad_biases[i], norm(T[i].sum(axis=0)))


def _layer_inputs(
    ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], acts: Sequence[str], X: np.ndarray
) -> list[np.ndarray]:
    """z_l of every layer, from the bucketed forward (no compile per structure)."""
    return oracle.forward_fast(ws, bs, acts, X).pre_activations


def _far_from_kinks(
    ws: Sequence[np.ndarray],
    bs: Sequence[np.ndarray],
    acts: Sequence[str],
    loss: str,
    X: np.ndarray,
    Y: np.ndarray,
    margin: float = 1e-3,
) -> bool:
    """No z within ``margin`` of a kink and no loss kink within ``margin``: FD is meaningful."""
    zs = _layer_inputs(ws, bs, acts, X)
    for z, name in zip(zs, acts, strict=True):
        if ACTIVATION_SPECS[name].kinks and np.min(np.abs(z)) < margin:
            return False
    d = np.abs(oracle.forward_fast(ws, bs, acts, X).activations[-1] - Y)
    if loss == "l1" and np.min(d) < margin:
        return False
    return not (loss == "huber" and np.min(np.abs(d - 1.0)) < margin)


def _not_vacuous(
    ws: Sequence[np.ndarray],
    bs: Sequence[np.ndarray],
    acts: Sequence[str],
    loss: str,
    X: np.ndarray,
    Y: np.ndarray,
) -> bool:
    """Every layer has a non-negligible δ (e.g. not a relu output layer that is all off)."""
    r = oracle.backprop_fast(ws, bs, acts, loss, X, Y)
    return all(np.linalg.norm(d) > 1e-4 for d in r.deltas)


# --------------------------------------------------------------------------- registries


def test_x64_is_enabled_by_importing_the_oracle() -> None:
    assert jnp.asarray(np.float64(1.0)).dtype == jnp.float64
    assert jnp.zeros(1).dtype == jnp.float64  # the default float dtype is 64-bit too


def test_registries_have_exactly_the_contract_names() -> None:
    assert ACTIVATION_NAMES == CONTRACT_ACTIVATIONS
    assert LOSS_NAMES == CONTRACT_LOSSES
    assert tuple(ACTIVATIONS) == CONTRACT_ACTIVATIONS
    assert tuple(LOSSES) == CONTRACT_LOSSES
    assert {n for n, s in ACTIVATION_SPECS.items() if s.kinks} == set(KINKED)
    assert [n for n, s in ACTIVATION_SPECS.items() if s.rowwise] == ["softmax"]


# --------------------------------------------------------------------------- kinks


@pytest.mark.parametrize(("name", "slope"), [("relu", 0.0), ("leaky_relu", 1.0), ("elu", 1.0)])
def test_activation_kink_convention_via_jax_grad(name: str, slope: float) -> None:
    f = ACTIVATIONS[name]
    assert jax.grad(lambda z: f(z))(0.0) == slope
    # and through the oracle's VJP entry points, plain and bucketed
    z, g = np.zeros((2, 3)), np.ones((2, 3))
    assert np.all(oracle.activation_vjp(name, z, g)[1] == slope)
    assert np.all(oracle.activation_vjp_fast(name, z, g)[1] == slope)


def test_why_relu_is_not_jnp_maximum() -> None:
    # The pitfall the registry avoids: jnp.maximum splits the gradient at a tie.
    assert jax.grad(lambda z: jnp.maximum(z, 0.0))(0.0) == 0.5
    assert jax.grad(jnp.abs)(0.0) == 1.0


_L1_GRAD = jax.jit(jax.grad(LOSSES["l1"]))


# One shape: every new shape is a new compile.
@given(a=hnp.arrays(np.float64, (4, 3), elements=st.floats(-10, 10, allow_subnormal=False)))
@settings(deadline=None)
def test_l1_subgradient_is_zero_where_a_equals_y(a: np.ndarray) -> None:
    # sign(0) = 0, as NumPy's sign: no push where the prediction is exact.
    assert np.all(np.asarray(_L1_GRAD(a, a)) == 0.0)
    assert np.all(oracle.loss_grad("l1", a, a)[1] == 0.0)
    assert np.all(oracle.loss_grad_fast("l1", a, a)[1] == 0.0)


def test_huber_is_continuous_with_slope_one_at_delta() -> None:
    y = np.zeros((1, 2))
    a = np.array([[1.0, -1.0]])
    c, g = oracle.loss_grad("huber", a, y)
    assert c == 0.5  # (0.5 + 0.5) / 2 entries
    assert np.array_equal(g, np.array([[0.5, -0.5]]))  # ±1 / (B·O)


# --------------------------------------------------------------------------- loss values


def _numpy_loss(name: str, a: np.ndarray, y: np.ndarray) -> float:
    """The contract's table written independently in NumPy (values only)."""
    B = a.shape[0]
    d = a - y
    if name == "mse":
        return float(np.mean(d**2))
    if name == "quadratic":
        return float(np.sum(d**2) / (2 * B))
    if name == "l1":
        return float(np.mean(np.abs(d)))
    if name == "huber":
        return float(np.mean(np.where(np.abs(d) <= 1, 0.5 * d**2, np.abs(d) - 0.5)))
    if name == "softmax_cross_entropy":
        s = a - a.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return float(-np.sum(y * logp) / B)
    if name == "sigmoid_cross_entropy":
        return float(np.sum(np.logaddexp(0.0, a) - y * a) / B)
    assert name == "binary_cross_entropy"
    return float(-np.sum(y * np.log(a) + (1 - y) * np.log1p(-a)) / B)


@pytest.mark.parametrize("name", CONTRACT_LOSSES)
def test_loss_values_match_the_contract_table(name: str) -> None:
    rng = np.random.default_rng(7)
    a = (
        rng.uniform(0.05, 0.95, (5, 3))
        if name == "binary_cross_entropy"
        else rng.normal(0, 2, (5, 3))
    )
    y = _targets(rng, name, 5, 3)
    expected = _numpy_loss(name, a, y)
    assert float(LOSSES[name](jnp.asarray(a), jnp.asarray(y))) == pytest.approx(expected, rel=1e-13)
    assert oracle.loss_grad_fast(name, a, y)[0] == pytest.approx(expected, rel=1e-13)


# --------------------------------------------------------------------------- autodiff vs FD

# Ten depth-6 structures; structure k uses the registry rotated by k, so every
# activation sits at every layer position once.  Losses cycle so each appears,
# binary_cross_entropy where the output layer is sigmoid (k = 6).
ROTATION_LOSSES = (
    "mse",
    "quadratic",
    "l1",
    "huber",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "binary_cross_entropy",
    "mse",
    "softmax_cross_entropy",
    "huber",
)
ROTATION_WIDTHS = (3, 4, 3, 4, 3, 4, 2)
ROTATION_BATCH = 3


def _rotation(k: int) -> tuple[list[str], str]:
    acts = [CONTRACT_ACTIVATIONS[(k + i) % 10] for i in range(6)]
    loss = ROTATION_LOSSES[k]
    if loss == "binary_cross_entropy":
        assert acts[-1] in ("sigmoid", "softmax")
    return acts, loss


def _rotation_case(
    k: int,
) -> tuple[list[np.ndarray], list[np.ndarray], list[str], str, np.ndarray, np.ndarray]:
    acts, loss = _rotation(k)
    for seed in range(100):
        rng = np.random.default_rng(1000 * k + seed)
        ws, bs = _net(rng, ROTATION_WIDTHS, gain=1.5)
        X = rng.normal(0.0, 1.0, (ROTATION_BATCH, ROTATION_WIDTHS[0]))
        Y = _targets(rng, loss, ROTATION_BATCH, ROTATION_WIDTHS[-1])
        if _far_from_kinks(ws, bs, acts, loss, X, Y) and _not_vacuous(ws, bs, acts, loss, X, Y):
            return ws, bs, acts, loss, X, Y
    raise AssertionError("no seed kept every unit away from the kinks")


def test_every_activation_sits_at_every_position() -> None:
    for pos in range(6):
        assert {_rotation(k)[0][pos] for k in range(10)} == set(CONTRACT_ACTIVATIONS)
    assert {_rotation(k)[1] for k in range(10)} == set(CONTRACT_LOSSES)


@pytest.mark.parametrize("k", range(10))
def test_autodiff_matches_finite_differences_and_fast_matches_plain(k: int) -> None:
    ws, bs, acts, loss, X, Y = _rotation_case(k)
    plain = oracle.backprop(ws, bs, acts, loss, X, Y)
    numeric = oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-6)
    assert np.isfinite(plain.loss)
    assert _rel(numeric.loss, plain.loss) <= 1e-14  # the same forward formulas
    assert _rel(numeric.output, plain.output) <= 1e-14
    # FD error ~ ε|C|/h per entry (~1e-10) plus h²-truncation: a wrong convention or a
    # missing term is O(1) off; 1e-6 normwise leaves no room for either.
    atol = 1e-8 * max(1.0, abs(plain.loss))
    pairs = [
        ("grad_input", numeric.grad_input, plain.grad_input),
        *(
            (f"grad_weights[{i}]", n, p)
            for i, (n, p) in enumerate(zip(numeric.grad_weights, plain.grad_weights, strict=True))
        ),
        *(
            (f"grad_biases[{i}]", n, p)
            for i, (n, p) in enumerate(zip(numeric.grad_biases, plain.grad_biases, strict=True))
        ),
        *(
            (f"deltas[{i}]", n, p)
            for i, (n, p) in enumerate(zip(numeric.deltas, plain.deltas, strict=True))
        ),
    ]
    for label, n, p in pairs:
        err = float(np.linalg.norm(n - p))
        assert err <= 1e-6 * float(np.linalg.norm(p)) + atol * np.sqrt(p.size), (
            f"{acts} {loss} {label}: ‖FD − autodiff‖ = {err:.3e}, "
            f"‖autodiff‖ = {np.linalg.norm(p):.3e}"
        )
    # a vacuous comparison (all zeros) would prove nothing
    assert any(np.linalg.norm(p) > 1e-6 for _, _, p in pairs)
    _assert_fast_equals_plain(
        oracle.backprop_fast(ws, bs, acts, loss, X, Y), plain, ws, bs, acts, X
    )


def warm_up() -> None:
    """Compile the per-structure executables of the rotation tests ahead of them.

    The plain and finite-difference oracles compile once per structure (about 20 XLA
    compiles here on a fresh cache).  tests/conftest.py calls this on a background thread
    at the start of the session, so that the compiles overlap the network tests, which
    leave the second core partly idle; the tests then find the executables in the cache.
    The results are thrown away: the tests compute and check their own.
    """
    for k in range(10):
        ws, bs, acts, loss, X, Y = _rotation_case(k)
        oracle.backprop(ws, bs, acts, loss, X, Y)
        oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-6)


def test_fourth_order_differences_are_more_accurate() -> None:
    ws, bs, acts, loss, X, Y = _rotation_case(1)
    plain = oracle.backprop(ws, bs, acts, loss, X, Y)
    n2 = oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-6, order=2)
    n4 = oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-3, order=4)
    e2 = _rel(n2.grad_weights[0], plain.grad_weights[0])
    e4 = _rel(n4.grad_weights[0], plain.grad_weights[0])
    assert e4 < 1e-9
    assert e4 < e2


# --------------------------------------------------------------------------- fast vs plain

EDGE_CASES = [
    # (widths, batch, activations, loss)
    ((1, 1), 1, ("identity",), "mse"),
    ((1, 1), 1, ("softmax",), "mse"),  # one-unit softmax: output ≡ 1, every gradient exactly 0
    ((9, 8, 1), 9, ("tanh", "sigmoid"), "binary_cross_entropy"),
    ((8, 9, 64), 8, ("relu", "softmax"), "softmax_cross_entropy"),
    ((64, 64), 64, ("softmax",), "l1"),
    (
        (1, 64, 1, 9, 8, 64, 1),
        64,
        ("gelu", "softmax", "elu", "silu", "softplus", "identity"),
        "huber",
    ),
    ((63, 2, 63), 63, ("leaky_relu", "softmax"), "sigmoid_cross_entropy"),
]


@pytest.mark.parametrize(("widths", "batch", "acts", "loss"), EDGE_CASES)
def test_fast_matches_plain_at_edges(
    widths: tuple[int, ...], batch: int, acts: tuple[str, ...], loss: str
) -> None:
    rng = np.random.default_rng(sum(widths) + batch)
    ws, bs = _net(rng, widths)
    X = rng.normal(0.0, 1.0, (batch, widths[0]))
    Y = _targets(rng, loss, batch, widths[-1])
    plain = oracle.backprop(ws, bs, list(acts), loss, X, Y)
    fast_result = oracle.backprop_fast(ws, bs, list(acts), loss, X, Y)
    _assert_fast_equals_plain(fast_result, plain, ws, bs, list(acts), X)
    assert [d.shape for d in plain.deltas] == [(batch, w) for w in widths[1:]]


@pytest.mark.slow
@pytest.mark.parametrize(("widths", "batch", "acts", "loss"), EDGE_CASES)
def test_fast_matches_plain_with_small_buckets(
    widths: tuple[int, ...], batch: int, acts: tuple[str, ...], loss: str
) -> None:
    previous = fast.set_buckets(widths=(8, 64), batches=(8, 64))
    try:
        test_fast_matches_plain_at_edges(widths, batch, acts, loss)
    finally:
        fast.set_buckets(*previous)


@pytest.mark.slow
def test_fast_beyond_the_buckets() -> None:
    # width 65, batch 65, depth 7: the next power of two / the real depth, one compile each
    rng = np.random.default_rng(3)
    widths = (65, 3, 2, 2, 2, 2, 2, 4)
    acts = ["tanh", "relu", "softmax", "gelu", "elu", "sigmoid", "identity"]
    ws, bs = _net(rng, widths)
    X, Y = rng.normal(size=(65, 65)), rng.normal(size=(65, 4))
    assert fast.buckets_for(widths, 65) == fast.Buckets(depth=7, width=128, batch=128)
    plain = oracle.backprop(ws, bs, acts, "mse", X, Y)
    _assert_fast_equals_plain(
        oracle.backprop_fast(ws, bs, acts, "mse", X, Y), plain, ws, bs, acts, X
    )


@st.composite
def _structures(draw: st.DrawFn) -> tuple[list[int], list[str], str, int]:
    depth = draw(st.integers(1, 6))
    widths = [draw(st.integers(1, 64)) for _ in range(depth + 1)]
    acts = [draw(st.sampled_from(CONTRACT_ACTIVATIONS)) for _ in range(depth)]
    loss = draw(st.sampled_from(CONTRACT_LOSSES))
    if loss == "binary_cross_entropy":
        # a must lie in (0, 1): a one-unit softmax is identically 1, where BCE is inf/NaN
        acts[-1] = draw(st.sampled_from(("sigmoid", "softmax") if widths[-1] > 1 else ("sigmoid",)))
    return widths, acts, loss, draw(st.integers(1, 64))


@pytest.mark.slow
@given(structure=_structures(), seed=st.integers(0, 2**32 - 1))
@settings(deadline=None, max_examples=60)
def test_fast_matches_plain_on_random_structures(
    structure: tuple[list[int], list[str], str, int], seed: int
) -> None:
    widths, acts, loss, batch = structure
    rng = np.random.default_rng(seed)
    ws, bs = _net(rng, widths)
    X = rng.normal(size=(batch, widths[0]))
    Y = _targets(rng, loss, batch, widths[-1])
    _assert_fast_equals_plain(
        oracle.backprop_fast(ws, bs, acts, loss, X, Y),
        oracle.backprop(ws, bs, acts, loss, X, Y),
        ws,
        bs,
        acts,
        X,
    )


@pytest.mark.usefixtures("no_warm_up_running")  # its compiles would count here
def test_fast_compiles_once_for_many_structures() -> None:
    rng = np.random.default_rng(11)
    oracle.warmup()  # every (width, batch) bucket pair, whatever set_buckets chose
    before = oracle.compile_count()
    for _ in range(30):
        depth = int(rng.integers(1, 7))
        widths = [int(w) for w in rng.integers(1, 65, depth + 1)]
        acts = [str(a) for a in rng.choice(CONTRACT_ACTIVATIONS, depth)]
        loss = str(rng.choice(CONTRACT_LOSSES[:6]))
        ws, bs = _net(rng, widths)
        B = int(rng.integers(1, 65))
        r = oracle.backprop_fast(
            ws, bs, acts, loss, rng.normal(size=(B, widths[0])), _targets(rng, loss, B, widths[-1])
        )
        assert np.isfinite(r.loss)
    assert oracle.compile_count() == before


def test_backprop_many_matches_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    widths, acts, loss = (4, 5, 3), ["silu", "softmax"], "softmax_cross_entropy"
    cases = []
    for _ in range(3):
        ws, bs = _net(rng, widths)
        cases.append((ws, bs, rng.normal(size=(6, 4)), _targets(rng, loss, 6, 3)))
    many = oracle.backprop_many(cases, acts, loss)
    assert len(many) == 3
    for (ws, bs, X, Y), r in zip(cases, many, strict=True):
        _assert_fast_equals_plain(
            r, oracle.backprop_fast(ws, bs, acts, loss, X, Y), ws, bs, acts, X
        )


def test_forward_fast_matches_predict_and_z() -> None:
    rng = np.random.default_rng(8)
    widths, acts = (3, 5, 4, 2), ["elu", "softmax", "gelu"]
    ws, bs = _net(rng, widths)
    X = rng.normal(size=(7, 3))
    trace = oracle.forward_fast(ws, bs, acts, X)
    assert _rel(trace.activations[-1], oracle.predict(ws, bs, acts, X)) <= 1e-15
    a_prev = X
    for z, a, w, b in zip(trace.pre_activations, trace.activations, ws, bs, strict=True):
        assert _rel(z, a_prev @ w + b) <= 1e-14
        a_prev = a


@pytest.mark.parametrize("name", CONTRACT_ACTIVATIONS)
def test_activation_vjp_fast_matches_plain(name: str) -> None:
    rng = np.random.default_rng(2)
    z, g = rng.normal(0, 2, (5, 7)), rng.normal(size=(5, 7))  # random upstream: ones is vacuous
    a_p, dz_p = oracle.activation_vjp(name, z, g)
    a_f, dz_f = oracle.activation_vjp_fast(name, z, g)
    assert _rel(a_f, a_p) <= 1e-15 and _rel(dz_f, dz_p) <= 1e-14
    assert np.linalg.norm(dz_p) > 0


@pytest.mark.parametrize("name", CONTRACT_LOSSES)
def test_loss_grad_fast_matches_plain(name: str) -> None:
    rng = np.random.default_rng(4)
    a = (
        rng.uniform(0.05, 0.95, (6, 3))
        if name == "binary_cross_entropy"
        else rng.normal(size=(6, 3))
    )
    y = _targets(rng, name, 6, 3)
    c_p, g_p = oracle.loss_grad(name, a, y)
    c_f, g_f = oracle.loss_grad_fast(name, a, y)
    assert _rel(c_f, c_p) <= 1e-15 and _rel(g_f, g_p) <= 1e-14


def test_dense_vjp_fast_matches_plain() -> None:
    rng = np.random.default_rng(6)
    x, w, b, g = (
        rng.normal(size=(4, 3)),
        rng.normal(size=(3, 5)),
        rng.normal(size=5),
        rng.normal(size=(4, 5)),
    )
    for got, want in zip(
        oracle.dense_vjp_fast(x, w, b, g), oracle.dense_vjp(x, w, b, g), strict=True
    ):
        assert _rel(got, want) <= 1e-15
    _z, dx, dw, db = oracle.dense_vjp(x, w, b, g)
    assert dx.shape == (4, 3) and dw.shape == (3, 5) and db.shape == (5,)


# --------------------------------------------------------------------------- SGD


def test_sgd_follows_the_pytorch_convention() -> None:
    rng = np.random.default_rng(9)
    widths, acts, loss = (3, 4, 2), ["tanh", "identity"], "mse"
    ws, bs = _net(rng, widths)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    batches = [np.array([0, 1, 2]), np.array([3, 4, 5])]
    lr, mom, wd = 0.1, 0.9, 0.01
    res = oracle.sgd(ws, bs, acts, loss, X, Y, batches, lr, momentum=mom, weight_decay=wd)
    # step by step from the oracle's own gradients
    w, b = [a.copy() for a in ws], [a.copy() for a in bs]
    vw, vb = [np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b]
    losses = []
    for idx in batches:
        r = oracle.backprop(w, b, acts, loss, X[idx], Y[idx])
        losses.append(r.loss)
        for i in range(2):
            vw[i] = mom * vw[i] + (r.grad_weights[i] + wd * w[i])  # decay on weights only
            vb[i] = mom * vb[i] + r.grad_biases[i]
            w[i] = w[i] - lr * vw[i]
            b[i] = b[i] - lr * vb[i]
    assert res.losses == pytest.approx(losses, rel=1e-15)
    for got, want in zip([*res.weights, *res.biases], [*w, *b], strict=True):
        assert _rel(got, want) <= 1e-15
    fast_res = oracle.sgd_fast(ws, bs, acts, loss, X, Y, batches, lr, momentum=mom, weight_decay=wd)
    for got, want in zip([*fast_res.weights, *fast_res.biases], [*w, *b], strict=True):
        assert _rel(got, want) <= 1e-14
    assert ws[0] is not res.weights[0]  # nothing passed in is mutated or aliased


# --------------------------------------------------------------------------- worked examples


def test_worked_example_x_plus_y_times_z() -> None:
    f = lambda x, y, z: (x + y) * z  # noqa: E731
    assert tuple(float(g) for g in jax.grad(f, argnums=(0, 1, 2))(-2.0, 5.0, -4.0)) == (
        -4.0,
        -4.0,
        3.0,
    )


def test_worked_example_squared_norm_of_Wx() -> None:
    # f = ‖W x‖²: ∇_W f = 2 q xᵀ, ∇_x f = 2 Wᵀ q with q = W x.  In the row convention
    # z = x_row @ W_row with W_row = Wᵀ; the quadratic loss with y = 0 and B = 1 is
    # C = ½‖q‖² = f / 2, so ∇f = 2·∇C and ∇_W = (∇_{W_row})ᵀ.
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    q = W @ x
    r = oracle.backprop(
        [W.T], [np.zeros(3)], ["identity"], "quadratic", x[None, :], np.zeros((1, 3))
    )
    assert r.loss == pytest.approx(0.5 * q @ q, rel=1e-15)
    np.testing.assert_allclose(2 * r.grad_weights[0].T, 2 * np.outer(q, x), rtol=1e-14)
    np.testing.assert_allclose(2 * r.grad_input[0], 2 * W.T @ q, rtol=1e-14)


def test_shapes_of_a_2_3_1_network_on_a_batch_of_4() -> None:
    rng = np.random.default_rng(1)
    ws, bs = _net(rng, (2, 3, 1))
    X, Y = rng.normal(size=(4, 2)), rng.uniform(size=(4, 1))
    for fn in (oracle.backprop, oracle.backprop_fast, oracle.numeric_backprop):
        r = fn(ws, bs, ["sigmoid", "sigmoid"], "binary_cross_entropy", X, Y)
        assert [d.shape for d in r.deltas] == [(4, 3), (4, 1)]
        assert [g.shape for g in r.grad_weights] == [(2, 3), (3, 1)]
        assert [g.shape for g in r.grad_biases] == [(3,), (1,)]
        assert r.grad_input.shape == (4, 2) and r.output.shape == (4, 1)
        assert all(a.dtype == np.float64 for a in [*r.deltas, *r.grad_weights, r.grad_input])


# --------------------------------------------------------------------------- extremes


@pytest.mark.parametrize("name", CONTRACT_LOSSES[:6])
def test_losses_are_finite_for_logits_of_1e4(name: str) -> None:
    a = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    y = _targets(np.random.default_rng(0), name, 2, 3)
    if name == "softmax_cross_entropy":
        y = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])  # mass on the very unlikely classes
    elif name == "sigmoid_cross_entropy":
        y = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.0]])
    for c, g in (oracle.loss_grad(name, a, y), oracle.loss_grad_fast(name, a, y)):
        assert np.isfinite(c) and np.all(np.isfinite(g))
    # and through a whole network whose output layer produces such logits
    ws = [np.array([[1e4, -1e4, 0.0]])]
    r = oracle.backprop_fast(ws, [np.zeros(3)], ["identity"], name, np.array([[1.0], [-1.0]]), y)
    assert np.isfinite(r.loss) and all(np.all(np.isfinite(d)) for d in r.deltas)


def test_binary_cross_entropy_is_finite_near_but_not_at_0_and_1() -> None:
    a = np.array([[1e-12, 1 - 1e-12]])
    y = np.array([[1.0, 0.0]])
    c, g = oracle.loss_grad("binary_cross_entropy", a, y)
    assert np.isfinite(c) and np.all(np.isfinite(g))
    # no clipping: a = 0 with y = 1 is log(0), and the oracle says so
    c0, _ = oracle.loss_grad("binary_cross_entropy", np.array([[0.0]]), np.array([[1.0]]))
    assert c0 == np.inf


def test_subnormal_boundary_xla_flushes_numpy_does_not() -> None:
    tiny = np.finfo(np.float64).tiny  # smallest normal, 2.2e-308
    X = np.array([[tiny]])
    # 0.5 · tiny is subnormal: NumPy keeps it (gradual underflow) ...
    assert 0.5 * tiny == np.float64(1.1125369292536007e-308)
    # ... XLA on the CPU flushes it to zero under jit (FTZ/DAZ), so the oracle's output
    # is 0 where a NumPy implementation returns 1.1e-308.  Test data is therefore drawn
    # without subnormals, and comparisons need an absolute floor of at least `tiny`.
    for fn in (oracle.backprop, oracle.backprop_fast):
        r = fn([np.array([[0.5]])], [np.zeros(1)], ["identity"], "mse", X, np.zeros((1, 1)))
        assert r.output[0, 0] == 0.0
    # Normal numbers at the boundary are exact: 2 · tiny stays 4.45e-308.
    r = oracle.backprop(
        [np.array([[2.0]])], [np.zeros(1)], ["identity"], "mse", X, np.zeros((1, 1))
    )
    assert r.output[0, 0] == 2.0 * tiny


# --------------------------------------------------------------------------- inputs and errors


def test_float32_inputs_are_used_at_their_exact_float64_values() -> None:
    rng = np.random.default_rng(12)
    ws, bs = _net(rng, (3, 2))
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    ws32, bs32 = [w.astype(np.float32) for w in ws], [b.astype(np.float32) for b in bs]
    X32 = X.astype(np.float32)
    r32 = oracle.backprop_fast(ws32, bs32, ["tanh"], "mse", X32, Y)
    r64 = oracle.backprop_fast(
        [w.astype(np.float64) for w in ws32],
        [b.astype(np.float64) for b in bs32],
        ["tanh"],
        "mse",
        X32.astype(np.float64),
        Y,
    )
    assert r32.loss == r64.loss and np.array_equal(r32.grad_weights[0], r64.grad_weights[0])
    assert r32.grad_weights[0].dtype == np.float64
    ws32_before = ws32[0].copy()
    oracle.backprop(ws32, bs32, ["tanh"], "mse", X32, Y)
    assert np.array_equal(ws32[0], ws32_before)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"activations": ["swish"]},
            "unknown activation 'swish'; valid names are identity, sigmoid",
        ),
        ({"loss": "cross_entropy"}, "unknown loss 'cross_entropy'; valid names are mse"),
        ({"X": np.zeros((4, 3))}, r"X must have shape \(B, 2\)"),
        ({"Y": np.zeros((4,))}, "Y must have 2 dimensions"),
        ({"Y": np.zeros((5, 1))}, r"Y must have shape \(4, 1\)"),
        ({"biases": [np.zeros(2)]}, r"biases\[0\] must have shape \(1,\)"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "weights": [np.zeros((2, 1))],
        "biases": [np.zeros(1)],
        "activations": ["tanh"],
        "loss": "mse",
        "X": np.zeros((4, 2)),
        "Y": np.zeros((4, 1)),
    }
    args.update(kwargs)
    for fn in (oracle.backprop, oracle.backprop_fast):
        with pytest.raises(ValueError, match=match):
            fn(**args)  # type: ignore[arg-type]


@pytest.mark.slow
def test_persistent_cache_makes_a_second_process_compile_nothing(
    tmp_path: os.PathLike[str],
) -> None:
    script = (
        "import numpy as np, oracle\n"
        f"oracle.enable_persistent_cache({str(tmp_path)!r})\n"
        "oracle.backprop_fast([np.ones((3, 2))], [np.zeros(2)], ['tanh'], 'mse',\n"
        "                     np.ones((5, 3)), np.ones((5, 2)))\n"
        "s = oracle.compile_stats(); print(s.compiles, s.cache_hits)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
        )
        for _ in range(2)
    ]
    first = [int(v) for v in runs[0].stdout.split()]
    second = [int(v) for v in runs[1].stdout.split()]
    assert first[0] >= 1
    assert second == [0, first[0]]
