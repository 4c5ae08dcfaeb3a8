"""Whole networks: loss, every δˡ, ∂C/∂Wˡ, ∂C/∂bˡ and ∂C/∂X of refbp against the oracle.

One test per loss × dtype, so every cell of the verification table gets examples; the
activations of each layer are drawn from the whole registry.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.differential.harness import check_network
from tests.strategies import DTYPES, LOSS_NAMES, examples, net_cases


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", LOSS_NAMES)
@settings(max_examples=examples(6))
@given(data=st.data())
def test_backprop_agrees_with_oracle(
    loss: str, dtype: type[np.floating], data: st.DataObject
) -> None:
    case = data.draw(net_cases(loss=loss, dtype=dtype), label="case")
    check_network(case, source="test_networks")
