"""``refbp bench``: time refbp against JAX, PyTorch and the three-GEMM bound; write reports.

The timing is done by the pytest-benchmark modules in ``tests/bench/`` (``cases.py`` says
exactly what each implementation computes); this command runs them in a fresh Python
process with a progress display, guards the timings against contention (threads pinned,
an optional wait for an idle machine, a retry pass over contended benchmarks) and turns
pytest-benchmark's JSON into the reports:

* ``<out>/bench/<date>-<host>.json``  pytest-benchmark's JSON with the machine description
  and the guard record (a second run on the same day gets ``-2``, ...; quick runs ``-quick``);
* ``<out>/bench.md``  medians and ratios: the size ladder, the step ladder over every
  activation and loss, every kernel against JAX, peak memory, targets, contention;
* ``<out>/bench-time.png``, ``bench-ratio.png`` and ``bench-ladder.png``.

A full run times about 450 benchmarks: about ten minutes on two busy cores, plus at most
``--retry-budget`` (300 s) for the retry pass, which gives up early on a machine that stays
busy.  ``--quick`` (about 340 much shorter benchmarks, two minutes) is a smoke run written to
``bench-quick.*`` so that it never replaces the report of a real run.  ``--compare``
compares refbp's times with the previous saved run of the same kind and exits 1 on a
slowdown over ``--threshold``.  ``--from-json`` reports on a saved JSON.

Modules, one job each: ``arguments`` (the flags), ``driver`` (the pytest subprocess),
``contention`` (/proc/stat sampling, waiting, retries), ``model`` (the JSON as rows),
``targets``, ``compare`` (runs against runs), ``formatting``, ``sections`` and ``markdown``
(bench.md), ``plots``, ``command`` (from arguments to reports).
"""

from refbp_tools.bench.arguments import add_arguments
from refbp_tools.bench.command import run

__all__ = ["add_arguments", "run"]
