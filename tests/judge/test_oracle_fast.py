"""The fast, bucketed oracle against the plain one, to rounding.

At the bucket edges (one unit, a full bucket, one past it), with small buckets, beyond the
largest bucket, on random structures, and for each single-function entry point.  Every
activation and loss of the oracle's registries is covered by the parametrisations.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from oracle import fast
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES, LOSS_SPECS
from tests.judge.oracle_cases import (
    assert_fast_equals_plain,
    net,
    outputs_for,
    probability_outputs,
    rel,
    targets,
)

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
    ws, bs = net(rng, widths)
    X = rng.normal(0.0, 1.0, (batch, widths[0]))
    Y = targets(rng, loss, batch, widths[-1])
    plain = oracle.backprop(ws, bs, list(acts), loss, X, Y)
    fast_result = oracle.backprop_fast(ws, bs, list(acts), loss, X, Y)
    assert_fast_equals_plain(fast_result, plain, ws, bs, list(acts), X)
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
    ws, bs = net(rng, widths)
    X, Y = rng.normal(size=(65, 65)), rng.normal(size=(65, 4))
    assert fast.buckets_for(widths, 65) == fast.Buckets(depth=7, width=128, batch=128)
    plain = oracle.backprop(ws, bs, acts, "mse", X, Y)
    assert_fast_equals_plain(
        oracle.backprop_fast(ws, bs, acts, "mse", X, Y), plain, ws, bs, acts, X
    )


@st.composite
def _structures(draw: st.DrawFn) -> tuple[list[int], list[str], str, int]:
    depth = draw(st.integers(1, 6))
    widths = [draw(st.integers(1, 64)) for _ in range(depth + 1)]
    acts = [draw(st.sampled_from(ACTIVATION_NAMES)) for _ in range(depth)]
    loss = draw(st.sampled_from(LOSS_NAMES))
    if LOSS_SPECS[loss].probability_output:
        # a must lie in (0, 1): a one-unit softmax is identically 1, where BCE is inf/NaN
        acts[-1] = draw(st.sampled_from(probability_outputs(widths[-1])))
    return widths, acts, loss, draw(st.integers(1, 64))


@pytest.mark.slow
@given(structure=_structures(), seed=st.integers(0, 2**32 - 1))
@settings(deadline=None, max_examples=60)
def test_fast_matches_plain_on_random_structures(
    structure: tuple[list[int], list[str], str, int], seed: int
) -> None:
    widths, acts, loss, batch = structure
    rng = np.random.default_rng(seed)
    ws, bs = net(rng, widths)
    X = rng.normal(size=(batch, widths[0]))
    Y = targets(rng, loss, batch, widths[-1])
    assert_fast_equals_plain(
        oracle.backprop_fast(ws, bs, acts, loss, X, Y),
        oracle.backprop(ws, bs, acts, loss, X, Y),
        ws,
        bs,
        acts,
        X,
    )


def test_backprop_many_matches_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    widths, acts, loss = (4, 5, 3), ["silu", "softmax"], "softmax_cross_entropy"
    cases = []
    for _ in range(3):
        ws, bs = net(rng, widths)
        cases.append((ws, bs, rng.normal(size=(6, 4)), targets(rng, loss, 6, 3)))
    many = oracle.backprop_many(cases, acts, loss)
    assert len(many) == 3
    for (ws, bs, X, Y), r in zip(cases, many, strict=True):
        assert_fast_equals_plain(
            r, oracle.backprop_fast(ws, bs, acts, loss, X, Y), ws, bs, acts, X
        )


def test_forward_fast_matches_predict_and_z() -> None:
    rng = np.random.default_rng(8)
    widths, acts = (3, 5, 4, 2), ["elu", "softmax", "gelu"]
    ws, bs = net(rng, widths)
    X = rng.normal(size=(7, 3))
    trace = oracle.forward_fast(ws, bs, acts, X)
    assert rel(trace.activations[-1], oracle.predict(ws, bs, acts, X)) <= 1e-15
    a_prev = X
    for z, a, w, b in zip(trace.pre_activations, trace.activations, ws, bs, strict=True):
        assert rel(z, a_prev @ w + b) <= 1e-14
        a_prev = a


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_vjp_fast_matches_plain(name: str) -> None:
    rng = np.random.default_rng(2)
    z, g = rng.normal(0, 2, (5, 7)), rng.normal(size=(5, 7))  # random upstream: ones is vacuous
    a_p, dz_p = oracle.activation_vjp(name, z, g)
    a_f, dz_f = oracle.activation_vjp_fast(name, z, g)
    assert rel(a_f, a_p) <= 1e-15 and rel(dz_f, dz_p) <= 1e-14
    assert np.linalg.norm(dz_p) > 0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_grad_fast_matches_plain(name: str) -> None:
    rng = np.random.default_rng(4)
    a = outputs_for(rng, name, (6, 3)) / (1.0 if LOSS_SPECS[name].probability_output else 2.0)
    y = targets(rng, name, 6, 3)
    c_p, g_p = oracle.loss_grad(name, a, y)
    c_f, g_f = oracle.loss_grad_fast(name, a, y)
    assert rel(c_f, c_p) <= 1e-15 and rel(g_f, g_p) <= 1e-14


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
        assert rel(got, want) <= 1e-15
    _z, dx, dw, db = oracle.dense_vjp(x, w, b, g)
    assert dx.shape == (4, 3) and dw.shape == (3, 5) and db.shape == (5,)
