"""Real libraries as targets: where PyTorch's conventions differ from the contract, the
engine says so precisely (skipped when PyTorch is not installed: it is an optional extra)."""

from __future__ import annotations

import pytest

from oracle.engine import Target, verify

torch_autograd = pytest.importorskip("examples.torch_autograd", exc_type=ImportError)


def _run(only: str, **caps: object) -> object:
    target = Target.of(torch_autograd.make, "examples.torch_autograd:make", caps)
    return verify(target, profile_name="ci", max_examples=10, only=[only], exact=False)


def test_pytorch_leaky_relu_kink_is_reported_with_both_slopes() -> None:
    summary = _run("kinks", activations=["leaky_relu"], losses=["mse"], dtypes=["float64"])
    (failure,) = summary.failures
    assert failure.diagnosis == "kink_convention"
    assert failure.detail == "leaky_relu'(0) = 0.01 in the target, 1 in the contract"


def test_pytorch_agrees_where_its_conventions_are_the_contracts() -> None:
    summary = _run(
        "agreement",
        activations=["identity", "relu", "elu", "gelu", "silu", "softmax"],
        output_activations=["identity", "softmax"],
        losses=["mse", "softmax_cross_entropy"],
        dtypes=["float64"],
    )
    assert summary.exit_code() == 0, summary.failure_text()
