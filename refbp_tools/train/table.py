"""Reading a CSV file for ``refbp train``: delimiter, header, target column and cells.

Every problem is reported as ``refbp train: FILE line N, column NAME: expected …, got …``
(a ``SystemExit``), never as a parser's own message or a warning.  Blank lines are
skipped; quoted cells follow the csv module's rules.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from refbp._types import FloatArray

__all__ = ["DELIMITERS", "Table", "parse_delimiter", "read_table"]

# Names a user may type for a delimiter, and the ones tried (in this order) when none is given.
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t"}
_DETECTED = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Cells read as a missing value rather than as text or NaN.
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_SAMPLE_LINES = 50
# Header names taken as the target when --target-column is not given (else the last column).
TARGET_NAMES = frozenset(
    {"label", "labels", "target", "y", "class", "category", "output"}
)  # lines that must agree on the number of cells for a delimiter to be detected


def parse_delimiter(text: str) -> str:
    """``--delimiter``'s value: one character, or comma / semicolon / tab (or ``\\t``)."""
    value = DELIMITERS.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise ValueError(f"expected one character or one of {sorted(DELIMITERS)}, got {text!r}")
    return value


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_missing(cell: str) -> bool:
    return cell.lower() in _MISSING


@dataclass(frozen=True)
class Table:
    """A CSV file's cells (stripped), one list per non-blank row, with their line numbers."""

    path: Path
    delimiter: str
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]

    @property
    def columns(self) -> list[str]:
        """Column names: the header's, or the indices 0, 1, … as text."""
        return self.header or [str(i) for i in range(len(self.rows[0]))]

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def fail(self, row: int, col: int | None, message: str) -> SystemExit:
        where = f"{self.path} line {self.lines[row]}"
        if col is not None:
            where += f", column {self.columns[col]!r}"
        return SystemExit(f"refbp train: {where}: {message}")

    def named_target(self) -> int | None:
        """The one header column named like a target (label, target, y, class, …), if any."""
        if self.header is None:
            return None
        hits = [i for i, name in enumerate(self.header) if name.lower() in TARGET_NAMES]
        return hits[0] if len(hits) == 1 else None

    def target_index(self, target: str | None) -> int:
        """The column ``--target-column`` names (a header name or an index); when None, the one
        column named like a target, else the last."""
        n = len(self.columns)
        if target is None:
            named = self.named_target()
            return n - 1 if named is None else named
        name = target.strip()
        if self.header is not None and name in self.header:
            return self.header.index(name)
        try:
            index = int(name)
        except ValueError:
            valid = self.header if self.header is not None else list(range(n))
            raise SystemExit(
                f"refbp train: --target-column {target!r} is not a column of {self.path}; "
                f"columns are {valid}"
            ) from None
        if not -n <= index < n:
            raise SystemExit(
                f"refbp train: --target-column {index} is out of range for {n} columns"
            )
        return index % n

    def numbers(self, col: int, what: str) -> FloatArray:
        """Column ``col`` as float64; a missing, non-numeric or infinite cell is refused."""
        out = np.empty(len(self.rows), dtype=np.float64)
        for r, row in enumerate(self.rows):
            cell = row[col]
            if _is_missing(cell):
                got = "an empty cell" if cell == "" else f"the missing value {cell!r}"
                raise self.fail(r, col, f"expected a number ({what}), got {got}; "
                                "fill it in or drop the row")  # fmt: skip
            try:
                value = float(cell)
            except ValueError:
                hint = self._hint(cell, col, what)
                raise self.fail(r, col, f"expected a number ({what}), got {cell!r}{hint}") from None
            if not math.isfinite(value):
                raise self.fail(r, col, f"expected a finite number ({what}), got {cell!r}")
            out[r] = value
        return out

    def _hint(self, cell: str, col: int, what: str) -> str:
        if _DECIMAL_COMMA.fullmatch(cell):
            return "; decimal commas are not read: write 1.5, not 1,5"
        if what == "a feature":
            return f"; if this column is the target, pass --target-column {self.columns[col]}"
        return ""

    def labels(self, col: int) -> np.ndarray:
        """The target column as it is written: int64 when every cell is an integer, float64
        when every cell is a number, else the text of each cell (class names)."""
        cells = [row[col] for row in self.rows]
        for r, cell in enumerate(cells):
            if _is_missing(cell):
                got = "an empty cell" if cell == "" else f"the missing value {cell!r}"
                raise self.fail(r, col, f"expected a target value, got {got}; "
                                "fill it in or drop the row")  # fmt: skip
        if all(_INTEGER.fullmatch(c) for c in cells):
            return np.array([int(c) for c in cells], dtype=np.int64)
        if all(_is_number(c) or _DECIMAL_COMMA.fullmatch(c) for c in cells):
            return self.numbers(col, "the target")  # a decimal comma is refused there
        return np.array(cells)


def _split_lines(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    for row in reader:
        if row and any(c.strip() for c in row):
            rows.append([c.strip() for c in row])
            lines.append(reader.line_num)
    return rows, lines


def _detect_delimiter(text: str) -> str:
    """The candidate that splits the first lines into one constant number (≥ 2) of cells;
    failing that, the one giving the first line the most cells (ragged rows are then
    reported by line)."""
    sample = "\n".join(text.splitlines()[:_SAMPLE_LINES])
    counts = {d: [len(r) for r in _split_lines(sample, d)[0]] for d in _DETECTED}
    steady = [d for d in _DETECTED if counts[d][0] >= 2 and len(set(counts[d])) == 1]
    if steady:
        return max(steady, key=lambda d: counts[d][0])
    return max(_DETECTED, key=lambda d: counts[d][0])


def _has_header(rows: list[list[str]]) -> bool:
    """The first row names the columns if none of its cells is a number, or if some column
    is text in the first row and numbers (or missing) below it."""
    first = rows[0]
    if not any(_is_number(c) for c in first):
        return True
    for col, cell in enumerate(first):
        below = [r[col] for r in rows[1:] if col < len(r)]
        if (not _is_number(cell) and not _is_missing(cell)
                and any(_is_number(c) for c in below)
                and all(_is_number(c) or _is_missing(c) for c in below)):  # fmt: skip
            return True
    return False


def read_table(path: Path, delimiter: str | None) -> Table:
    """The cells of ``path``: delimiter given or detected, header detected, rows checked to
    have as many cells as the first."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SystemExit(
            f"refbp train: cannot read {path} as UTF-8 text (byte {exc.start}); expected a CSV file"
        ) from None
    if not text.strip():
        raise SystemExit(
            f"refbp train: {path} is empty; expected a header row and rows of comma-, "
            "semicolon- or tab-separated values"
        )
    sep = delimiter or _detect_delimiter(text)
    rows, lines = _split_lines(text, sep)
    while len(rows[0]) > 1 and all(len(r) > 1 and r[-1] == "" for r in rows):
        rows = [r[:-1] for r in rows]  # a delimiter at the end of every line: no column there
    header = rows[0] if _has_header(rows) else None
    table = Table(path, sep, header, rows[1:] if header else rows, lines[1:] if header else lines)
    width = len(rows[0])
    if width < 2:
        how = (
            ""
            if delimiter
            else "; if its columns are separated by something else, pass --delimiter"
        )
        raise SystemExit(
            f"refbp train: {path} line {lines[0]}: expected at least two columns (features and "
            f"a target) separated by {table.delimiter_name}s, got one{how}"
        )
    if not table.rows:
        raise SystemExit(
            f"refbp train: {path} has a header row ({', '.join(rows[0])}) but no data rows"
        )
    for r, row in enumerate(table.rows):
        if len(row) != width:
            raise table.fail(
                r, None, f"expected {width} cells like line {lines[0]}, got {len(row)}"
            )
    return table
