"""Instructions one training step executes, counted by valgrind: a measure of per-call cost
that other processes on a shared machine do not disturb.

    python tools/instructions.py [--impl refbp|bare|jax|torch] [--sizes 2,3,1] [--batch 4]
                                 [--dtype float64] [--calls 400] [CONFIG ...]

``bare`` is refbp's arithmetic for tanh hidden layers, an identity output and mse (the
size ladder's rows) written as straight NumPy calls, with no input check, no result check,
no np.errstate and no result objects: the floor of refbp's formulas in NumPy, against
which refbp's count is the cost of its checks and structure.

CONFIG is hidden-output-loss, as the step ladder names its rows (default: every row of the
ladder, from tests/bench/cases.py).  Each count runs the step in a fresh interpreter under
``valgrind --tool=callgrind`` twice, warmed up and then 0 and ``--calls`` more times; the
difference over ``--calls`` is one step's instructions, on every thread (XLA's included),
without the interpreter's start-up.  On the tiny networks a step's time is its
instructions (a few hundred thousand, all in cache), so the ratio of two counts is the
ratio of their times on a quiet machine, and unlike a timing it is the same in every run
(within about 1%: the allocator's state varies).  Needs valgrind; slow (about 15 s a
count).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bench import cases  # noqa: E402

_CHILD = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from tests.bench import cases
case = cases.Case({sizes!r}, {batch!r})
config = cases.Config(*{config!r}.split("-"))
dtype = np.dtype({dtype!r}).type
if {impl!r} == "refbp":
    net, X, Y = cases.make_problem(case, dtype, config=config)
    step = lambda: net.backprop(X, Y)
elif {impl!r} == "bare":
    if config.label != "tanh-identity-mse":
        raise SystemExit("--impl bare is written for tanh-identity-mse only")
    from refbp.kernels import _tanh_backward as tanh_sech2  # the formula, without blockwise
    net, X, Y = cases.make_problem(case, dtype, config=config)
    W, b = net.weights, net.biases

    def step():
        # refbp's formulas and products (ndarray.dot), one layer after another
        zs, acts = [], [X]
        for i in range(len(W)):
            z = acts[-1].dot(W[i])
            z += b[i]
            zs.append(z)
            acts.append(np.tanh(z) if i < len(W) - 1 else z)
        d = acts[-1] - Y
        sq = d * d
        c = float(np.add.reduce(sq, axis=None)) / d.size
        delta = d * (2.0 / d.size)
        grads = []
        for i in range(len(W) - 1, -1, -1):
            grads.append((acts[i].T.dot(delta), np.add.reduce(delta, axis=0)))
            g = delta.dot(W[i].T)
            if i > 0:
                delta = tanh_sech2(zs[i - 1], g)
        return c, grads, g
elif {impl!r} == "jax":
    step = cases.jax_step(case, dtype, config)
else:
    step = cases.torch_step(case, dtype, config)
for _ in range(50):
    step()
for _ in range(int(sys.argv[1])):
    step()
"""


def _count(script: Path, calls: int) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         os.path.realpath(sys.executable), str(script), str(calls)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def per_call(impl: str, sizes: tuple[int, ...], batch: int, config: str, dtype: str,
             calls: int) -> int:  # fmt: skip
    """Instructions of one step of ``impl`` on the network ``sizes`` with ``batch`` rows."""
    source = _CHILD.format(root=str(ROOT), sizes=sizes, batch=batch, config=config,
                           dtype=dtype, impl=impl)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "step.py"
        script.write_text(source)
        return (_count(script, calls) - _count(script, 0)) // calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("configs", nargs="*", help="hidden-output-loss (default: the step ladder)")
    p.add_argument("--impl", default="refbp", choices=("refbp", "bare", "jax", "torch"))
    p.add_argument("--sizes", default="2,3,1")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--calls", type=int, default=400)
    p.add_argument("--parallel", type=int, default=2, help="counts run at once")
    args = p.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    configs = args.configs or [c.label for c in cases.ladder_configs()]
    with ThreadPoolExecutor(args.parallel) as pool:
        counts = pool.map(
            lambda c: per_call(args.impl, sizes, args.batch, c, args.dtype, args.calls), configs
        )
        for config, n in zip(configs, counts, strict=True):
            print(f"{args.impl} {list(sizes)} B={args.batch} {config} {args.dtype}: "
                  f"{n:,} instructions a step", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
