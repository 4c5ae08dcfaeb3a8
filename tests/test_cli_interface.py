"""The command line as users script against it: commands, flags, defaults, choices, help.

``tests/cli_interface.json`` is the interface written down; any change to a flag, a default,
a choice list or a help text fails here until the file is regenerated on purpose::

    python tests/test_cli_interface.py      # rewrites tests/cli_interface.json

and the diff is reviewed like any other change to a public API.  The dump reads argparse's
declarations, not its formatted ``--help`` (whose layout changes between Python versions).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from refbp import cli

SNAPSHOT = Path(__file__).with_name("cli_interface.json")


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return {"Path": str(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def describe(parser: argparse.ArgumentParser | None = None) -> dict[str, Any]:
    """Every command's description and every option's declaration, as plain JSON data."""
    parser = parser or cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    out: dict[str, Any] = {
        "prog": parser.prog,
        "description": parser.description,
        "usage": parser.format_usage().strip(),
        "commands": {},
    }
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, p in sub.choices.items():
        options = []
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            options.append({
                "flags": a.option_strings,
                "dest": a.dest,
                "action": type(a).__name__,
                "default": _plain(a.default),
                "choices": _plain(a.choices),
                "nargs": a.nargs,
                "type": getattr(a.type, "__name__", a.type),
                "metavar": a.metavar,
                "required": a.required,
                "help": a.help,
            })  # fmt: skip
        out["commands"][name] = {
            "help": helps[name],
            "description": p.description,
            "options": options,
        }
    return out


def test_the_command_line_is_the_one_written_down() -> None:
    """Kills mutants of every ``add_arguments`` (a flag renamed, a default, type, choice or
    help text changed or dropped) and of ``cli.build_parser`` (prog, description, metavar,
    the command's own description)."""
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(describe()))
    assert got == want, (
        "the command line changed; if that is intended, run `python tests/test_cli_interface.py`"
        " and review the diff of tests/cli_interface.json"
    )


def test_the_snapshot_is_of_the_real_interface() -> None:
    """The snapshot is not vacuous: it holds every command and their main flags."""
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert want["prog"] == "refbp"
    assert want["usage"] == "usage: refbp [-h] COMMAND ..."
    assert set(want["commands"]) == set(cli._COMMANDS)
    flags = {c: {f for o in v["options"] for f in o["flags"]} for c, v in want["commands"].items()}
    assert {"--profile", "--json", "--report", "--jobs", "--pytest-args"} <= flags["verify"]
    assert {"--quick", "--peers", "--compare", "--out"} <= flags["bench"]
    assert {"--dataset", "--data", "--epochs", "--lr", "--save"} <= flags["train"]
    assert {"--only", "--jobs", "--list"} <= flags["mutate"]
    assert all(o["help"] for v in want["commands"].values() for o in v["options"])


def test_verify_arguments_parse_to_what_run_reads() -> None:
    args = cli.build_parser().parse_args(["verify"])
    assert (args.profile, args.json, args.report, args.jobs, args.pytest_args) == (
        "quick", None, None, None, [])  # fmt: skip
    args = cli.build_parser().parse_args(
        ["verify", "--profile", "thorough", "--json", "s.json", "--report", "r.md",
         "--jobs", "auto", "--pytest-args", "-k", "relu", "-x"]
    )  # fmt: skip
    assert args.profile == "thorough"
    assert args.json == Path("s.json") and args.report == Path("r.md")
    assert args.jobs == "auto"
    assert args.pytest_args == ["-k", "relu", "-x"]


def test_an_unknown_profile_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["verify", "--profile", "fast"])
    assert e.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(describe(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
