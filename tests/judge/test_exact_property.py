"""The exact property's judgement: where exact arithmetic and every float implementation
must part, it says so instead of failing the target."""

from __future__ import annotations

import numpy as np
import pytest

import refbp
from oracle.engine import Target
from oracle.engine.cases import replay_case
from oracle.engine.exactprop import available, check_exact

pytestmark = pytest.mark.skipif(not available(), reason="oracle.exact needs mpmath")

# gelu(z¹) of the last row is about −47·e^−7480: 0 in float64 (and in any float), a tiny
# negative number exactly.  Its z² = −6.5 a¹ in the third output is then a tiny positive
# number exactly (relu' = 1) and 0 in float64 (relu'(0) = 0, the convention): δ differs by
# the whole entry, 0.1285, and no float arithmetic can do otherwise.
_UNDERFLOW_ONTO_A_KINK = dict(
    weights=[
        np.array([[1.8905338179353306], [-5.227484414807474], [-4.130635433918934],
                  [-24.414673826398555]]),
        np.array([[35.99414765441804, 22.883317440744577, -6.508456737356488]]),
    ],
    biases=[np.array([0.3869032933638307]), np.zeros(3)],
    activations=["gelu", "relu"],
    loss="mse",
    X=np.array([[0.0, 0.0, 0.0, 0.0],
                [-0.09919805171738795, 0.5452887139646817, -0.6071856998706371,
                 0.12682784711186987],
                [-0.8922740434297903, 0.8414649723701431, 0.18803508698068597,
                 0.33057100813532614],
                [0.41050391297026284, -1.0107575001533344, 0.7831809961440773,
                 2.0567028183423686]]),
    Y=np.array([[-1.872529517606024, 1.128523141900478, 1.0348662399295387],
                [-1.4186656898014849, 0.15358188653595775, 1.2157576351945363],
                [0.08791904230952238, 0.99970142215178, 2.3748869133171437],
                [0.2739322545923299, -0.2803823139429379, -0.7710521598195307]]),
)  # fmt: skip


def test_a_pre_activation_that_underflows_onto_a_kink_is_ambiguous_not_a_failure() -> None:
    import mpmath

    from oracle.exact import exact_forward

    case = replay_case(**_UNDERFLOW_ONTO_A_KINK, seed=2, who="test")
    z_exact = exact_forward(**_UNDERFLOW_ONTO_A_KINK).zs[1][3, 2]
    assert 0 < z_exact < mpmath.mpf("1e-3000")  # off the kink exactly, below every float's reach
    net = refbp.MLP(**{k: _UNDERFLOW_ONTO_A_KINK[k] for k in ("weights", "biases",
                                                               "activations", "loss")})  # fmt: skip
    assert net.forward(_UNDERFLOW_ONTO_A_KINK["X"]).zs[1][3, 2] == 0  # on it in float64
    outcome = check_exact(Target.of(refbp.MLP, "refbp:MLP"), case)
    assert outcome.kind == "kink_ambiguous"
