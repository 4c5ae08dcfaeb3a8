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

from refbp import __version__

__all__ = ["build_parser", "main"]

_COMMANDS = {
    "verify": "check a backprop implementation (refbp by default) against the JAX oracle",
    "bench": "benchmark refbp against JAX (and PyTorch) and write reports/bench.md",
    "train": "train a network on a dataset and write a learning curve",
    "mutate": "plant classic backprop bugs and check that the suite catches each",
}

_DESCRIPTION = (
    "refbp is backpropagation written by hand in NumPy and checked against a JAX oracle: "
    "`refbp verify` compares a backprop implementation with the oracle, `refbp bench` times "
    "it against JAX and PyTorch, `refbp train` fits a network to a dataset, and `refbp mutate` "
    "plants classic backprop bugs to show that the suite catches each one."
)
_EPILOG = "Run `refbp COMMAND --help` for a command's options and their defaults."


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one subparser per command, its ``run`` as ``args._run``."""
    parser = argparse.ArgumentParser(prog="refbp", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"refbp {__version__}")
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
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
