"""A small network, data for it, and ``raises``: what the refusal tests share.

Every refusal must say who complained (the function), what was expected and what came, so
each test pins the exception type and matches all three parts of the message
(docs/conventions.md, "Errors").
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import refbp

N_IN, N_HIDDEN, N_OUT, BATCH = 3, 4, 2, 5


def make_params(n_out: int = N_OUT) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights ``(3, 4), (4, n_out)`` and biases of a two-layer network, fixed seed."""
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(N_IN, N_HIDDEN)), rng.normal(size=(N_HIDDEN, n_out))]
    biases = [rng.normal(size=N_HIDDEN), rng.normal(size=n_out)]
    return weights, biases


def make_net(loss: str = "mse", out: str = "identity", n_out: int = N_OUT) -> refbp.MLP:
    """tanh then ``out`` on :func:`make_params`."""
    weights, biases = make_params(n_out)
    return refbp.MLP(weights, biases, ["tanh", out], loss)


def make_data(n_out: int = N_OUT) -> tuple[np.ndarray, np.ndarray]:
    """``X (5, 3)`` normal, ``Y (5, n_out)`` in [0, 1) (valid targets for every loss but
    softmax_cross_entropy)."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(BATCH, N_IN)), rng.uniform(size=(BATCH, n_out))


def raises(exc: type[BaseException], *parts: str) -> Any:
    """pytest.raises for ``exc`` whose message contains every part, in order."""
    return pytest.raises(exc, match=".*".join(re.escape(p) for p in parts))



def command_refusal(argv: list[str]) -> str:
    """Run ``refbp argv`` (warnings as errors); assert it refused with exit 2, argparse's or
    the command's own, and return the last line it wrote to stderr."""
    import contextlib
    import io
    import warnings

    from refbp.cli import main

    err = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(err):
        warnings.simplefilter("error")
        try:
            code: object = main(argv)
        except SystemExit as exc:  # argparse's refusal of a flag's value
            code = exc.code
    said = err.getvalue().strip()
    assert code == 2, (code, said)
    return said.splitlines()[-1] if said else ""
