"""The exact arbiter (oracle.exact) checked from three independent sides.

* against the JAX oracle on well-conditioned random small networks (float64 agreement);
* against central finite differences of its own forward pass at 60 digits (h = 1e-20), which
  involve no derivative formula at all;
* at the kinks and in saturation, against the contract's conventions and closed forms.

Nothing here imports refbp: the judge is checked without the judged.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mpmath import mp

import oracle
from oracle.domains import PROBABILITY_ACTIVATIONS, PROBABILITY_OUTPUT_LOSSES, TARGET_KINDS
from oracle.exact import (
    SMALL,
    exact_backprop,
    exact_forward,
    exact_magnitudes,
    exact_sensitivity,
    round_mpf,
    rounded,
)
from tests.judge.oracle_cases import one_unit

ACTS = oracle.ACTIVATION_NAMES
LOSSES = oracle.LOSS_NAMES
F = np.float64


def _examples(factor: float) -> int:
    profile = settings.default
    assert profile is not None
    return max(1, int(profile.max_examples * factor))


def _targets(rng: np.random.Generator, loss: str, shape: tuple[int, int]) -> np.ndarray:
    kind = TARGET_KINDS[loss]
    if kind == "real":
        return rng.normal(0.0, 1.0, shape)
    if kind == "unit_interval":
        return rng.uniform(0.0, 1.0, shape)
    p = rng.gamma(1.0, 1.0, shape) + 1e-3
    rows: np.ndarray = p / p.sum(axis=1, keepdims=True)
    return rows


def _outputs(loss: str, n_out: int) -> tuple[str, ...]:
    if loss not in PROBABILITY_OUTPUT_LOSSES:
        return ACTS
    # a softmax over one unit is exactly 1: binary cross-entropy is infinite there
    return PROBABILITY_ACTIVATIONS if n_out > 1 else ("sigmoid",)


@st.composite
def small_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A random small network at moderate scale (|z| of order 1) in float64."""
    depth = draw(st.integers(1, SMALL["max_depth"]))
    sizes = [draw(st.integers(1, SMALL["max_width"])) for _ in range(depth + 1)]
    loss = draw(st.sampled_from(LOSSES))
    acts = [draw(st.sampled_from(ACTS)) for _ in range(depth - 1)]
    acts.append(draw(st.sampled_from(_outputs(loss, sizes[-1]))))
    batch = draw(st.integers(1, SMALL["max_batch"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ws = [rng.normal(0, 1 / np.sqrt(i), (i, o)) for i, o in itertools.pairwise(sizes)]
    bs = [rng.normal(0, 0.5, o) for o in sizes[1:]]
    X = rng.normal(0, 1, (batch, sizes[0]))
    Y = _targets(rng, loss, (batch, sizes[-1]))
    return dict(weights=ws, biases=bs, activations=acts, loss=loss, X=X, Y=Y)


def _rel(got: np.ndarray, want: np.ndarray) -> float:
    """Normwise relative difference; 0 when both are exactly zero."""
    num, den = float(np.linalg.norm(got - want)), float(np.linalg.norm(want))
    return num / den if den else (0.0 if num == 0 else math.inf)


def _quantities(res: Any) -> dict[str, np.ndarray]:
    out = {"loss": np.asarray([res.loss], dtype=F), "grad_input": np.asarray(res.grad_input, F)}
    for name in ("deltas", "grad_weights", "grad_biases"):
        for k, arr in enumerate(getattr(res, name)):
            out[f"{name}[{k}]"] = np.asarray(arr, dtype=F)
    return out


# --------------------------------------------------------------------------- against JAX


def _agreement(case: dict[str, Any]) -> tuple[str, float, float]:
    """The worst quantity of the JAX oracle against exact: (name, error, conditioning).

    The error is ‖jax − exact‖ over the quantity's magnitude (``exact_magnitudes``: the
    reverse pass over absolute values, equal to ‖exact‖ where nothing cancels); the
    conditioning s is measured in exact arithmetic, from two copies of the case perturbed
    by a relative 1e-10.  A backward-stable float64 evaluation errs by about u · s.
    """
    exact = _quantities(rounded(exact_backprop(**case), F))
    scale = _quantities(rounded(exact_magnitudes(**case), F))
    moved = [_quantities(rounded(r, F)) for r in exact_sensitivity(**case, rho=1e-10)]
    jax_ = _quantities(oracle.backprop_fast(**case))

    def over_scale(got: np.ndarray, q: str) -> float:
        num, den = float(np.linalg.norm(got - exact[q])), float(np.linalg.norm(scale[q]))
        return num / den if den else (0.0 if num == 0 else math.inf)

    rows = []
    for q in exact:
        s = max(over_scale(m[q], q) for m in moved) / 1e-10
        rows.append((q, over_scale(jax_[q], q), max(1.0, s)))
    return max(rows, key=lambda r: r[1] / r[2])


@settings(max_examples=_examples(0.3))
@given(small_cases())
def test_agrees_with_the_jax_oracle_on_well_conditioned_networks(case: dict[str, Any]) -> None:
    """Where no unit saturates (|z| ≤ 4, the moderate scale small_cases aims at but does
    not enforce: a product of three weights reaches 6).  JAX differentiates tanh and
    sigmoid through their rounded outputs (1 − a², a(1 − a)), which keep few digits once a
    unit saturates: at z = −6 its ∂C/∂W is 1.7e-11 off exact where the case's conditioning
    is 9.6; that is the oracle's known limit (DESIGN §3), which the engine arbitrates."""
    pre = oracle.forward_fast(
        case["weights"], case["biases"], case["activations"], case["X"]
    ).pre_activations
    assume(max(float(np.abs(z).max()) for z in pre) <= 4.0)
    q, err, s = _agreement(case)
    assert err <= 1e-13 * s, (q, err, s)


def test_agrees_with_the_jax_oracle_for_every_activation_and_loss() -> None:
    """Each activation in both layers against each loss at least once (the Hypothesis test
    draws them at random); two layers, width 3, batch 2."""
    rng = np.random.default_rng(7)
    for act in ACTS:
        for loss in LOSSES:
            out = act if act in _outputs(loss, 3) else "sigmoid"
            case: dict[str, Any] = dict(
                weights=[rng.normal(0, 0.6, (3, 3)), rng.normal(0, 0.6, (3, 3))],
                biases=[rng.normal(0, 0.5, 3), rng.normal(0, 0.5, 3)],
                activations=[act, out],
                loss=loss,
                X=rng.normal(0, 1, (2, 3)),
                Y=_targets(rng, loss, (2, 3)),
            )
            q, err, s = _agreement(case)
            assert err <= 1e-13 * s, (act, out, loss, q, err, s)


def test_magnitudes_bound_the_exact_values_and_equal_them_without_cancellation() -> None:
    rng = np.random.default_rng(11)
    case: dict[str, Any] = dict(
        weights=[rng.normal(0, 1, (3, 4)), rng.normal(0, 1, (4, 2))],
        biases=[rng.normal(0, 1, 4), rng.normal(0, 1, 2)],
        activations=["tanh", "softmax"],
        loss="mse",
        X=rng.normal(0, 1, (3, 3)),
        Y=rng.normal(0, 1, (3, 2)),
    )
    exact, scale = exact_backprop(**case), exact_magnitudes(**case)
    for e, m in zip(
        exact.grad_weights + exact.deltas, scale.grad_weights + scale.deltas, strict=True
    ):
        assert all(abs(ev) <= mv for ev, mv in zip(e.ravel(), m.ravel(), strict=True))
    one = one_unit("sigmoid", "binary_cross_entropy", 3.0, 0.0)  # δ = σ(3) − 0: no cancellation
    assert exact_backprop(**one).deltas[0][0, 0] == exact_magnitudes(**one).deltas[0][0, 0]


def test_softmax_of_a_constant_upstream_gradient_is_exactly_zero() -> None:
    # l1 with every a above its y: ∂C/∂a is the same in every unit, and softmax's VJP of a
    # constant is 0, exactly, not the rounding of 1 − Σ s at 60 digits
    case = one_unit("softmax", "l1", 0.3, -5.0)
    case["weights"], case["biases"] = [np.array([[2.0, 1.0, 0.1, -3.0]])], [np.zeros(4)]
    case["Y"] = np.full((1, 4), -5.0)
    res = exact_backprop(**case)
    assert all(d == 0 for d in res.deltas[0].ravel())


# --------------------------------------------------------------------------- against differences

FD_NETWORKS = [  # (hidden, output, loss): every activation and every loss at least once
    ("identity", "sigmoid", "binary_cross_entropy"),
    ("sigmoid", "softmax", "binary_cross_entropy"),
    ("tanh", "identity", "mse"),
    ("relu", "tanh", "quadratic"),
    ("leaky_relu", "identity", "l1"),
    ("elu", "softplus", "huber"),
    ("softplus", "identity", "softmax_cross_entropy"),
    ("gelu", "gelu", "sigmoid_cross_entropy"),
    ("silu", "silu", "mse"),
    ("softmax", "leaky_relu", "huber"),
    ("tanh", "relu", "l1"),
    ("gelu", "elu", "softmax_cross_entropy"),
]


def _mp_array(a: np.ndarray) -> np.ndarray:
    return np.array([mpmath.mpf(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape)


@pytest.mark.parametrize(("hidden", "out", "loss"), FD_NETWORKS)
def test_gradients_match_central_differences_at_60_digits(hidden: str, out: str, loss: str) -> None:
    rng = np.random.default_rng(abs(hash((hidden, out, loss))) % 2**32)
    case: dict[str, Any] = dict(
        weights=[_mp_array(rng.normal(0, 0.7, (3, 4))), _mp_array(rng.normal(0, 0.7, (4, 2)))],
        biases=[_mp_array(rng.normal(0, 0.5, 4)), _mp_array(rng.normal(0, 0.5, 2))],
        activations=[hidden, out],
        loss=loss,
        X=_mp_array(rng.normal(0, 1, (2, 3))),
        Y=_mp_array(_targets(rng, loss, (2, 2))),
    )
    res = exact_backprop(**case)
    h = mpmath.mpf("1e-20")

    def difference(arr: np.ndarray, i: tuple[int, ...]) -> Any:
        keep = arr[i]
        with mp.workdps(60):
            arr[i] = keep + h
            up = exact_forward(**case).loss
            arr[i] = keep - h
            down = exact_forward(**case).loss
            arr[i] = keep
            return (up - down) / (2 * h)

    targets = [(w, g) for w, g in zip(case["weights"], res.grad_weights, strict=True)]
    targets += [(b, g) for b, g in zip(case["biases"], res.grad_biases, strict=True)]
    targets.append((case["X"], res.grad_input))
    for arr, grad in targets:
        fd = np.empty(arr.shape, dtype=object)
        for i in np.ndindex(arr.shape):
            fd[i] = difference(arr, i)
        with mp.workdps(60):
            err = mpmath.sqrt(
                mp.fsum((f - g) ** 2 for f, g in zip(fd.ravel(), grad.ravel(), strict=True))
            )
            scale = mpmath.sqrt(mp.fsum(g**2 for g in grad.ravel()))
        assert err <= mpmath.mpf("1e-30") * scale, (arr.shape, err, scale)


# --------------------------------------------------------------------------- kinks


@pytest.mark.parametrize(("act", "slope"), [("relu", 0.0), ("leaky_relu", 1.0), ("elu", 1.0)])
def test_kinks_at_z_zero_follow_jax_nn(act: str, slope: float) -> None:
    # mse with y = 0.5 at a = 0: ∂C/∂a = 2 (0 − 0.5) = −1, so δ = −σ'(0)
    case = one_unit(act, "mse", 0.0, 0.5)
    res = exact_backprop(**case)
    assert res.zs[0][0, 0] == 0
    assert res.deltas[0][0, 0] == -slope
    assert float(rounded(res, F).deltas[0][0, 0]) == float(
        oracle.backprop_fast(**case).deltas[0][0, 0]
    )


def test_kink_in_a_hidden_layer_follows_jax_nn() -> None:
    case: dict[str, Any] = dict(
        weights=[np.ones((1, 2)), np.array([[2.0], [3.0]])],
        biases=[np.zeros(2), np.zeros(1)],
        activations=["relu", "identity"],
        loss="mse",
        X=np.zeros((1, 1)),
        Y=np.ones((1, 1)),
    )
    res = exact_backprop(**case)
    assert list(res.deltas[0][0]) == [0, 0]
    case["activations"] = ["elu", "identity"]
    # z = 0, a = 0: ∂C/∂a² = 2 (0 − 1) = −2, δ¹ = elu'(0) (−2) Wᵀ = [−4, −6]
    assert list(exact_backprop(**case).deltas[0][0]) == [-4, -6]


def test_l1_subgradient_is_zero_where_the_output_equals_the_target() -> None:
    res = exact_backprop(**one_unit("identity", "l1", 0.7, 0.7))
    assert res.loss == 0 and res.deltas[0][0, 0] == 0
    assert exact_backprop(**one_unit("identity", "l1", 0.7, 0.2)).deltas[0][0, 0] == 1
    assert exact_backprop(**one_unit("identity", "l1", 0.2, 0.7)).deltas[0][0, 0] == -1


@pytest.mark.parametrize("d", [1.0, -1.0])
def test_huber_branches_agree_at_distance_one(d: float) -> None:
    res = exact_backprop(**one_unit("identity", "huber", 0.5 + d, 0.5))
    assert res.loss == mpmath.mpf(1) / 2
    assert res.deltas[0][0, 0] == d
    # either side of |d| = 1 the slope moves continuously through ±1
    with mp.workdps(60):
        eps = mpmath.mpf("1e-30")
        near = [mpmath.mpf(0.5) + d * (1 + s * eps) for s in (-1, 1)]
    for x in near:
        case = one_unit("identity", "huber", 0.0, 0.5)
        case["X"] = np.array([[x]], dtype=object)
        assert abs(exact_backprop(**case).deltas[0][0, 0] - d) <= mpmath.mpf("1e-29")


# --------------------------------------------------------------------------- saturation


@pytest.mark.parametrize("z", [5, 15, 25, 33, 35, -40, 40])
def test_sigmoid_bce_delta_is_sigma_minus_y_in_saturation(z: int) -> None:
    res = exact_backprop(**one_unit("sigmoid", "binary_cross_entropy", float(z), 0.3))
    with mp.workdps(100):
        want = 1 / (1 + mp.exp(-z)) - mpmath.mpf(0.3)  # Y holds the float64 0.3
        assert abs(res.deltas[0][0, 0] - want) <= mpmath.mpf("1e-55") * abs(want)
    assert rounded(res, F).deltas[0][0, 0] == round_mpf(want, F)


@pytest.mark.parametrize("z", [20.0, 27.5, 33.0, -40.0, 40.0])
def test_saturated_tanh_layer_keeps_a_tiny_nonzero_delta(z: float) -> None:
    # X = [[z]] → tanh → ×1 → identity, mse against 0: δ¹ = sech²(z) · 2 tanh(z)
    case: dict[str, Any] = dict(
        weights=[np.ones((1, 1)), np.ones((1, 1))],
        biases=[np.zeros(1), np.zeros(1)],
        activations=["tanh", "identity"],
        loss="mse",
        X=np.array([[z]]),
        Y=np.zeros((1, 1)),
    )
    res = exact_backprop(**case)
    with mp.workdps(100):
        e, f = mp.exp(z), mp.exp(-z)
        want = 4 / (e + f) ** 2 * 2 * (e - f) / (e + f)
        assert abs(res.deltas[0][0, 0] - want) <= mpmath.mpf("1e-55") * abs(want)
    got = rounded(res, F).deltas[0][0, 0]
    assert got != 0 and got == round_mpf(want, F)
