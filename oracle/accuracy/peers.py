"""Ready-made implementations to compare: the JAX oracle, JAX in the case's dtype, PyTorch.

Each is ``impl(weights, biases, activations, loss, X, Y) -> dict`` with loss, deltas,
grad_weights, grad_biases and grad_input as NumPy arrays.

* :func:`jax_float64_oracle` — ``oracle.backprop_fast``: whatever the case's dtype, it
  computes in float64 (a float32 case is float32 data in float64 arithmetic).
* :func:`jax_in_dtype` — ``jax.grad`` of a forward in jnp on arrays of the case's dtype,
  with the oracle's own activation and loss formulas: what "JAX's digits" means for float32.
  It runs the fast oracle's padded program (``oracle.fast``) on arrays of the case's dtype:
  one compile per dtype instead of one per structure and shape (a second each, here).
  Padding adds exact zeros to sums, so it changes no value beyond the order of a sum.
* :func:`jax_in_dtype_plain` — the same forward jitted per structure, unpadded: the check
  on the padded one (they agree to the dtype's rounding), too slow for thousands of cases.
* :func:`torch_autograd` — a small forward in ``torch.nn.functional`` in the case's dtype,
  its gradients from autograd (PyTorch is optional: :func:`peers` leaves it out if absent).

refbp is not here: ``oracle`` never imports it; a caller wraps ``refbp.MLP`` itself.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from oracle import fast
from oracle.fast import backprop_fast
from oracle.functions import ACTIVATIONS, LOSSES

__all__ = ["jax_float64_oracle", "jax_in_dtype", "jax_in_dtype_plain", "peers", "torch_autograd"]

Array = npt.NDArray[Any]
Result = dict[str, Any]


def jax_float64_oracle(
    weights: Sequence[Array],
    biases: Sequence[Array],
    activations: Sequence[str],
    loss: str,
    X: Array,
    Y: Array,
) -> Result:
    """The JAX oracle (float64 arithmetic on the case's values)."""
    return dict(backprop_fast(weights, biases, activations, loss, X, Y)._asdict())


@functools.cache
def _jax_grads(activations: tuple[str, ...], loss: str) -> Callable[..., Any]:
    def total(
        ws: list[jax.Array],
        bs: list[jax.Array],
        x: jax.Array,
        probes: list[jax.Array],
        y: jax.Array,
    ) -> jax.Array:
        a = x
        for w, b, p, name in zip(ws, bs, probes, activations, strict=True):
            # the zero probe p makes ∂C/∂p = ∂C/∂z = δ without changing a single bit of z
            a = ACTIVATIONS[name](a @ w + b + p)
        return LOSSES[loss](a, y)

    return jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3)))


def jax_in_dtype(
    weights: Sequence[Array],
    biases: Sequence[Array],
    activations: Sequence[str],
    loss: str,
    X: Array,
    Y: Array,
) -> Result:
    """jax.grad in the dtype of ``weights[0]``, through the fast oracle's padded program."""
    dt = np.asarray(weights[0]).dtype
    packed, widths, B = fast._checked_pack(weights, biases, activations, loss, X, Y)
    # exact: float32 values held in float64, masks 0/1, B and B·O
    packed = packed._replace(floats=packed.floats.astype(dt))
    raw = jax.device_get(fast._core_jit(*packed))
    if raw[0].dtype != dt:  # a float64 constant in a float32 path would silently upcast
        raise TypeError(f"jax_in_dtype: computed in {raw[0].dtype}, expected {dt}")
    return dict(fast._unpack(tuple(raw), widths, B)._asdict())


def jax_in_dtype_plain(
    weights: Sequence[Array],
    biases: Sequence[Array],
    activations: Sequence[str],
    loss: str,
    X: Array,
    Y: Array,
) -> Result:
    """jax.grad in the dtype of ``weights[0]``, jitted per structure and shape."""
    dt = np.asarray(weights[0]).dtype
    ws = [jnp.asarray(np.asarray(w, dtype=dt)) for w in weights]
    bs = [jnp.asarray(np.asarray(b, dtype=dt)) for b in biases]
    x, y = jnp.asarray(np.asarray(X, dtype=dt)), jnp.asarray(np.asarray(Y, dtype=dt))
    probes = [jnp.zeros((x.shape[0], w.shape[1]), dtype=dt) for w in ws]
    value, (gw, gb, gx, deltas) = _jax_grads(tuple(activations), loss)(ws, bs, x, probes, y)
    if value.dtype != dt:  # a float64 constant in a float32 path would silently upcast
        raise TypeError(f"jax_in_dtype_plain: computed in {value.dtype}, expected {dt}")
    return dict(
        loss=float(value),
        deltas=[np.asarray(d) for d in deltas],
        grad_weights=[np.asarray(g) for g in gw],
        grad_biases=[np.asarray(g) for g in gb],
        grad_input=np.asarray(gx),
    )


def _torch_parts() -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]]:
    import torch  # optional: imported only when PyTorch is asked for
    import torch.nn.functional as F

    acts: dict[str, Callable[..., Any]] = {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
        "elu": lambda z: F.elu(z, 1.0),
        "softplus": F.softplus,
        "gelu": lambda z: F.gelu(z, approximate="tanh"),
        "silu": F.silu,
        "softmax": lambda z: F.softmax(z, dim=1),
    }
    losses: dict[str, Callable[..., Any]] = {
        "mse": F.mse_loss,
        "quadratic": lambda a, y: 0.5 * ((a - y) ** 2).sum() / a.shape[0],
        "l1": F.l1_loss,
        "huber": lambda a, y: F.huber_loss(a, y, delta=1.0),
        "softmax_cross_entropy": F.cross_entropy,  # probability targets, mean over rows
        "sigmoid_cross_entropy": lambda a, y: (
            F.binary_cross_entropy_with_logits(a, y, reduction="sum") / a.shape[0]
        ),
        "binary_cross_entropy": lambda a, y: (
            F.binary_cross_entropy(a, y, reduction="sum") / a.shape[0]
        ),
    }
    return acts, losses


def torch_autograd(
    weights: Sequence[Array],
    biases: Sequence[Array],
    activations: Sequence[str],
    loss: str,
    X: Array,
    Y: Array,
) -> Result:
    """PyTorch autograd in the dtype of ``weights[0]``; δ from ``retain_grad`` on each z."""
    import torch

    acts, losses = _torch_parts()
    dt = np.asarray(weights[0]).dtype

    def leaf(a: Array) -> Any:
        return torch.tensor(np.asarray(a, dtype=dt), requires_grad=True)

    ws, bs, x = [leaf(w) for w in weights], [leaf(b) for b in biases], leaf(X)
    a, zs = x, []
    for w, b, name in zip(ws, bs, activations, strict=True):
        z = a @ w + b
        z.retain_grad()
        zs.append(z)
        a = acts[name](z)
    value = losses[loss](a, torch.tensor(np.asarray(Y, dtype=dt)))
    value.backward()
    return dict(
        loss=float(value.item()),
        deltas=[z.grad.numpy() for z in zs],
        grad_weights=[w.grad.numpy() for w in ws],
        grad_biases=[b.grad.numpy() for b in bs],
        grad_input=x.grad.numpy(),
    )


def peers() -> dict[str, Callable[..., Result]]:
    """The implementations available here, by report name (PyTorch only if installed)."""
    out: dict[str, Callable[..., Result]] = {
        "JAX float64 oracle": jax_float64_oracle,
        "JAX": jax_in_dtype,
    }
    if importlib.util.find_spec("torch") is not None:
        out["PyTorch"] = torch_autograd
    return out
