"""The fast oracle's compile budget: one executable serves many structures, and a second
process loads the first one's executables from the persistent cache instead of compiling."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import oracle
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES, LOSS_SPECS
from tests.judge.oracle_cases import net, targets

#: losses that take logits: any activation may precede them
LOGIT_LOSSES = tuple(n for n in LOSS_NAMES if not LOSS_SPECS[n].probability_output)


@pytest.mark.usefixtures("no_warm_up_running")  # its compiles would count here
def test_fast_compiles_once_for_many_structures() -> None:
    rng = np.random.default_rng(11)
    oracle.warmup()  # every (width, batch) bucket pair, whatever set_buckets chose
    before = oracle.compile_count()
    for _ in range(30):
        depth = int(rng.integers(1, 7))
        widths = [int(w) for w in rng.integers(1, 65, depth + 1)]
        acts = [str(a) for a in rng.choice(ACTIVATION_NAMES, depth)]
        loss = str(rng.choice(LOGIT_LOSSES))
        ws, bs = net(rng, widths)
        B = int(rng.integers(1, 65))
        r = oracle.backprop_fast(
            ws, bs, acts, loss, rng.normal(size=(B, widths[0])), targets(rng, loss, B, widths[-1])
        )
        assert np.isfinite(r.loss)
    assert oracle.compile_count() == before


@pytest.mark.slow
def test_persistent_cache_makes_a_second_process_compile_nothing(
    tmp_path: os.PathLike[str],
) -> None:
    script = (
        "import numpy as np, oracle\n"
        f"oracle.enable_persistent_cache({str(tmp_path)!r})\n"
        "oracle.backprop_fast([np.ones((3, 2))], [np.zeros(2)], ['tanh'], 'mse',\n"
        "                     np.ones((5, 3)), np.ones((5, 2)))\n"
        "s = oracle.compile_stats(); print(s.compiles, s.cache_hits)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
        )
        for _ in range(2)
    ]
    first = [int(v) for v in runs[0].stdout.split()]
    second = [int(v) for v in runs[1].stdout.split()]
    assert first[0] >= 1
    assert second == [0, first[0]]
