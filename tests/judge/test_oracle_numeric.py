"""The plain oracle (autodiff) against central finite differences (no autodiff), and the fast
oracle against the plain one on the same networks.

Deep networks built by rotating the activation registry: structure k puts activation
(k + i) mod n at layer i, so every activation sits at every layer position once, and every
loss of the registry appears (a loss on probabilities where the output activation gives them).
Compiles are budgeted: the plain oracle and the finite differences compile once per
structure, so the structures here are few and shared between tests (and compiled ahead by
:func:`warm_up`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pytest

import oracle
from oracle.functions import ACTIVATION_NAMES, ACTIVATION_SPECS, LOSS_NAMES, LOSS_SPECS
from tests.judge.oracle_cases import assert_fast_equals_plain, net, rel, targets

ROTATION_WIDTHS = (3, 4, 3, 4, 3, 4, 2)
ROTATION_DEPTH = len(ROTATION_WIDTHS) - 1
ROTATION_BATCH = 3


def _fits(loss: str, acts: Sequence[str]) -> bool:
    """A loss on probabilities needs an output activation that gives them (the output width
    here is 2, so a row-wise one is not identically 1)."""
    return not LOSS_SPECS[loss].probability_output or ACTIVATION_SPECS[acts[-1]].probability


@functools.cache
def rotation_plan() -> tuple[tuple[tuple[str, ...], str], ...]:
    """``(activations, loss)`` per structure: at least one rotation per activation, and more
    until every loss has had a structure it fits; the rest cycle through the fitting losses."""
    n = len(ACTIVATION_NAMES)
    pending = list(LOSS_NAMES)
    plan: list[tuple[tuple[str, ...], str]] = []
    k = 0
    while k < n or pending:
        if k >= 4 * n:
            raise AssertionError(
                f"no rotation of the activations ends in one that fits the losses {pending}"
            )
        acts = tuple(ACTIVATION_NAMES[(k + i) % n] for i in range(ROTATION_DEPTH))
        waiting = [name for name in pending if _fits(name, acts)]
        fitting = [name for name in LOSS_NAMES if _fits(name, acts)]
        loss = waiting[0] if waiting else fitting[k % len(fitting)]
        if loss in pending:
            pending.remove(loss)
        plan.append((acts, loss))
        k += 1
    return tuple(plan)


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


def _rotation_case(
    k: int,
) -> tuple[list[np.ndarray], list[np.ndarray], list[str], str, np.ndarray, np.ndarray]:
    acts, loss = list(rotation_plan()[k][0]), rotation_plan()[k][1]
    for seed in range(100):
        rng = np.random.default_rng(1000 * k + seed)
        ws, bs = net(rng, ROTATION_WIDTHS, gain=1.5)
        X = rng.normal(0.0, 1.0, (ROTATION_BATCH, ROTATION_WIDTHS[0]))
        Y = targets(rng, loss, ROTATION_BATCH, ROTATION_WIDTHS[-1])
        if _far_from_kinks(ws, bs, acts, loss, X, Y) and _not_vacuous(ws, bs, acts, loss, X, Y):
            return ws, bs, acts, loss, X, Y
    raise AssertionError("no seed kept every unit away from the kinks")


def test_every_activation_sits_at_every_position_and_every_loss_appears() -> None:
    plan = rotation_plan()
    for pos in range(ROTATION_DEPTH):
        assert {acts[pos] for acts, _ in plan} == set(ACTIVATION_NAMES)
    assert {loss for _, loss in plan} == set(LOSS_NAMES)
    assert all(_fits(loss, acts) for acts, loss in plan)


@pytest.mark.parametrize("k", range(len(rotation_plan())))
def test_autodiff_matches_finite_differences_and_fast_matches_plain(k: int) -> None:
    ws, bs, acts, loss, X, Y = _rotation_case(k)
    plain = oracle.backprop(ws, bs, acts, loss, X, Y)
    numeric = oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-6)
    assert np.isfinite(plain.loss)
    assert rel(numeric.loss, plain.loss) <= 1e-14  # the same forward formulas
    assert rel(numeric.output, plain.output) <= 1e-14
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
    assert_fast_equals_plain(
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
    for k in range(len(rotation_plan())):
        ws, bs, acts, loss, X, Y = _rotation_case(k)
        oracle.backprop(ws, bs, acts, loss, X, Y)
        oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-6)


def test_fourth_order_differences_are_more_accurate() -> None:
    ws, bs, acts, loss, X, Y = _rotation_case(1)
    plain = oracle.backprop(ws, bs, acts, loss, X, Y)
    n2 = oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-6, order=2)
    n4 = oracle.numeric_backprop(ws, bs, acts, loss, X, Y, h=1e-3, order=4)
    e2 = rel(n2.grad_weights[0], plain.grad_weights[0])
    e4 = rel(n4.grad_weights[0], plain.grad_weights[0])
    assert e4 < 1e-9
    assert e4 < e2
