"""The digits-kept comparison (oracle.accuracy): its cases, its error figures, its findings."""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import numpy as np
import pytest

import refbp
from oracle.accuracy import (
    QUANTITIES,
    ZMAX,
    Case,
    behind,
    beyond,
    digits,
    disagreements,
    draw_cases,
    evaluate,
    markdown,
    rows,
    unit_roundoff,
)
from oracle.accuracy.peers import jax_float64_oracle, jax_in_dtype, jax_in_dtype_plain, peers
from oracle.domains import PROBABILITY_ACTIVATIONS
from oracle.exact import exact_backprop, rounded
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES


def correctly_rounded(*args: Any) -> dict[str, Any]:
    """The best any implementation can do: exact, rounded once to the case's dtype."""
    return dict(rounded(exact_backprop(*args), args[0][0].dtype)._asdict())


def perturbed(factor: float) -> Any:
    def impl(*args: Any) -> dict[str, Any]:
        out = correctly_rounded(*args)
        out["grad_weights"] = [g * (1 + factor) for g in out["grad_weights"]]
        return out

    return impl


def test_every_cell_is_drawn_with_its_activation_and_a_valid_output() -> None:
    cases = draw_cases(2, seed=5)
    assert len(cases) == 2 * len(ACTIVATION_NAMES) * len(LOSS_NAMES) * 2
    assert {c.cell for c in cases} == {
        (a, loss, d)
        for a in ACTIVATION_NAMES
        for loss in LOSS_NAMES
        for d in ("float32", "float64")
    }
    for c in cases:
        assert c.activation in c.activations and 1 <= len(c.activations) <= 3
        assert all(w.dtype == np.dtype(c.dtype) for w in (*c.weights, *c.biases, c.X, c.Y))
        assert max(c.sizes) <= 6 and c.X.shape[0] <= 4 and 0.5 <= c.zmax <= ZMAX[c.dtype]
        if c.loss == "binary_cross_entropy":
            assert c.activations[-1] in PROBABILITY_ACTIVATIONS
        for name, width in zip(c.activations, c.sizes[1:], strict=True):
            assert name != "softmax" or width >= 2
        z = c.X.astype(float) @ c.weights[0].astype(float) + c.biases[0].astype(float)
        assert np.max(np.abs(z)) == pytest.approx(c.zmax, rel=1e-5)  # the drawn scale, reached


def test_cases_are_reproducible_and_seeded() -> None:
    a, b, c = draw_cases(1, seed=1), draw_cases(1, seed=1), draw_cases(1, seed=2)
    assert all(np.array_equal(x.X, y.X) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.X, y.X) for x, y in zip(a, c, strict=True))


def test_draw_cases_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="cases_per_cell must be an int >= 1, got 0"):
        draw_cases(0, seed=0)
    with pytest.raises(ValueError, match="dtypes must be among float32, float64, got 'float16'"):
        draw_cases(1, seed=0, dtypes=("float16",))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        draw_cases(1, seed=0, activations=("swish",))


def _few() -> list[Case]:
    return draw_cases(
        1, seed=3, activations=("tanh", "softmax"), losses=("mse", "binary_cross_entropy")
    )


def test_a_correctly_rounded_answer_errs_by_at_most_the_unit_roundoff() -> None:
    for ev in evaluate({"rounded": correctly_rounded}, _few(), conditioning=False):
        u = unit_roundoff(ev.case.dtype)
        for q, err in ev.errors["rounded"].items():
            assert err.error <= err.relative <= u, (q, err, ev.case.describe())


def test_a_value_below_the_dtype_range_costs_no_digits_when_rounded_to_zero() -> None:
    # gelu(−30) ≈ −1e-856: every quantity behind it rounds to 0 in float64, correctly
    one = np.ones((1, 1))
    case = Case(
        "gelu", "mse", "float64", 0, ("gelu", "identity"), 30.0,
        (one, one), (np.zeros(1), np.zeros(1)), np.array([[-30.0]]), np.zeros((1, 1)),
    )  # fmt: skip
    ev = evaluate({"rounded": correctly_rounded}, [case], conditioning=False)[0]
    assert ev.exact["grad_W"][1][0, 0] != 0
    assert ev.results["rounded"]["grad_W"][1][0, 0] == 0
    assert ev.errors["rounded"]["grad_W"].error <= unit_roundoff("float64")


def test_conditioning_is_measured_in_exact_arithmetic_and_flags_a_kink() -> None:
    one, zero = np.ones((1, 1)), np.zeros(1)

    def unit(loss: str, x: float, y: float) -> Case:
        return Case("identity", loss, "float64", 0, ("identity",), 1.0, (one,), (zero,),
                    np.array([[x]]), np.array([[y]]))  # fmt: skip

    smooth, kink = unit("mse", 0.7, 0.2), unit("l1", 0.7, 0.7)  # l1 at a == y: a kink
    ev_smooth, ev_kink = evaluate({"rounded": correctly_rounded}, [smooth, kink])
    assert 0 < ev_smooth.conditioning["delta"] < 10
    assert ev_kink.conditioning["delta"] > 1e6
    assert rows([ev_kink])[0].worst_conditioning == ev_kink.conditioning["loss"]


def test_an_error_is_measured_as_what_it_is() -> None:
    evs = evaluate(
        {"off": perturbed(1e-6)}, [c for c in _few() if c.dtype == "float64"], conditioning=False
    )
    for ev in evs:
        assert ev.errors["off"]["grad_W"].relative == pytest.approx(1e-6, rel=1e-6)
        assert 1e-10 < ev.errors["off"]["grad_W"].error <= ev.errors["off"]["grad_W"].relative
        assert ev.errors["off"]["delta"].error <= unit_roundoff("float64")


def test_refusals_are_failures_and_missing_quantities_are_left_out() -> None:
    def refuses(*args: Any) -> Any:
        raise NotImplementedError("no softmax here")

    def loss_only(*args: Any) -> dict[str, Any]:
        return {"loss": correctly_rounded(*args)["loss"]}

    ev = evaluate({"refuses": refuses, "loss_only": loss_only}, _few()[:1], conditioning=False)[0]
    assert ev.failures == {"refuses": "NotImplementedError: no softmax here"}
    assert all(math.isinf(e.error) for e in ev.errors["refuses"].values())
    assert set(ev.errors["loss_only"]) == {"loss"}


def test_rows_digits_and_markdown() -> None:
    evs = evaluate({"rounded": correctly_rounded, "off": perturbed(1e-6)}, _few())
    table = rows(evs)
    assert {r.quantity for r in table} == set(QUANTITIES)
    off = [r for r in table if r.implementation == "off" and r.quantity == "grad_W"]
    assert all(r.worst_digits == pytest.approx(digits(r.worst_error, r.dtype)) for r in off)
    f64 = [r for r in off if r.dtype == "float64"]
    # a relative error of 1e-6 is at most 1e-6 of the magnitude: six digits or more, not 15
    assert all(6.0 - 0.01 <= r.worst_digits < 10 for r in f64)
    assert all(r.worst_relative == pytest.approx(1e-6, rel=1e-6) for r in f64)
    assert digits(0.0, "float32") == pytest.approx(-math.log10(2.0**-24))
    assert digits(2.0, "float64") == 0.0
    text = markdown(table)
    assert (
        "| off | float64 |" in text
        and "| float32 | softmax | binary_cross_entropy | grad_W |" in text
    )


def test_findings_flag_a_target_behind_its_peers_but_not_rounding_noise() -> None:
    cases = [c for c in _few() if c.dtype == "float64"]
    evs = evaluate(
        {"target": perturbed(1e-6), "peer": correctly_rounded, "noise": perturbed(2e-16)},
        cases,
        conditioning=False,
    )
    found = behind(evs, "target", ["peer"])
    assert {f.quantity for f in found} == {"grad_W"} and len(found) == len(cases)
    assert behind(evs, "noise", ["peer"]) == []  # below u both count as u
    assert len(beyond(evs, "target", {"float64": 1e-10})) == len(cases)
    assert beyond(evs, "target", {"float64": 1e-6}) == []  # never more than the relative error
    assert len(disagreements(evs, "target", "peer", {"float64": 1e-10})) == len(cases)
    assert disagreements(evs, "noise", "peer", {"float64": 1e-9}) == []


def _one_sigmoid_unit(z: float, dtype: str, index: int) -> Case:
    """Issue 13's example: W = [[1]], b = [0], X = [[z]], Y = [[0.3]], sigmoid + BCE."""
    one = np.ones((1, 1), dtype)
    return Case(
        "sigmoid", "binary_cross_entropy", dtype, index, ("sigmoid",), abs(z),
        (one,), (np.zeros(1, dtype),), np.full((1, 1), z, dtype), np.full((1, 1), 0.3, dtype),
    )  # fmt: skip


def old_bce_pairing(weights: Any, biases: Any, activations: Any, loss: str, X: Any, Y: Any) -> Any:
    """refbp's defect before issue 13, on one-layer sigmoid + BCE networks: ∇ₐC from the
    rounded a, σ' = e/(1 + e)² exactly from z, so the rounding of 1 − a no longer cancels."""
    dt = X.dtype.type
    z = X @ weights[0] + biases[0]
    e = np.exp(-np.abs(z))
    a = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(dt)
    delta = ((a - Y) / (a * (1 - a)) / len(X) * (e / (1 + e) ** 2)).astype(dt)
    loss_value = refbp.MLP(weights=weights, biases=biases, activations=activations,
                           loss=loss).evaluate(X, Y)  # fmt: skip
    return {
        "loss": loss_value, "deltas": [delta], "grad_weights": [X.T @ delta],
        "grad_biases": [delta.sum(axis=0)], "grad_input": delta @ weights[0].T,
    }  # fmt: skip


def refbp_backprop(weights: Any, biases: Any, activations: Any, loss: str, X: Any, Y: Any) -> Any:
    net = refbp.MLP(weights=weights, biases=biases, activations=activations, loss=loss)
    return net.backprop(X, Y)


def test_the_behind_rule_catches_the_old_bce_pairing_and_passes_refbp() -> None:
    # The floor u·s excuses rounding noise only: the defect the rule exists for, δᴸ off by
    # 8.7e-4 at z = 33 in float64, is thousands of times above it.
    cases = [
        _one_sigmoid_unit(z, dt, k)
        for k, (z, dt) in enumerate(
            [(25.0, "float64"), (33.0, "float64"), (35.0, "float64"), (12.0, "float32")]
        )
    ]
    impls = {"old": old_bce_pairing, "refbp": refbp_backprop, "peer": correctly_rounded}
    evs = evaluate(impls, cases)
    flagged = {(f.case, f.quantity) for f in behind(evs, "old", ["peer"])}
    assert {c for c, q in flagged if q == "delta"} == {c.describe() for c in cases}
    assert behind(evs, "refbp", ["peer"]) == []
    assert behind(evs, "refbp", ["peer"], conditioned=False) == []


def test_jax_peers_compute_in_the_case_dtype_and_agree_with_exact() -> None:
    f32 = next(c for c in _few() if c.dtype == "float32" and c.zmax < 5)
    padded, plain = jax_in_dtype(*f32.args()), jax_in_dtype_plain(*f32.args())
    assert padded["grad_weights"][0].dtype == np.float32
    for a, b in zip(padded["grad_weights"], plain["grad_weights"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.max(np.abs(b)))
    assert jax_float64_oracle(*f32.args())["grad_weights"][0].dtype == np.float64
    names = set(peers())
    assert {"JAX", "JAX float64 oracle"} <= names
    assert ("PyTorch" in names) == (importlib.util.find_spec("torch") is not None)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_the_pytorch_peer_agrees_with_exact_on_a_moderate_case() -> None:
    from oracle.accuracy.peers import torch_autograd

    for case in [c for c in _few() if c.zmax < 5]:
        ev = evaluate({"PyTorch": torch_autograd}, [case], conditioning=False)[0]
        limit = 1e-12 if case.dtype == "float64" else 1e-4
        assert all(e.error <= limit for e in ev.errors["PyTorch"].values()), case.describe()
