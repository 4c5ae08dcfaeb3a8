"""The peers refbp is timed against: JAX (jit) and PyTorch (CPU autograd) computing what
``net.backprop`` computes, and JAX's versions of each activation and loss kernel.

JAX's functions are the oracle's (``oracle.functions``, under the registries' names), so a
new registry entry gets its JAX peer with its oracle entry.  PyTorch has no such table: its
counterparts are listed here, and a name missing from them is skipped with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.bench.cases import Case, Config, make_problem


def jax_step(case: Case, dtype: type[np.floating], config: Config) -> Callable[[], Any]:
    """One step in JAX; it returns (loss, ((∂W, ∂b) per layer, ∂C/∂X)).

    x64 is switched on (importing the oracle does it) so that float64 is float64; arrays are
    passed in the case's dtype, so float32 stays float32 (callers check the result's dtype).
    """
    import jax
    import jax.numpy as jnp

    from oracle.functions import ACTIVATIONS, LOSSES

    net, X, Y = make_problem(case, dtype, config=config)
    hidden, output, cost = (
        ACTIVATIONS[config.hidden],
        ACTIVATIONS[config.output],
        LOSSES[config.loss],
    )

    def loss(params: list[tuple[Any, Any]], x: Any, y: Any) -> Any:
        a = x
        for i, (w, b) in enumerate(params):
            z = a @ w + b
            a = hidden(z) if i < len(params) - 1 else output(z)
        return cost(a, y)

    grad_fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    params = [
        (jnp.asarray(w), jnp.asarray(b)) for w, b in zip(net.weights, net.biases, strict=True)
    ]
    x, y = jnp.asarray(X), jnp.asarray(Y)

    def step() -> Any:
        return jax.block_until_ready(grad_fn(params, x, y))

    return step


def _torch_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    acts: dict[str, Any] = {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
        "elu": lambda z: F.elu(z, 1.0),
        "softplus": F.softplus,
        "gelu": lambda z: F.gelu(z, approximate="tanh"),
        "silu": F.silu,
        "softmax": lambda z: torch.softmax(z, dim=-1),
    }
    rows = lambda t, a: t.sum() / a.shape[0]  # noqa: E731  (C averaged over the batch rows)
    losses: dict[str, Any] = {
        "mse": lambda a, y: torch.mean((a - y) ** 2),
        "quadratic": lambda a, y: rows(0.5 * (a - y) ** 2, a),
        "l1": lambda a, y: torch.mean(torch.abs(a - y)),
        "huber": lambda a, y: F.huber_loss(a, y, delta=1.0),
        "softmax_cross_entropy": lambda a, y: rows(-(y * torch.log_softmax(a, dim=-1)), a),
        "sigmoid_cross_entropy": lambda a, y: rows(
            F.binary_cross_entropy_with_logits(a, y, reduction="none"), a
        ),
        "binary_cross_entropy": lambda a, y: rows(
            F.binary_cross_entropy(a, y, reduction="none"), a
        ),
    }
    return acts, losses


def torch_step(case: Case, dtype: type[np.floating], config: Config) -> Callable[[], Any]:
    """PyTorch CPU autograd's step: (loss, (∂W₁, ∂b₁, ..., ∂C/∂X)); ImportError without
    torch, a skip when PyTorch has no counterpart listed for one of the config's names."""
    import os

    import torch

    threads = int(os.environ.get("REFBP_BENCH_THREADS") or 0)
    if threads > 0:  # as refbp bench pins BLAS: every implementation gets the same threads
        torch.set_num_threads(threads)
    acts, losses = _torch_tables()
    for name, table in ((config.hidden, acts), (config.output, acts), (config.loss, losses)):
        if name not in table:
            pytest.skip(f"no PyTorch counterpart listed for {name!r} in tests/bench/peers.py")
    hidden, output, cost = acts[config.hidden], acts[config.output], losses[config.loss]
    net, X, Y = make_problem(case, dtype, config=config)
    params = [
        (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
        for w, b in zip(net.weights, net.biases, strict=True)
    ]
    flat = [t for pair in params for t in pair]
    x = torch.tensor(X, requires_grad=True)
    y = torch.tensor(Y)

    def step() -> Any:
        a = x
        for i, (w, b) in enumerate(params):
            z = torch.addmm(b, a, w)  # b + a W
            a = hidden(z) if i < len(params) - 1 else output(z)
        c = cost(a, y)
        return c.detach(), torch.autograd.grad(c, [*flat, x])

    return step


def jax_activation(name: str, phase: str) -> Callable[..., Any]:
    """jit of the oracle's activation ``name``: forward z -> a, or backward (z, g) -> g·σ'(z)
    through ``jax.vjp`` (which computes the forward again: refbp's backward is handed a)."""
    import jax

    from oracle.functions import ACTIVATIONS

    f = ACTIVATIONS[name]
    if phase == "forward":
        fn = jax.jit(f)
    else:
        fn = jax.jit(lambda z, g: jax.vjp(f, z)[1](g)[0])
    return lambda *args: jax.block_until_ready(fn(*args))


def jax_loss(name: str, phase: str) -> Callable[..., Any]:
    """jit of the oracle's loss ``name``: its value C(a, y), or its gradient ∂C/∂a."""
    import jax

    from oracle.functions import LOSSES

    f = LOSSES[name]
    fn = jax.jit(f if phase == "value" else jax.grad(f))
    return lambda *args: jax.block_until_ready(fn(*args))
