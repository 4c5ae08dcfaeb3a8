"""refbp through the verification engine: one generated case checked as any target would be.

The strategies of ``tests/strategies.py`` draw refbp-flavoured cases (``NetCase.net()``);
here each is handed to the engine's ``check_case`` with ``refbp.MLP`` as the target, so
refbp's own tests and ``refbp verify`` judge refbp by the same tolerance model.
"""

from __future__ import annotations

import numpy as np

import refbp
from oracle.engine.cases import Case, Structure
from oracle.engine.check import Outcome, check_case
from oracle.engine.protocol import Target
from oracle.engine.reference import dispatch
from tests.strategies import NetCase

REFBP = Target.of(refbp.MLP, "refbp:MLP")


def engine_case(case: NetCase) -> Case:
    """The same numbers as an engine case (the engine names dtypes by string)."""
    s = case.structure
    dtype = np.dtype(s.dtype).name
    return Case(
        Structure(s.sizes, s.activations, s.loss, dtype, s.batch),
        list(case.weights), list(case.biases), case.X, case.Y,
        seed=case.seed, scales=case.scales, zero_share=case.zero_share,
    )  # fmt: skip


def check_network(case: NetCase) -> Outcome | None:
    """Check one case on refbp; None if it is legitimately not computable in its dtype (a
    probability output saturated onto 0 or 1).  A disagreement raises AssertionError."""
    out = check_case(REFBP, engine_case(case))
    return None if out.kind == "unrepresentable" else out


def check_networks(cases: list[NetCase]) -> None:
    """:func:`check_network` on each; every oracle call is dispatched before the first refbp
    call, so XLA works through them on the second core."""
    converted = [engine_case(c) for c in cases]
    pending = [dispatch(c) for c in converted]
    for case, p in zip(converted, pending, strict=True):
        check_case(REFBP, case, pending=p)


def replay_batches(n: int, batch_size: int, epochs: int, seed: int) -> list[list[np.ndarray]]:
    """refbp.train's documented sampling, written independently: one
    ``default_rng(seed)``, a fresh permutation per epoch, consecutive slices."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        out.append([perm[k : k + batch_size] for k in range(0, n, batch_size)])
    return out


def epoch_means(step_losses: list[float], epochs: list[list[np.ndarray]], n: int) -> list[float]:
    """Per-epoch mean over samples of the step losses: what refbp.train's history holds."""
    means, k = [], 0
    for batches in epochs:
        means.append(sum(step_losses[k + i] * len(b) for i, b in enumerate(batches)) / n)
        k += len(batches)
    return means
