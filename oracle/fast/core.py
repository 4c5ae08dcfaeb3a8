"""The traced programs of a padded network: loss with every gradient, and the forward pass.

* depth is padded with *skipped* layers: ``lax.cond`` passes the activations through
  untouched (no matmul, forward or backward), so padding layers are exact and free, and the
  work scales with the real depth.
* padded input columns are 0 and meet zero weight rows; padded hidden units have zero
  outgoing weights; padded rows are 0.  Softmax (hidden or output, and inside
  softmax_cross_entropy) excludes padded units with ``where=``; the loss is summed over real
  entries only and divided by the real B or B·O, passed in as data; padded outputs and
  targets are replaced by safe values before any log.
* the activation of each layer and the loss are chosen by ``lax.switch`` on integer indices
  into the oracle's registries, so names are data too: one executable per bucket.

The executables take a bucket's float arguments in one flat buffer and the indices in one
int array (:func:`oracle.fast.buckets.float_layout`), the bucket itself static.

Shapes: ``W (D, P, P)``, ``b (D, P)``, ``X (Bp, P)``, ``Y (Bp, P)``, ``act_idx (D,)`` int
(``SKIP`` for a padding layer), ``unit_mask (D, P)`` bool (real units of each layer's
output), ``row_mask (Bp,)`` bool.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from oracle.fast.buckets import Buckets, split_floats
from oracle.functions import ACTIVATION_NAMES, ACTIVATION_SPECS, LOSS_NAMES, LOSS_SPECS, masked_loss

Array = jax.Array

__all__ = [
    "ACT_BRANCHES",
    "ACT_INDEX",
    "LOSS_BRANCHES",
    "LOSS_INDEX",
    "SKIP",
    "core_jit",
    "forward_jit",
]

ACT_INDEX = {name: i for i, name in enumerate(ACTIVATION_NAMES)}
LOSS_INDEX = {name: i for i, name in enumerate(LOSS_NAMES)}
#: activation index of a padding layer: skipped (a passes through), not evaluated
SKIP = -1


def _activation_branch(name: str) -> Callable[[Array, Array], Array]:
    spec = ACTIVATION_SPECS[name]

    def branch(z: Array, mask: Array) -> Array:
        return spec.fn(z, mask)

    branch.__name__ = name

    return branch


def _loss_branch(name: str) -> Callable[..., Array]:
    return partial(masked_loss, LOSS_SPECS[name])


#: one branch per registry entry, in the registries' order (the indices above)
ACT_BRANCHES = tuple(_activation_branch(n) for n in ACTIVATION_NAMES)
LOSS_BRANCHES = tuple(_loss_branch(n) for n in LOSS_NAMES)


def _padded_loss(
    W: Array,
    b: Array,
    X: Array,
    probes: Array,
    act_idx: Array,
    unit_mask: Array,
    Y: Array,
    loss_idx: Array,
    row_mask: Array,
    n_rows: Array,
    n_entries: Array,
) -> tuple[Array, Array]:
    """Loss and output of the padded network; ``probes (D, Bp, P)`` are added to each z."""

    def layer(a: Array, xs: tuple[Array, ...]) -> tuple[Array, None]:
        w, bias, probe, idx, mask, active = xs

        def real(a_in: Array) -> Array:
            # Same association as oracle.network.forward: ((a @ w) + b) + probe.
            z = a_in @ w + bias + probe
            a_out: Array = lax.switch(idx, ACT_BRANCHES, z, mask)
            return a_out

        # Padding layers pass a through untouched (and cost nothing, forward or
        # backward), so the work scales with the real depth, not with D.
        return lax.cond(active, real, lambda a_in: a_in, a), None

    # One layer function scanned over the depth, unrolled: the loop of a rolled scan (and
    # of its transpose in the backward pass) cost ~0.2 ms a call on this 2-core machine,
    # 40% of a small network's oracle time, and unrolling did not lengthen the compile.
    active = act_idx >= 0
    out, _ = lax.scan(layer, X, (W, b, probes, act_idx, unit_mask, active), unroll=True)
    col_mask = unit_mask[-1]
    mask = row_mask[:, None] & col_mask[None, :]
    c = lax.switch(loss_idx, LOSS_BRANCHES, out, Y, mask, col_mask, n_rows, n_entries)
    return c, out


def _core(
    W: Array,
    b: Array,
    act_idx: Array,
    loss_idx: Array,
    X: Array,
    Y: Array,
    unit_mask: Array,
    row_mask: Array,
    n_rows: Array,
    n_entries: Array,
) -> tuple[Array, ...]:
    """``(C, out (Bp, P), deltas (D, Bp, P), gW (D, P, P), gb (D, P), gX (Bp, P))``.

    δ_l = ∂C/∂z_l is the gradient with respect to a zero probe added to each z_l.
    """
    probes = jnp.zeros((W.shape[0], X.shape[0], W.shape[2]), dtype=W.dtype)
    (c, out), (gW, gb, gX, deltas) = jax.value_and_grad(
        _padded_loss, argnums=(0, 1, 2, 3), has_aux=True
    )(W, b, X, probes, act_idx, unit_mask, Y, loss_idx, row_mask, n_rows, n_entries)
    return c, out, deltas, gW, gb, gX


def _core_packed(floats: Array, ints: Array, bk: Buckets) -> tuple[Array, ...]:
    """:func:`_core` on a bucket's flat floats and ``ints = (act_idx (D,), loss_idx)``."""
    f = split_floats(floats, bk)
    return _core(
        f["W"], f["b"], ints[: bk.depth], ints[bk.depth], f["X"], f["Y"],
        f["unit_mask"] > 0, f["row_mask"] > 0, f["n_rows"], f["n_entries"],
    )  # fmt: skip


core_jit = jax.jit(_core_packed, static_argnums=2)


def _forward_core(
    W: Array, b: Array, act_idx: Array, X: Array, unit_mask: Array
) -> tuple[Array, Array]:
    """``(z (D, Bp, P), a (D, Bp, P))`` of the padded network (no loss, no gradients)."""

    def layer(a: Array, xs: tuple[Array, ...]) -> tuple[Array, tuple[Array, Array]]:
        w, bias, idx, mask = xs

        def real(a_in: Array) -> tuple[Array, Array]:
            z = a_in @ w + bias
            a_out: Array = lax.switch(idx, ACT_BRANCHES, z, mask)
            return z, a_out

        z, a_out = lax.cond(idx >= 0, real, lambda a_in: (a_in, a_in), a)
        return a_out, (z, a_out)

    _, (zs, acts) = lax.scan(layer, X, (W, b, act_idx, unit_mask), unroll=True)
    return zs, acts


def _forward_packed(floats: Array, ints: Array, bk: Buckets) -> tuple[Array, Array]:
    """:func:`_forward_core` on a bucket's flat floats (Y unused) and indices."""
    f = split_floats(floats, bk)
    return _forward_core(f["W"], f["b"], ints[: bk.depth], f["X"], f["unit_mask"] > 0)


forward_jit = jax.jit(_forward_packed, static_argnums=2)
