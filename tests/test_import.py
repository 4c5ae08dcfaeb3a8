"""refbp is a NumPy library: it imports, trains and runs ``refbp train`` with JAX absent.

The runtime check runs in a fresh interpreter whose import system refuses ``jax``,
``jaxlib`` and ``oracle``; the static check reads refbp's sources: the library modules never
import them, and the tooling (``refbp_tools``) may do so only inside functions (lazily),
because ``refbp.cli`` imports every command module to build its parser.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np

import refbp

FORBIDDEN = ("jax", "jaxlib", "oracle")
#: the import name of every optional dependency (pyproject's extras): the commands' modules
#: may import these only inside functions too, since an install has only some extras (the
#: README's first line installs [verify], which has no pytest-benchmark)
OPTIONAL_IMPORTS = {
    "jax": "jax", "jaxlib": "jaxlib", "hypothesis": "hypothesis", "mpmath": "mpmath",
    "scikit-learn": "sklearn", "matplotlib": "matplotlib", "rich": "rich", "pytest": "pytest",
    "pytest-benchmark": "pytest_benchmark", "pytest-xdist": "xdist",
    "threadpoolctl": "threadpoolctl", "torch": "torch", "mutmut": "mutmut", "ruff": "ruff",
    "mypy": "mypy", "mkdocs": "mkdocs", "mkdocs-material": "material",
    "mkdocstrings": "mkdocstrings",
}  # fmt: skip
PACKAGE = Path(refbp.__file__).resolve().parent
REPO = PACKAGE.parent

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, runpy, sys

    FORBIDDEN = {forbidden!r}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in FORBIDDEN:
                raise ImportError(f"{{name}} is blocked: refbp must work without it")
            return None

    sys.meta_path.insert(0, Refuse())
    try:
        import jax  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the blocker does not work")

    import numpy as np
    import refbp

    net = refbp.MLP.init([4, 8, 3], ["relu", "identity"], "softmax_cross_entropy", seed=0)
    X = np.random.default_rng(0).normal(size=(5, 4))
    Y = np.eye(3)[[0, 1, 2, 0, 1]]
    bp = net.backprop(X, Y)
    assert [d.shape for d in bp.deltas] == [(5, 8), (5, 3)]
    history = refbp.train(net, X, Y, lr=0.1, batch_size=2, epochs=3, seed=0)
    assert len(history) == 3
    refbp.load(refbp.save(net, "net.npz"))

    sys.argv = ["refbp", "train", "--data", "small.npz", "--out", "out", "--epochs", "3"]
    try:
        runpy.run_module("refbp.cli", run_name="__main__")
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in FORBIDDEN)
    assert not loaded, loaded
    print("OK")
    """
)


def test_refbp_works_with_jax_blocked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    np.savez(tmp_path / "small.npz", X=X, y=(X[:, 0] > 0).astype(int))
    path = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(forbidden=FORBIDDEN)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK"), result.stdout
    summary = json.loads((tmp_path / "out" / "train-small.json").read_text())
    assert summary["loss"] == "softmax_cross_entropy" and 0.0 <= summary["test_accuracy"] <= 1.0
    assert (tmp_path / "out" / "train-small.png").is_file()


def _imports(tree: ast.AST, *, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, module) of every import in ``tree`` (or only those outside function bodies),
    including importlib.import_module("...") / __import__("...") with a literal name."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return  # a lazy import inside a function is allowed
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            return  # imports for type checkers never run
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.append((node.lineno, str(arg.value)))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _violations(
    paths: list[Path], *, top_level_only: bool, forbidden: tuple[str, ...] = FORBIDDEN
) -> list[str]:
    bad = []
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, module in _imports(tree, top_level_only=top_level_only):
            if module.partition(".")[0] in forbidden:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return bad


def test_library_modules_never_import_jax_or_oracle() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert PACKAGE / "network.py" in modules and PACKAGE / "cli.py" in modules
    assert _violations(modules, top_level_only=False) == []


def test_commands_import_oracle_and_optional_dependencies_only_inside_functions() -> None:
    modules = sorted((REPO / "refbp_tools").rglob("*.py"))
    assert REPO / "refbp_tools" / "train" / "__init__.py" in modules
    forbidden = (*FORBIDDEN, *OPTIONAL_IMPORTS.values())
    assert _violations(modules, top_level_only=True, forbidden=forbidden) == []


def test_every_optional_dependency_has_its_import_name_listed() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {
        re.split(r"[\[<>=!~ ]", req, maxsplit=1)[0] for reqs in extras.values() for req in reqs
    }
    assert names == set(OPTIONAL_IMPORTS)


def test_the_import_check_can_fail() -> None:
    tree = ast.parse(
        "import jax.numpy as jnp\nfrom oracle import network\n"
        "def f():\n    import jax\n    importlib.import_module('oracle.fast')\n"
    )
    assert [m for _, m in _imports(tree, top_level_only=True)] == ["jax.numpy", "oracle"]
    assert [m for _, m in _imports(tree, top_level_only=False)] == [
        "jax.numpy", "oracle", "jax", "oracle.fast",
    ]  # fmt: skip
