"""Whole networks: loss, every δˡ, ∂C/∂Wˡ, ∂C/∂bˡ and ∂C/∂X of refbp against the oracle.

One test per loss × dtype, so every cell of the verification table gets examples; the
activations of each layer are drawn from the whole registry.  Each Hypothesis example is a
group of ``GROUP`` networks of one structure with separately drawn parameters and data
(see ``strategies.net_case_groups``): every one of them is checked and counted.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.differential.harness import check_networks
from tests.strategies import DTYPES, LOSS_NAMES, examples, network_groups

GROUP = 4  # networks per Hypothesis example
EXAMPLES = 3  # times the profile's max_examples, per loss and dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", LOSS_NAMES)
@settings(max_examples=examples(EXAMPLES))
@given(data=st.data())
def test_backprop_agrees_with_oracle(
    loss: str, dtype: type[np.floating], data: st.DataObject
) -> None:
    group = data.draw(network_groups(loss, dtype, GROUP), label="networks")
    check_networks(group, source="test_networks")
