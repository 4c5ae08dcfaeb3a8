"""The ``refbp`` command line: verify, bench, train and mutate.

Each subcommand is a module of the tooling package ``refbp_tools``, outside the library;
heavy imports happen inside its ``run``, so that ``refbp train`` needs NumPy (plus the data
extra) and never JAX.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_COMMANDS = {
    "verify": "check refbp against the JAX oracle with the Hypothesis suite",
    "bench": "benchmark refbp against JAX (and PyTorch) and write reports/bench.md",
    "train": "train a network on a dataset and write a learning curve",
    "mutate": "plant classic backprop bugs and check that the suite catches each",
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one subparser per command, its ``run`` as ``args._run``."""
    parser = argparse.ArgumentParser(prog="refbp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in _COMMANDS.items():
        module = importlib.import_module(f"refbp_tools.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
