"""Mini-batch stochastic gradient descent, as in the textbook algorithm.

Sampling (part of the contract, so that an outside check can replay it): one generator
``rng = numpy.random.default_rng(seed)`` for the whole run; each epoch draws
``perm = rng.permutation(N)`` and visits the batches ``perm[k : k + batch_size]`` for
k = 0, batch_size, 2·batch_size, ... (the last batch may be shorter).  Every sample is used
exactly once per epoch: batches are drawn without replacement.

Update, per parameter array p with batch gradient g (PyTorch's convention):
    g' = g + λ p      (L2 weight decay λ, on weights only: biases are not decayed)
    v  = μ v + g'     (momentum μ; one buffer per array, starting at zero)
    p  = p − α v      (learning rate α; with μ = 0 this is p ← p − α g')
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refbp import _validate as check
from refbp._types import FloatArray
from refbp.errors import DTypeError, NumericalError
from refbp.network import MLP, not_finite_error

__all__ = ["batch_indices", "train"]


def batch_indices(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches: a fresh permutation of range(n) cut into slices of batch_size."""
    where = "batch_indices"
    n = check.positive_int(n, "n", where, minimum=0)
    batch_size = check.positive_int(batch_size, "batch_size", where)
    if not isinstance(rng, np.random.Generator):
        raise DTypeError(
            f"{where}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    perm = rng.permutation(n)
    return [perm[k : k + batch_size] for k in range(0, n, batch_size)]


def train(
    net: MLP,
    X: FloatArray,
    Y: FloatArray,
    lr: float = 0.1,
    batch_size: int = 32,
    epochs: int = 10,
    seed: int | None = 0,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``net`` in place on X (N, n_in), Y (N, n_out); return one mean loss per epoch.

    An epoch's loss is the mean over its samples of the data loss each batch had just before
    its update (the L2 term is not included).  ``on_epoch(epoch, loss)`` is called after each
    epoch, e.g. for a progress bar.  X and Y are never modified.  For softmax cross-entropy,
    Y may be integer class labels (N,) instead of one-hot rows.  If the training diverges (a
    loss or a parameter becomes inf or NaN) it raises NumericalError and leaves ``net`` as it
    was before the call.

    The defaults (lr 0.1, 10 epochs) are a cautious start, not a recipe: a good learning rate
    depends on the loss's scale and the data.  XOR on the [2, 3, 1] network of the tutorial
    stays at outputs ~0.5 with them, and learns with a larger step and more epochs::

        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        Y = np.array([[0], [1], [1], [0]], dtype=float)
        net = refbp.MLP.init([2, 3, 1], ["sigmoid", "sigmoid"], "mse", seed=0)
        refbp.train(net, X, Y, lr=3.0, batch_size=4, epochs=2000, seed=0)
        net.predict(X)  # ≈ [[0.02], [0.98], [0.98], [0.02]]
    """
    where = "train"
    if not isinstance(net, MLP):
        raise DTypeError(f"{where}: net must be a refbp.MLP, got {type(net).__name__}")
    x = net._inputs(X, where)
    y = net._targets(Y, x.shape[0], where)
    alpha = check.real(lr, "lr", where, low=0.0, low_open=True)
    bs = check.positive_int(batch_size, "batch_size", where)
    n_epochs = check.positive_int(epochs, "epochs", where, minimum=0)
    mu = check.real(momentum, "momentum", where, low=0.0, high=1.0, high_open=True)
    lam = check.real(weight_decay, "weight_decay", where, low=0.0)
    seed = check.seed(seed, where)
    if on_epoch is not None and not callable(on_epoch):
        raise DTypeError(
            f"{where}: on_epoch must be a function (epoch, loss) or None, "
            f"got {type(on_epoch).__name__}"
        )

    params = [*net._w, *net._b]
    before = [p.copy() for p in params]  # put back if the training diverges
    decays = [lam] * len(net._w) + [0.0] * len(net._b)
    velocity = [np.zeros_like(p) for p in params] if mu > 0 else []
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    history: list[float] = []
    try:
        for epoch in range(n_epochs):
            total = 0.0
            for idx in batch_indices(n, bs, rng):
                bp = net._backprop(x[idx], y[idx], where, need_grad_input=False)
                total += bp.loss * len(idx)
                grads = [*bp.grad_weights, *bp.grad_biases]
                with np.errstate(all="ignore"):  # results are checked below, not flags
                    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                        if decays[i] > 0:
                            g = g + decays[i] * p
                        if mu > 0:
                            velocity[i] *= mu
                            velocity[i] += g
                            g = velocity[i]
                        p -= alpha * g  # in place: these are the network's own arrays
                if not all(check.all_finite(p) for p in params):
                    raise not_finite_error(
                        f"{where} (epoch {epoch}, lr={alpha})",
                        "a parameter after an update (training diverged)",
                    )
            history.append(total / n)
            if on_epoch is not None:
                on_epoch(epoch, history[-1])
    except NumericalError:  # the parameters may hold inf by now: give the network back whole
        for p, p0 in zip(params, before, strict=True):
            p[...] = p0
        raise
    return history
