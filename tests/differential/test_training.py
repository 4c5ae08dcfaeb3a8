"""Mini-batch SGD: refbp.train's trajectory against the oracle's over the same batches.

The batches are replayed from ``refbp.train``'s documented sampling (one
``numpy.random.default_rng(seed)``, a fresh permutation per epoch, consecutive slices),
re-implemented here, so a sampler that draws with replacement, reuses a permutation or
drops the last batch fails this test as well as the update rule.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import refbp
from oracle.domains import PROBABILITY_OUTPUT_LOSSES
from oracle.fast import sgd_fast
from tests.agreement import bound_factor, perturbation, perturbed_copies
from tests.differential.harness import epoch_means, replay_batches
from tests.strategies import DTYPES, examples, fill, structures

MIN_STEPS = 20


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64).ravel()))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@settings(max_examples=examples(0.3))
@given(
    structure=st.integers(8, 48).flatmap(
        lambda n: structures(max_depth=3, max_width=16, max_batch=n).map(lambda s: (n, s))
    ),
    seed=st.integers(0, 2**32 - 1),
    lr=st.sampled_from([0.05, 0.01, 0.2]),
    momentum=st.sampled_from([0.0, 0.9]),
    weight_decay=st.sampled_from([0.0, 1e-2]),
    batch_size=st.integers(1, 48),
)
def test_sgd_trajectory_matches_oracle(
    dtype: type[np.floating],
    structure: tuple[int, object],
    seed: int,
    lr: float,
    momentum: float,
    weight_decay: float,
    batch_size: int,
) -> None:
    n, s0 = structure
    s = type(s0)(s0.sizes, s0.activations, s0.loss, dtype, n)  # type: ignore[attr-defined, call-arg]
    case = fill(s, seed, 1.0, 1.0, 0.0)
    bs = min(batch_size, n)
    per_epoch = math.ceil(n / bs)
    epochs = math.ceil(MIN_STEPS / per_epoch)
    batches = replay_batches(n, bs, epochs, seed)
    flat = [b for epoch in batches for b in epoch]
    assert len(flat) >= MIN_STEPS

    net = case.net()
    try:
        history = refbp.train(
            net,
            case.X,
            case.Y,
            lr=lr,
            batch_size=bs,
            epochs=epochs,
            seed=seed,
            momentum=momentum,
            weight_decay=weight_decay,
        )
    except refbp.NumericalError:
        if s.loss in PROBABILITY_OUTPUT_LOSSES:
            reject()  # a probability output saturated in this dtype: the loss is infinite there
        with np.errstate(all="ignore"):
            diverged = sgd_fast(case.weights, case.biases, list(s.activations), s.loss, case.X,
                                case.Y, flat, lr, momentum=momentum, weight_decay=weight_decay)
        finite = all(np.isfinite(w).all() for w in diverged.weights) and bool(
            np.isfinite(diverged.losses).all()
        )
        if not finite:
            reject()  # the oracle's trajectory diverges too: refbp was right to refuse
        raise
    ref = sgd_fast(
        case.weights,
        case.biases,
        list(s.activations),
        s.loss,
        case.X,
        case.Y,
        flat,
        lr,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    ref_history = epoch_means(ref.losses, batches, n)

    got = [*net.weights, *net.biases, np.asarray(history)]
    want = [*ref.weights, *ref.biases, np.asarray(ref_history)]
    for g in got[:-1]:
        assert g.dtype == np.dtype(dtype), "training must keep the network's dtype"
    # Tolerance: the network model of tests/agreement.py per step, times the number of steps
    # (each step adds its rounding; the sensitivity s carries the amplification by later steps).
    factor = bound_factor(dtype, s.depth, max(*s.sizes, bs)) * len(flat)
    diffs = [_norm(np.asarray(g, np.float64) - w) for g, w in zip(got, want, strict=True)]
    norms = [_norm(w) for w in want]
    sens = [0.0] * len(want)
    if any(d > factor * m for d, m in zip(diffs, norms, strict=True)):
        rho = perturbation(dtype)
        L = s.depth
        for c in perturbed_copies([*case.weights, *case.biases, case.X, case.Y], dtype, seed=seed):
            p = sgd_fast(
                c[:L],
                c[L : 2 * L],
                list(s.activations),
                s.loss,
                c[2 * L],
                c[2 * L + 1],
                flat,
                lr,
                momentum=momentum,
                weight_decay=weight_decay,
            )
            p_hist = epoch_means(p.losses, batches, n)
            for i, (a, b) in enumerate(
                zip([*p.weights, *p.biases, np.asarray(p_hist)], want, strict=True)
            ):
                sens[i] = max(sens[i], _norm(a - b) / rho)
    names = [f"weights[{i}]" for i in range(s.depth)] + [f"biases[{i}]" for i in range(s.depth)]
    names.append("history")
    for name, d, m, sv in zip(names, diffs, norms, sens, strict=True):
        bound = factor * max(m, sv)
        assert d <= bound, (
            f"SGD of {s.sizes} {s.activations} {s.loss} after {len(flat)} steps "
            f"({np.dtype(dtype).name}, lr={lr}, momentum={momentum}, "
            f"weight_decay={weight_decay}, batch_size={bs}): {name} differs from the oracle by "
            f"{d:.3e} > bound {bound:.3e} (‖oracle‖ {m:.3e}, s {sv:.3e})"
        )


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.9, 0.05), (0.5, 0.0), (0.0, 0.1)])
def test_training_equal_width_layers_follows_the_oracles_sgd(
    momentum: float, weight_decay: float
) -> None:
    """Layers of equal shapes share no optimiser state: refbp.train against oracle.sgd_fast on
    the same replayed batches, with momentum and weight decay (weights only) in the mix, and
    the history weighted by batch size."""
    rng = np.random.default_rng(11)
    sizes, acts, loss = [3, 3, 3, 3], ["tanh", "tanh", "identity"], "mse"
    ws = [rng.normal(0, 0.8, (3, 3)) for _ in range(3)]
    bs = [rng.normal(0, 0.5, 3) for _ in range(3)]
    N, batch_size, epochs, seed, lr = 10, 4, 3, 5, 0.1
    X, Y = rng.normal(size=(N, sizes[0])), rng.normal(size=(N, sizes[-1]))
    net = refbp.MLP(ws, bs, acts, loss)
    history = refbp.train(
        net,
        X,
        Y,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    epochs_batches = replay_batches(N, batch_size, epochs, seed)
    batches = [b for epoch in epochs_batches for b in epoch]
    ref = sgd_fast(
        ws, bs, acts, loss, X, Y, batches, lr, momentum=momentum, weight_decay=weight_decay
    )
    for got, want in zip(net.weights + net.biases, ref.weights + ref.biases, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
    expected = epoch_means(ref.losses, epochs_batches, N)
    np.testing.assert_allclose(history, expected, rtol=1e-11)
