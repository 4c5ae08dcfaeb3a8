"""argparse types the commands share: a bad value is refused by argparse (exit 2, with the
flag's name), before any work, never read as something else."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(minimum: int, what: str, name: str) -> Callable[[str], int]:
    """An argparse type: an int of at least ``minimum``, refused as ``what`` otherwise."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {n}")
        return n

    parse.__name__ = name
    return parse


positive = integer(1, "a positive integer", "positive")
count = integer(0, "a non-negative integer", "count")


def number(what: str, name: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a finite float for which ``ok`` holds, refused as ``what`` otherwise
    (nan and inf are never a setting)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = name
    return parse


#: an argparse type: a finite number of seconds above 0
seconds = number("a number of seconds above 0", "seconds", lambda v: v > 0)
