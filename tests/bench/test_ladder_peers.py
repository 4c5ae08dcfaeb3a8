"""Fast checks (not marked ``bench``) that the step ladder times what it says: its rows
come from the registries, and for every row the JAX and PyTorch peers compute refbp's loss,
gradients and ∂C/∂X (so a ratio compares like with like)."""

from __future__ import annotations

import numpy as np
import pytest

import refbp
from tests.bench import cases
from tests.bench.cases import Case, Config

SMALL = Case((3, 4, 2), 5)  # two outputs: softmax rows are not trivially 1


def test_the_ladder_is_every_activation_and_every_loss() -> None:
    configs = cases.ladder_configs()
    hidden = {c.hidden for c in configs if c.loss == "mse" and c.output == "identity"}
    assert hidden == {n for n, a in refbp.ACTIVATIONS.items() if a.elementwise}
    assert {c.loss for c in configs} == set(refbp.LOSSES)
    assert len(set(configs)) == len(configs)  # tanh → identity · mse once, not twice
    for c in configs:
        allowed = refbp.LOSSES[c.loss].output_activations
        assert allowed is None or c.output in allowed


def _flat(bp: refbp.Backprop) -> list[np.ndarray]:
    pairs = zip(bp.grad_weights, bp.grad_biases, strict=True)
    return [*(t for pair in pairs for t in pair), bp.grad_input]


@pytest.mark.parametrize("config", cases.ladder_configs(), ids=lambda c: c.label)
def test_the_peers_compute_what_refbp_computes(config: Config) -> None:
    pytest.importorskip("jax")
    net, X, Y = cases.make_problem(SMALL, np.float64, config=config)
    bp = net.backprop(X, Y)
    ours = _flat(bp)
    loss, (grads, gx) = cases.jax_step(SMALL, np.float64, config)()
    peers = [("jax", loss, [*(t for pair in grads for t in pair), gx])]
    try:
        tloss, tgrads = cases.torch_step(SMALL, np.float64, config)()
        peers.append(("torch", tloss, list(tgrads)))
    except ImportError:
        pass
    for name, p_loss, p_grads in peers:
        np.testing.assert_allclose(float(p_loss), bp.loss, rtol=1e-12, err_msg=name)
        for mine, theirs in zip(ours, p_grads, strict=True):
            scale = float(np.max(np.abs(mine))) or 1.0
            np.testing.assert_allclose(np.asarray(theirs), mine, rtol=0, atol=1e-12 * scale,
                                       err_msg=name)  # fmt: skip
