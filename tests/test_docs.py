"""The documentation site: every Python block of every page runs, and prints what the page shows.

Blocks of one page share a namespace and run in order in a fresh temporary directory, as a
reader would paste them.  A ```` ```text ```` block right after a ```` ```python ```` block (only
blank lines between) is that block's output, compared line by line; regenerate the outputs
on purpose with ``python tests/test_docs.py`` and review the diff.  The site itself is built
with ``mkdocs build --strict`` (warnings are errors) into a temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # of the opening fence, from 1
    span: tuple[int, int]  # of the body, in the page's text


def blocks(text: str) -> list[Block]:
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1, m.span(2))
        for m in FENCE.finditer(text)
    ]


def examples(text: str) -> list[tuple[Block, Block | None]]:
    """Each python block with the text block that shows its output, if there is one."""
    found = blocks(text)
    out: list[tuple[Block, Block | None]] = []
    for i, b in enumerate(found):
        if b.lang != "python":
            continue
        nxt = found[i + 1] if i + 1 < len(found) else None
        end_of_b = text.index("```", b.span[1]) + 3
        between = "" if nxt is None else text[end_of_b : text.rfind("\n```", 0, nxt.span[0])]
        shown = nxt if nxt is not None and nxt.lang == "text" and not between.strip() else None
        out.append((b, shown))
    return out


def _normal(output: str) -> list[str]:
    return [line.rstrip() for line in output.rstrip().splitlines()]


def run_page(page: Path, workdir: Path) -> list[tuple[Block, Block | None, str]]:
    """Run the page's python blocks in order in ``workdir``; (block, shown, printed) each."""
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    results = []
    pairs = examples(page.read_text(encoding="utf-8"))
    old = Path.cwd()
    os.chdir(workdir)
    try:
        for block, shown in pairs:
            buffer = io.StringIO()
            code = compile(block.code, f"{page.name}:{block.line}", "exec")
            with contextlib.redirect_stdout(buffer):
                exec(code, namespace)
            results.append((block, shown, buffer.getvalue()))
    finally:
        os.chdir(old)
    return results


PAGES = sorted(DOCS.glob("**/*.md"))


def test_the_site_has_its_pages() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"index.md", "tutorial.md", "chain-rule.md", "conventions.md", "verification.md",
            "reports.md", "contract.md", "api.md"} <= names  # fmt: skip
    assert sum(len(examples(p.read_text(encoding="utf-8"))) for p in PAGES) >= 15


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_code_block_runs_and_prints_what_the_page_shows(page: Path, tmp_path: Path) -> None:
    for block, shown, printed in run_page(page, tmp_path):
        if shown is not None:
            assert _normal(printed) == _normal(shown.code), (
                f"{page.name}:{block.line}: the output shown differs from what the block "
                "prints; if intended, run `python tests/test_docs.py` and review the diff"
            )


def test_the_block_reader_pairs_outputs_exactly() -> None:
    text = (
        "# t\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\nprose\n\n"
        "```python\nx = 2\n```\n\nsome words\n\n```text\nnot an output\n```\n"
        "```sh\nrefbp --version\n```\n"
    )
    pairs = examples(text)
    assert [(b.code, s.code if s else None) for b, s in pairs] == [
        ("print(1)\n", "1\n"),
        ("x = 2\n", None),  # prose between: the text block is not its output
    ]
    assert [b.lang for b in blocks(text)] == ["python", "text", "python", "text", "sh"]
    assert pairs[0][0].line == 3


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner about MkDocs 2
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index", "tutorial", "chain-rule", "conventions", "verification", "reports",
                 "contract", "api"):  # fmt: skip
        html = site / (f"{page}/index.html" if page != "index" else "index.html")
        assert html.is_file(), page
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "MLP.backprop" in api and "Pull δ = dC/dz" in api  # from the docstrings


def _write_outputs() -> None:
    """Fill every output block with what its python block prints now."""
    import tempfile

    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            results = run_page(page, Path(tmp))
        spans = [(shown.span, printed) for _, shown, printed in results if shown is not None]
        for (a, b), printed in sorted(spans, reverse=True):  # from the end: spans stay valid
            text = text[:a] + "\n".join(_normal(printed)) + "\n" + text[b:]
        page.write_text(text, encoding="utf-8")
        print(f"wrote the outputs of {page.relative_to(REPO)}", file=sys.stderr)


def test_the_licence_is_the_one_the_project_declares() -> None:
    import tomllib

    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 refbp contributors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == {"text": "MIT"}


if __name__ == "__main__":
    _write_outputs()
