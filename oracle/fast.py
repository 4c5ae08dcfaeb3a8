"""The fast oracle: the plain oracle's results for random shapes with a bounded number of compiles.

Every new array shape costs an XLA compile (60-300 ms; eager ``jax.grad`` is
worse), so property tests over random networks would spend their time compiling.
Here every network is embedded in a fixed-size *bucket* and one executable per
bucket serves every structure that fits:

* depth is padded to ``MAX_DEPTH`` with *skipped* layers: ``lax.cond`` passes the
  activations through untouched (no matmul, forward or backward), so padding
  layers are exact and free, and the work scales with the real depth.
* all widths are padded to one width bucket P (the smallest of ``WIDTH_BUCKETS``
  holding the widest layer) and the batch to a batch bucket Bp.  Padded input
  columns are 0 and meet zero weight rows; padded hidden units have zero outgoing
  weights; padded rows are 0.  Softmax (hidden or output, and inside
  softmax_cross_entropy) excludes padded units with ``where=``; the loss is summed
  over real entries only and divided by the real B or B·O, passed in as data;
  padded outputs and targets are replaced by safe values before any log.
* the activation of each layer and the loss are chosen by ``lax.switch`` on integer
  indices, so names are data too: one executable per (depth, P, Bp) bucket.

Default buckets are a single (P, Bp) = (64, 64): measured on the 2-core machine,
one compile (~1.3 s) beats four (8/64 × 8/64, ~5 s) for a cold 5000-network run,
and the per-call saving of small buckets (~0.3 vs ~1 ms) only pays off with a warm
persistent cache (:func:`enable_persistent_cache`); change them with :func:`set_buckets`.

Shapes beyond the largest bucket are not refused: they get the next power of two
(depth: the real depth), which costs one extra compile per new size.  Results are
float64 NumPy, sliced back to the real shapes, with the same meaning as
:func:`oracle.network.backprop`; they agree with it to rounding (the padded
matmuls and reductions may sum in a different order), checked to 1e-14 normwise
by the tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jax import lax
from jax.experimental.compilation_cache import compilation_cache

from oracle._checks import (
    F64,
    Network,
    as_f64,
    check_activation,
    check_dense,
    check_inputs,
    check_loss,
    check_network,
    check_targets,
)
from oracle._monitor import CompileStats, cache_hit_count, compile_count, compile_stats
from oracle.functions import (
    ACTIVATION_NAMES,
    ACTIVATION_SPECS,
    LOSS_NAMES,
    LOSS_SPECS,
    masked_loss,
)
from oracle.network import OracleResult, SGDResult, _dense_vjp_jit, check_batches, sgd_loop

Array = jax.Array

__all__ = [
    "BATCH_BUCKETS",
    "MAX_DEPTH",
    "WIDTH_BUCKETS",
    "Buckets",
    "CompileStats",
    "ForwardTrace",
    "PendingResult",
    "activation_vjp_fast",
    "backprop_fast",
    "backprop_fast_async",
    "backprop_many",
    "buckets_for",
    "cache_hit_count",
    "compile_count",
    "compile_stats",
    "dense_vjp_fast",
    "enable_persistent_cache",
    "forward_fast",
    "loss_grad_fast",
    "predict_fast",
    "set_buckets",
    "sgd_fast",
    "warmup",
]

#: Networks are padded to this many layers with skipped layers.
MAX_DEPTH = 6
#: Candidate padded widths (all layers of a network share one); see set_buckets.
WIDTH_BUCKETS: tuple[int, ...] = (64,)
#: Candidate padded batch sizes; see set_buckets.
BATCH_BUCKETS: tuple[int, ...] = (64,)

_ACT_INDEX = {name: i for i, name in enumerate(ACTIVATION_NAMES)}
_LOSS_INDEX = {name: i for i, name in enumerate(LOSS_NAMES)}
#: activation index of a padding layer: skipped (a passes through), not evaluated
_SKIP = -1


class Buckets(NamedTuple):
    """The padded shape a network is evaluated at: one executable per distinct value."""

    depth: int
    width: int
    batch: int


def set_buckets(
    widths: Sequence[int] | None = None, batches: Sequence[int] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Replace the width and/or batch buckets (ascending positive ints); returns the previous pair.

    More buckets mean less padding (cheaper calls) but one more compile each.
    Already-compiled executables stay cached, so switching back costs nothing.
    """
    global WIDTH_BUCKETS, BATCH_BUCKETS
    previous = (WIDTH_BUCKETS, BATCH_BUCKETS)
    for what, new in (("widths", widths), ("batches", batches)):
        if new is not None and (
            len(new) == 0 or any(int(v) != v or v < 1 for v in new) or list(new) != sorted(set(new))
        ):
            raise ValueError(
                f"oracle.set_buckets: {what} must be strictly increasing positive ints, got {new!r}"
            )
    if widths is not None:
        WIDTH_BUCKETS = tuple(int(v) for v in widths)
    if batches is not None:
        BATCH_BUCKETS = tuple(int(v) for v in batches)
    return previous


def _bucket(n: int, buckets: Sequence[int]) -> int:
    for b in buckets:
        if n <= b:
            return b
    # Beyond the largest bucket: a power of two, so sizes still share executables.
    return 1 << (n - 1).bit_length()


def buckets_for(widths: Sequence[int], batch: int) -> Buckets:
    """Bucket of a network with widths ``(n_in, n_1, ..., n_out)`` on ``batch`` rows."""
    return Buckets(
        depth=max(MAX_DEPTH, len(widths) - 1),
        width=_bucket(max(widths), WIDTH_BUCKETS),
        batch=_bucket(batch, BATCH_BUCKETS),
    )


# --------------------------------------------------------------------------- traced core


def _activation_branch(name: str) -> Callable[[Array, Array], Array]:
    spec = ACTIVATION_SPECS[name]

    def branch(z: Array, mask: Array) -> Array:
        return spec.fn(z, mask)

    branch.__name__ = name

    return branch


def _loss_branch(name: str) -> Callable[..., Array]:
    return partial(masked_loss, LOSS_SPECS[name])


_ACT_BRANCHES = tuple(_activation_branch(n) for n in ACTIVATION_NAMES)
_LOSS_BRANCHES = tuple(_loss_branch(n) for n in LOSS_NAMES)


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
    """Loss and output of the padded network.

    ``W (D, P, P)``, ``b (D, P)``, ``X (Bp, P)``, ``probes (D, Bp, P)``,
    ``act_idx (D,)`` int, ``unit_mask (D, P)`` bool (real units of each layer's
    output), ``Y (Bp, P)``, ``row_mask (Bp,)`` bool.
    """

    def layer(a: Array, xs: tuple[Array, ...]) -> tuple[Array, None]:
        w, bias, probe, idx, mask, active = xs

        def real(a_in: Array) -> Array:
            # Same association as oracle.network.forward: ((a @ w) + b) + probe.
            z = a_in @ w + bias + probe
            a_out: Array = lax.switch(idx, _ACT_BRANCHES, z, mask)
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
    c = lax.switch(loss_idx, _LOSS_BRANCHES, out, Y, mask, col_mask, n_rows, n_entries)
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
    """``(C, out (Bp, P), deltas (D, Bp, P), gW (D, P, P), gb (D, P), gX (Bp, P))``."""
    probes = jnp.zeros((W.shape[0], X.shape[0], W.shape[2]), dtype=W.dtype)
    (c, out), (gW, gb, gX, deltas) = jax.value_and_grad(
        _padded_loss, argnums=(0, 1, 2, 3), has_aux=True
    )(W, b, X, probes, act_idx, unit_mask, Y, loss_idx, row_mask, n_rows, n_entries)
    return c, out, deltas, gW, gb, gX


_core_jit = jax.jit(_core)


# --------------------------------------------------------------------------- packing


class _Packed(NamedTuple):
    W: F64
    b: F64
    act_idx: npt.NDArray[np.int32]
    loss_idx: npt.NDArray[np.int32]
    X: F64
    Y: F64
    unit_mask: npt.NDArray[np.bool_]
    row_mask: npt.NDArray[np.bool_]
    n_rows: F64
    n_entries: F64


def _pack_params(net: Network, bk: Buckets) -> tuple[F64, F64]:
    D, P = bk.depth, bk.width
    W = np.zeros((D, P, P))
    b = np.zeros((D, P))
    for i, (w, bias) in enumerate(zip(net.weights, net.biases, strict=True)):
        W[i, : w.shape[0], : w.shape[1]] = w
        b[i, : bias.shape[0]] = bias
    return W, b


def _pack_data(x: F64, y: F64, bk: Buckets) -> tuple[F64, F64]:
    Xp = np.zeros((bk.batch, bk.width))
    Yp = np.zeros((bk.batch, bk.width))
    Xp[: x.shape[0], : x.shape[1]] = x
    Yp[: y.shape[0], : y.shape[1]] = y
    return Xp, Yp


def _pack_structure(net: Network, B: int, bk: Buckets) -> dict[str, Any]:
    D, P = bk.depth, bk.width
    L = len(net.weights)
    widths = net.widths
    act_idx = np.full(D, _SKIP, dtype=np.int32)
    act_idx[:L] = [_ACT_INDEX[a] for a in net.activations]
    unit_mask = np.zeros((D, P), dtype=np.bool_)
    for i in range(D):
        # Identity layers carry the output layer's units.
        unit_mask[i, : widths[min(i, L - 1) + 1]] = True
    return {
        "act_idx": act_idx,
        "loss_idx": np.asarray(_LOSS_INDEX[net.loss], dtype=np.int32),
        "unit_mask": unit_mask,
        "row_mask": np.arange(bk.batch) < B,
        "n_rows": np.asarray(float(B)),
        "n_entries": np.asarray(float(B * widths[-1])),
    }


def _pack(net: Network, x: F64, y: F64) -> tuple[_Packed, Buckets]:
    bk = buckets_for(net.widths, x.shape[0])
    W, b = _pack_params(net, bk)
    Xp, Yp = _pack_data(x, y, bk)
    return _Packed(W=W, b=b, X=Xp, Y=Yp, **_pack_structure(net, x.shape[0], bk)), bk


def _unpack(raw: Sequence[Any], widths: Sequence[int], B: int) -> OracleResult:
    c, out, deltas, gW, gb, gX = raw
    L = len(widths) - 1
    # Copies, so that results are small contiguous arrays, not views of the padding.
    return OracleResult(
        loss=float(c),
        output=np.array(out[:B, : widths[-1]]),
        deltas=[np.array(deltas[i, :B, : widths[i + 1]]) for i in range(L)],
        grad_weights=[np.array(gW[i, : widths[i], : widths[i + 1]]) for i in range(L)],
        grad_biases=[np.array(gb[i, : widths[i + 1]]) for i in range(L)],
        grad_input=np.array(gX[:B, : widths[0]]),
    )


# --------------------------------------------------------------------------- public API


def backprop_fast(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> OracleResult:
    """Exactly :func:`oracle.network.backprop`'s result, computed in a padded bucket.

    ``weights[l] (n_{l-1}, n_l)``, ``biases[l] (n_l,)``, ``X (B, n_in)``, ``Y (B, n_out)``.
    One compile per :class:`Buckets` value (a single one, by default, for every
    network of depth <= 6, widths <= 64 and B <= 64).
    """
    packed, widths, B = _checked_pack(weights, biases, activations, loss, X, Y)
    return _unpack(_run_core(packed), widths, B)


def _checked_pack(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> tuple[_Packed, tuple[int, ...], int]:
    """The arguments validated and copied into the padded bucket; the real widths and B."""
    who = "oracle.backprop_fast"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    packed, _ = _pack(net, x, y)
    return packed, net.widths, x.shape[0]


def _run_core(packed: _Packed) -> tuple[Any, ...]:
    return tuple(jax.device_get(_core_jit(*packed)))


# JAX's CPU backend runs an executable on the calling thread before the call returns (its
# asynchronous dispatch is for accelerators: jax-ml/jax#20515), so "dispatch now, wait
# later" needs a thread of our own.  XLA releases the GIL while it runs, so the work
# proceeds on the second core while the caller computes.  One worker keeps the order of
# submission and never runs two bucket executables against each other.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oracle-fast")


def _new_worker_after_fork() -> None:
    # A forked child inherits the executor but not its thread: work submitted there would
    # wait forever.  (JAX itself is not fork-safe either; this keeps our part from hanging.)
    global _WORKER
    _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oracle-fast")


os.register_at_fork(after_in_child=_new_worker_after_fork)


class PendingResult:
    """A dispatched :func:`backprop_fast_async` computation; :meth:`result` waits for it."""

    __slots__ = ("_B", "_future", "_widths")

    def __init__(self, future: Future[tuple[Any, ...]], widths: tuple[int, ...], B: int) -> None:
        self._future = future
        self._widths = widths
        self._B = B

    def result(self) -> OracleResult:
        """Block until XLA has finished, then slice the real parts out (float64 NumPy)."""
        return _unpack(self._future.result(), self._widths, self._B)


def backprop_fast_async(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> PendingResult:
    """:func:`backprop_fast`, returning as soon as XLA has the work.

    The executable runs on a worker thread, so the caller can compute its own
    backprop on the other core meanwhile and call ``.result()`` afterwards.
    Arguments are validated (errors raise here, in the caller) and copied into the
    padded bucket before returning, so mutating them later is safe.
    """
    packed, widths, B = _checked_pack(weights, biases, activations, loss, X, Y)
    return PendingResult(_WORKER.submit(_run_core, packed), widths, B)


def backprop_many(
    cases: Sequence[
        tuple[Sequence[npt.ArrayLike], Sequence[npt.ArrayLike], npt.ArrayLike, npt.ArrayLike]
    ],
    activations: Sequence[str],
    loss: str,
) -> list[OracleResult]:
    """One :class:`OracleResult` per case ``(weights, biases, X, Y)``, all of one structure.

    For a network and relatively perturbed copies of its parameters and data (a
    conditioning estimate).  Every case is dispatched before any is awaited, so
    XLA works through them while Python packs the next.  This reuses
    :func:`backprop_fast`'s executable: a ``jax.vmap`` over the cases was measured
    to cost an extra compile of 3-10 s per number of cases for no faster calls at
    K = 2-3.  Cases may differ in batch size; each is validated like
    :func:`backprop_fast`'s arguments.
    """
    who = "oracle.backprop_many"
    if len(cases) == 0:
        raise ValueError(f"{who}: need at least one case, got none")
    pending = []
    for k, case in enumerate(cases):
        if len(case) != 4:
            raise ValueError(
                f"{who}: cases[{k}] must be (weights, biases, X, Y), got {len(case)} items"
            )
        w, bias, X, Y = case
        pending.append(backprop_fast_async(w, bias, activations, loss, X, Y))
    return [p.result() for p in pending]


def sgd_fast(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    batches: Sequence[npt.ArrayLike],
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> SGDResult:
    """:func:`oracle.network.sgd` with gradients from the bucketed executables.

    Unlike the plain version, a new batch size or structure costs no compile
    (within the buckets).
    """
    who = "oracle.sgd_fast"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    idx = check_batches(who, batches, x.shape[0])

    def grad_fn(
        ws: Sequence[F64], bs: Sequence[F64], xb: F64, yb: F64
    ) -> tuple[float, list[F64], list[F64]]:
        step = Network(tuple(ws), tuple(bs), net.activations, net.loss)
        packed, _ = _pack(step, xb, yb)
        r = _unpack(_run_core(packed), net.widths, xb.shape[0])
        return r.loss, r.grad_weights, r.grad_biases

    return sgd_loop(grad_fn, net, x, y, idx, float(lr), float(momentum), float(weight_decay))


class ForwardTrace(NamedTuple):
    """Every layer's values: ``pre_activations[l]`` = z_l, ``activations[l]`` = a_l, (B, n_l) each.

    ``activations[-1]`` is the network's output; a_0 = X is not repeated.
    """

    pre_activations: list[F64]
    activations: list[F64]


def _forward_core(
    W: Array, b: Array, act_idx: Array, X: Array, unit_mask: Array
) -> tuple[Array, Array]:
    """``(z (D, Bp, P), a (D, Bp, P))`` of the padded network (no loss, no gradients)."""

    def layer(a: Array, xs: tuple[Array, ...]) -> tuple[Array, tuple[Array, Array]]:
        w, bias, idx, mask = xs

        def real(a_in: Array) -> tuple[Array, Array]:
            z = a_in @ w + bias
            a_out: Array = lax.switch(idx, _ACT_BRANCHES, z, mask)
            return z, a_out

        z, a_out = lax.cond(idx >= 0, real, lambda a_in: (a_in, a_in), a)
        return a_out, (z, a_out)

    _, (zs, acts) = lax.scan(layer, X, (W, b, act_idx, unit_mask), unroll=True)
    return zs, acts


_forward_jit = jax.jit(_forward_core)


def forward_fast(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    X: npt.ArrayLike,
) -> ForwardTrace:
    """z_l and a_l of every layer for ``X (B, n_in)``, in a padded bucket.

    The bounded-compile replacement for calling :func:`oracle.network.predict` on
    each truncated network ``weights[:k]`` (which compiles once per truncation).
    z_l is computed as ``(a_{l-1} @ W_l) + b_l``, as in the plain oracle.
    """
    who = "oracle.forward_fast"
    net = check_network(who, weights, biases, activations, "mse")
    x = check_inputs(who, net, X)
    bk = buckets_for(net.widths, x.shape[0])
    W, b = _pack_params(net, bk)
    Xp = np.zeros((bk.batch, bk.width))
    Xp[: x.shape[0], : x.shape[1]] = x
    st = _pack_structure(net, x.shape[0], bk)
    zs, acts = jax.device_get(_forward_jit(W, b, st["act_idx"], Xp, st["unit_mask"]))
    B, widths = x.shape[0], net.widths
    L = len(net.weights)
    return ForwardTrace(
        pre_activations=[np.array(zs[i, :B, : widths[i + 1]]) for i in range(L)],
        activations=[np.array(acts[i, :B, : widths[i + 1]]) for i in range(L)],
    )


def predict_fast(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    X: npt.ArrayLike,
) -> F64:
    """:func:`oracle.network.predict` in a padded bucket: output activations ``(B, n_out)``."""
    return forward_fast(weights, biases, activations, X).activations[-1]


# --------------------------------------------------------------------------- single functions


@jax.jit
def _activation_vjp_core(idx: Array, z: Array, mask: Array, g: Array) -> tuple[Array, Array]:
    a, pull = jax.vjp(lambda zz: lax.switch(idx, _ACT_BRANCHES, zz, mask), z)
    (dz,) = pull(g)
    return a, dz


def activation_vjp_fast(name: str, z: npt.ArrayLike, upstream: npt.ArrayLike) -> tuple[F64, F64]:
    """:func:`oracle.network.activation_vjp` in a padded bucket.

    ``z`` and ``upstream`` share any shape with ndim >= 1; the last axis holds the units.
    """
    who = "oracle.activation_vjp_fast"
    check_activation(who, name)
    zz = np.asarray(z, dtype=np.float64)
    g = np.asarray(upstream, dtype=np.float64)
    if zz.shape != g.shape or zz.ndim == 0 or zz.size == 0:
        raise ValueError(
            f"{who}: z and upstream must have the same non-empty shape with ndim >= 1, "
            f"got {zz.shape} and {g.shape}"
        )
    n = zz.shape[-1]
    z2, g2 = zz.reshape(-1, n), g.reshape(-1, n)
    R = z2.shape[0]
    Rp, P = _bucket(R, BATCH_BUCKETS), _bucket(n, WIDTH_BUCKETS)
    zp, gp = np.zeros((Rp, P)), np.zeros((Rp, P))
    zp[:R, :n], gp[:R, :n] = z2, g2
    mask = np.arange(P) < n
    a, dz = jax.device_get(
        _activation_vjp_core(np.asarray(_ACT_INDEX[name], dtype=np.int32), zp, mask, gp)
    )
    return (
        np.array(a[:R, :n]).reshape(zz.shape),
        np.array(dz[:R, :n]).reshape(zz.shape),
    )


@jax.jit
def _loss_grad_core(
    idx: Array, a: Array, y: Array, mask: Array, col: Array, n_rows: Array, n_entries: Array
) -> tuple[Array, Array]:
    def f(aa: Array) -> Array:
        c: Array = lax.switch(idx, _LOSS_BRANCHES, aa, y, mask, col, n_rows, n_entries)
        return c

    c, da = jax.value_and_grad(f)(a)
    return c, da


def loss_grad_fast(name: str, a: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, F64]:
    """:func:`oracle.network.loss_grad` in a padded bucket: ``(C, dC/da (B, O))``."""
    who = "oracle.loss_grad_fast"
    check_loss(who, name)
    aa, yy = as_f64(who, "a", a, 2), as_f64(who, "y", y, 2)
    if aa.shape != yy.shape or 0 in aa.shape:
        raise ValueError(
            f"{who}: a and y must both be (B, O), non-empty, got {aa.shape} and {yy.shape}"
        )
    B, n_out = aa.shape
    Bp, P = _bucket(B, BATCH_BUCKETS), _bucket(n_out, WIDTH_BUCKETS)
    ap, yp = np.zeros((Bp, P)), np.zeros((Bp, P))
    ap[:B, :n_out], yp[:B, :n_out] = aa, yy
    col = np.arange(P) < n_out
    mask = (np.arange(Bp) < B)[:, None] & col[None, :]
    c, da = jax.device_get(
        _loss_grad_core(
            np.asarray(_LOSS_INDEX[name], dtype=np.int32),
            ap,
            yp,
            mask,
            col,
            np.asarray(float(B)),
            np.asarray(float(B * n_out)),
        )
    )
    return float(c), np.array(da[:B, :n_out])


def dense_vjp_fast(
    x: npt.ArrayLike, w: npt.ArrayLike, b: npt.ArrayLike, upstream: npt.ArrayLike
) -> tuple[F64, F64, F64, F64]:
    """:func:`oracle.network.dense_vjp` in a padded bucket.

    ``x (B, I)``, ``w (I, O)``, ``b (O,)``, ``upstream (B, O)`` ->
    ``(z (B, O), dx (B, I), dw (I, O), db (O,))``.
    """
    xx, ww, bb, g = check_dense("oracle.dense_vjp_fast", x, w, b, upstream)
    B, n_in = xx.shape
    n_out = ww.shape[1]
    Bp, P = _bucket(B, BATCH_BUCKETS), _bucket(max(n_in, n_out), WIDTH_BUCKETS)
    xp, wp, bp, gp = np.zeros((Bp, P)), np.zeros((P, P)), np.zeros(P), np.zeros((Bp, P))
    xp[:B, :n_in], wp[:n_in, :n_out], bp[:n_out], gp[:B, :n_out] = xx, ww, bb, g
    z, dx, dw, db = jax.device_get(_dense_vjp_jit(xp, wp, bp, gp))
    return (
        np.array(z[:B, :n_out]),
        np.array(dx[:B, :n_in]),
        np.array(dw[:n_in, :n_out]),
        np.array(db[:n_out]),
    )


# --------------------------------------------------------------------------- compile budget


def enable_persistent_cache(path: str | os.PathLike[str]) -> None:
    """Store every compiled executable under ``path`` and reuse them in later processes.

    Thresholds are zeroed so that even the small executables here are written
    (JAX's defaults skip compiles under 1 s).  Safe to call after compiles have
    already happened: the cache is re-initialised for the next one.
    """
    p = os.fspath(path)
    os.makedirs(p, exist_ok=True)
    update: Any = jax.config.update
    update("jax_compilation_cache_dir", p)
    update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # -1 = no minimum size and no filesystem-specific override (0 would allow one).
    update("jax_persistent_cache_min_entry_size_bytes", -1)
    compilation_cache.reset_cache()


def warmup(
    depths: Sequence[int] = (MAX_DEPTH,),
    widths: Sequence[int] | None = None,
    batches: Sequence[int] | None = None,
    forward: bool = False,
) -> CompileStats:
    """Compile (or load from the persistent cache) the executables for every bucket given.

    Defaults: :func:`backprop_fast` for every (width bucket, batch bucket) pair at
    ``MAX_DEPTH``; ``forward=True`` adds :func:`forward_fast`'s.  Returns the compile
    statistics accrued by the warm-up.
    """
    before = compile_stats()
    for d in depths:
        for p in widths if widths is not None else WIDTH_BUCKETS:
            for bsz in batches if batches is not None else BATCH_BUCKETS:
                ws = [np.zeros((p, p)) for _ in range(d)]
                bs = [np.zeros(p) for _ in range(d)]
                acts = ["identity"] * d
                X = np.zeros((bsz, p))
                backprop_fast(ws, bs, acts, "mse", X, X)
                if forward:
                    forward_fast(ws, bs, acts, X)
    after = compile_stats()
    return CompileStats(
        after.compiles - before.compiles,
        after.cache_hits - before.cache_hits,
        after.seconds - before.seconds,
    )
