"""``refbp mutate``: not written yet."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("refbp mutate: not implemented yet")
    return 2
