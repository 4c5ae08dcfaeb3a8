"""What the benchmarks measure, shared by the bench modules and their fast self-tests.

One *step* is one training step's gradient: the forward pass and the backward pass of a
fully connected network on one batch, producing the loss, every weight and bias gradient
and ∂C/∂X.  Two ladders of steps are timed:

* the size ladder (``cases()``): tanh on every hidden layer, identity on the output, mean
  squared error, at five sizes, with the three-GEMM bound and the peak memory beside it;
* the step ladder (``ladder_cases()`` × ``ladder_configs()``): at three sizes, every
  elementwise activation of ``refbp.ACTIVATIONS`` on the hidden layers (identity output,
  mse), then every loss of ``refbp.LOSSES`` at the output (tanh hidden, an output
  activation the loss accepts).  Both come from the registries: a new entry is timed
  without touching this file.

Each implementation computes the same outputs (``peers.py``):

* refbp   ``net.backprop(X, Y)`` (it also returns every δ, a by-product of the pass);
* jax     ``jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))`` over (params, X), the
          oracle's JAX functions of the same names, ``block_until_ready`` on everything;
* torch   CPU autograd: ``torch.autograd.grad(loss, [*params, x])`` (no ``.grad``
          accumulation, so every call does the same work);
* bound   the three GEMMs per layer that any implementation must do, x W, xᵀ δ and δ Wᵀ (the
          first layer's δ Wᵀ included, since ∂C/∂X is an output), timed alone with
          ``np.matmul(..., out=...)`` on preallocated arrays: refbp's floor on this BLAS.

The environment selects the scale: REFBP_BENCH_QUICK=1 keeps the three smallest networks,
the two smallest ladder sizes and a smaller op shape (a smoke run); REFBP_BENCH_PEERS
(comma-separated, default "jax,torch") selects the peers.  ``refbp bench`` sets both.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import refbp

Array = np.ndarray


@dataclass(frozen=True)
class Config:
    """What a network computes: the hidden layers' activation, the output's, the loss."""

    hidden: str = "tanh"
    output: str = "identity"
    loss: str = "mse"

    @property
    def label(self) -> str:
        return f"{self.hidden}-{self.output}-{self.loss}"


TANH_MSE = Config()


@dataclass(frozen=True)
class Case:
    """One network size: widths [n_0, ..., n_L] and batch size B."""

    sizes: tuple[int, ...]
    batch: int

    @property
    def label(self) -> str:
        return f"{list(self.sizes)} B={self.batch}".replace(" ", "")

    @property
    def activations(self) -> list[str]:
        return self.activations_for(TANH_MSE)

    def activations_for(self, config: Config) -> list[str]:
        return [config.hidden] * (len(self.sizes) - 2) + [config.output]

    @property
    def gemm_flops(self) -> int:
        """Floating-point operations of the three GEMMs per layer: 3 · 2 · B · n_in · n_out."""
        return sum(
            6 * self.batch * i * o for i, o in zip(self.sizes[:-1], self.sizes[1:], strict=True)
        )


ALL_CASES: tuple[Case, ...] = (
    Case((2, 3, 1), 4),
    Case((64, 64, 10), 32),
    Case((256, 256, 256, 10), 128),
    Case((1024, 1024, 1024, 10), 256),
    Case((2048, 2048, 10), 512),
)
LADDER_CASES: tuple[Case, ...] = (
    Case((2, 3, 1), 4),
    Case((256, 256, 256, 10), 128),
    Case((1024, 1024, 10), 256),
)
DTYPES: tuple[type[np.floating], ...] = (np.float32, np.float64)
KNOWN_PEERS: tuple[str, ...] = ("jax", "torch")


def quick() -> bool:
    return os.environ.get("REFBP_BENCH_QUICK", "") not in ("", "0")


def cases() -> tuple[Case, ...]:
    return ALL_CASES[:3] if quick() else ALL_CASES


def ladder_cases() -> tuple[Case, ...]:
    return LADDER_CASES[:2] if quick() else LADDER_CASES


def output_for(loss: str) -> str:
    """An output activation the loss accepts: identity unless the loss names its own."""
    allowed = refbp.LOSSES[loss].output_activations
    return allowed[0] if allowed else "identity"


def ladder_configs() -> tuple[Config, ...]:
    """Every elementwise activation on the hidden layers (identity, mse), then every loss at
    the output (tanh hidden), in registry order, each configuration once."""
    hidden = [Config(name, "identity", "mse") for name, act in refbp.ACTIVATIONS.items()
              if act.elementwise]  # fmt: skip
    losses = [Config("tanh", output_for(name), name) for name in refbp.LOSSES]
    return tuple(dict.fromkeys([*hidden, *losses]))


def op_shape() -> tuple[int, int]:
    """The (B, n) array the per-activation and per-loss microbenchmarks run on."""
    return (64, 256) if quick() else (256, 1024)


def env_setting(
    name: str, default: str, parse: Callable[[str], Any], ok: Callable[[Any], bool], expected: str
) -> Any:
    """The environment variable ``name`` (``default`` when unset or empty), parsed; a value
    that does not parse or is not ``ok`` raises ValueError saying what was ``expected``."""
    raw = os.environ.get(name, "").strip() or default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise ValueError(f"{name} must be {expected}, got {raw!r}")
    return value


def passes() -> int:
    """How many passes time each row (REFBP_BENCH_PASSES, default 1): the row's
    implementations one after the other, then all of them again, each pass with its share
    of the rounds.  A drift of the machine's speed while a row is timed then falls on every
    implementation of the row, where one pass would charge it to whichever implementation
    it fell on; ``refbp bench`` pools each implementation's rounds."""
    n: int = env_setting("REFBP_BENCH_PASSES", "1", int, lambda n: n >= 1, "a positive integer")
    return n


PASS_MARK = "@p"
"""A benchmark id ends in ``@p<k>`` for its k-th pass (when there are several); the
passes of one benchmark differ in nothing else (refbp_tools.bench.passes.merge_passes)."""


def pass_ids() -> list[tuple[int, str]]:
    """(pass number, id suffix) for each pass: one pass has no suffix, as before passes."""
    n = passes()
    return [(1, "")] if n == 1 else [(k, f"{PASS_MARK}{k}") for k in range(1, n + 1)]


def per_pass(min_rounds: int, max_time: float) -> dict[str, Any]:
    """A benchmark's rounds and time shared out over the passes (at least one round each)."""
    n = passes()
    return {"min_rounds": max(1, -(-min_rounds // n)), "max_time": max_time / n}


class RowCache:
    """What each implementation of the row being timed runs, ``(fn, args)``, kept for the
    row's later passes: built (compiled, warmed) once a row, and one row's arrays alive at a
    time.  A kept one is run once more before it is handed out again: the implementations
    timed in between took the caches."""

    def __init__(self) -> None:
        self._row: object = None
        self._timed: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}

    def get(
        self,
        row: object,
        impl: str,
        build: Callable[[], tuple[Callable[..., Any], tuple[Any, ...]]],
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if row != self._row:
            self._row, self._timed = row, {}
        kept = self._timed.get(impl)
        if kept is None:
            kept = self._timed[impl] = build()
        else:
            kept[0](*kept[1])
        return kept


def peers() -> tuple[str, ...]:
    raw = os.environ.get("REFBP_BENCH_PEERS", ",".join(KNOWN_PEERS))
    return tuple(p.strip() for p in raw.split(",") if p.strip())


# --- data ------------------------------------------------------------------------------


def targets(kind: str, shape: tuple[int, ...], dtype: Any, rng: np.random.Generator) -> Array:
    """Targets valid for a loss's ``targets`` kind: real, in [0, 1], or probability rows."""
    if kind == "real":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "unit_interval":
        return rng.uniform(0.0, 1.0, shape).astype(dtype)
    rows = rng.uniform(0.0, 1.0, shape)
    return (rows / rows.sum(axis=1, keepdims=True)).astype(dtype)


def make_problem(
    case: Case, dtype: type[np.floating], seed: int = 0, config: Config = TANH_MSE
) -> tuple[refbp.MLP, Array, Array]:
    """The refbp network (Glorot init, zero biases), a batch X ~ N(0, 1) and targets Y
    valid for the loss (N(0, 1) for the regression losses)."""
    net = refbp.MLP.init(
        list(case.sizes), case.activations_for(config), config.loss, dtype=dtype, seed=seed
    )
    rng = np.random.default_rng(seed + 1)
    X = rng.standard_normal((case.batch, case.sizes[0])).astype(dtype)
    kind = refbp.LOSSES[config.loss].targets
    Y = targets(kind, (case.batch, case.sizes[-1]), dtype, rng)
    return net, X, Y


def op_inputs(dtype: str, seed: int = 0) -> tuple[Array, Array]:
    """The microbenchmarks' z ~ N(0, 2) (tanh and sigmoid not all saturated) and an upstream
    gradient g ~ N(0, 1), both ``op_shape()``."""
    rng = np.random.default_rng(seed)
    z = (2.0 * rng.standard_normal(op_shape())).astype(dtype)
    g = rng.standard_normal(op_shape()).astype(dtype)
    return z, g


def loss_inputs(name: str, dtype: str) -> tuple[Array, Array]:
    """(a, y) for loss ``name``'s microbenchmark: a = z, or for a loss that takes
    probabilities the first output activation it names applied to z; y valid for the loss."""
    z, _ = op_inputs(dtype)
    loss = refbp.LOSSES[name]
    a = refbp.ACTIVATIONS[loss.output_activations[0]].forward(z) if loss.output_activations else z
    return a, targets(loss.targets, a.shape, a.dtype, np.random.default_rng(1))


# --- the three-GEMM bound ----------------------------------------------------------------


def gemm_bound_step(case: Case, dtype: type[np.floating], seed: int = 0) -> Callable[[], None]:
    """A function doing exactly the 3 GEMMs per layer of one step, into preallocated arrays.

    Per layer l (input width i, output width o): z = a W (B, o), ∂W = aᵀ δ (i, o) and
    δ Wᵀ (B, i), with ``np.matmul(..., out=...)``: no allocation, no elementwise work.  They
    run in the order a step must run them, the forward products layer by layer and then the
    backward ones from the output down, so that each W comes back to the cache as it would.
    """
    rng = np.random.default_rng(seed)
    B = case.batch
    acts = [rng.standard_normal((B, n)).astype(dtype) for n in case.sizes]
    deltas = [rng.standard_normal((B, n)).astype(dtype) for n in case.sizes]
    ws = [
        (rng.standard_normal((i, o)) / np.sqrt(i)).astype(dtype)
        for i, o in zip(case.sizes[:-1], case.sizes[1:], strict=True)
    ]
    dws = [np.empty_like(w) for w in ws]
    zs = [np.empty((B, n), dtype=dtype) for n in case.sizes]
    dxs = [np.empty((B, n), dtype=dtype) for n in case.sizes]

    def step() -> None:
        for i, w in enumerate(ws):
            np.matmul(acts[i], w, out=zs[i + 1])  # forward: z = a W
        for i in range(len(ws) - 1, -1, -1):
            np.matmul(acts[i].T, deltas[i + 1], out=dws[i])  # BP4: aᵀ δ
            np.matmul(deltas[i + 1], ws[i].T, out=dxs[i])  # δ Wᵀ for the layer below, or ∂C/∂X

    return step


# --- peak memory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryAccount:
    """Bytes one backprop must hold, by kind, and the peak it actually reached.

    must_hold = parameters (every W and b) + their gradients (the same bytes again)
              + z of every layer + a of every layer whose activation is not the identity
                (the identity returns z itself, so that a costs nothing)
              + δ of every layer + ∂C/∂X (B, n_0).
    All of it exists at once when ``backprop`` returns: the result holds the gradients, the
    δs and ∂C/∂X, and the forward cache (z, a) is alive until then.  X and Y are the
    caller's and are not counted.

    peak = parameter bytes + the peak of tracemalloc's traced memory during the call, with
    tracing started (on an already built, already warmed-up network) just before it and
    the result still alive when the peak is read.  NumPy reports its data buffers to
    tracemalloc, so the peak covers every array and every temporary, and also the Python
    objects (array headers, lists, tuples) that a byte count of the data does not: on the
    tiny networks those dominate.
    """

    parameters: int
    gradients: int
    z: int
    a: int
    deltas: int
    grad_input: int
    peak: int

    @property
    def must_hold(self) -> int:
        return self.parameters + self.gradients + self.z + self.a + self.deltas + self.grad_input

    @property
    def ratio(self) -> float:
        return self.peak / self.must_hold

    def as_dict(self) -> dict[str, Any]:
        return {
            "parameters": self.parameters,
            "gradients": self.gradients,
            "z": self.z,
            "a": self.a,
            "deltas": self.deltas,
            "grad_input": self.grad_input,
            "must_hold": self.must_hold,
            "peak": self.peak,
            "ratio": self.ratio,
        }


def memory_account(case: Case, dtype: type[np.floating]) -> MemoryAccount:
    """Measure the peak of one ``backprop`` and account for what it must hold (see above)."""
    net, X, Y = make_problem(case, dtype)
    net.backprop(X, Y)  # warm-up: first-call allocations (caches, lazy imports) are not the step's
    item = np.dtype(dtype).itemsize
    B = case.batch
    widths = case.sizes[1:]
    params = sum(w.nbytes + b.nbytes for w, b in zip(net.weights, net.biases, strict=True))
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        bp = net.backprop(X, Y)
        _, traced_peak = tracemalloc.get_traced_memory()
        traced_peak -= before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    account = MemoryAccount(
        parameters=params,
        gradients=params,
        z=sum(B * n for n in widths) * item,
        a=sum(B * n for n, act in zip(widths, case.activations, strict=True) if act != "identity")
        * item,
        deltas=sum(B * n for n in widths) * item,
        grad_input=B * case.sizes[0] * item,
        peak=params + traced_peak,
    )
    # The accounting must describe what backprop really returned.
    assert account.gradients == sum(g.nbytes for g in [*bp.grad_weights, *bp.grad_biases])
    assert account.deltas == sum(d.nbytes for d in bp.deltas)
    assert account.grad_input == bp.grad_input.nbytes
    return account


# --- peers (tests/bench/peers.py; imported late: JAX and PyTorch are optional) ----------


def jax_step(case: Case, dtype: type[np.floating], config: Config = TANH_MSE) -> Callable[[], Any]:
    """JAX's step: returns (loss, ((∂W, ∂b) per layer, ∂C/∂X)); ImportError without JAX."""
    from tests.bench import peers

    return peers.jax_step(case, dtype, config)


def torch_step(
    case: Case, dtype: type[np.floating], config: Config = TANH_MSE
) -> Callable[[], Any]:
    """PyTorch's step: (loss, (∂W₁, ∂b₁, ..., ∂C/∂X)); ImportError without torch."""
    from tests.bench import peers

    return peers.torch_step(case, dtype, config)
