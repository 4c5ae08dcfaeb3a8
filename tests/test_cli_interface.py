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


def _options(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    options = []
    for a in parser._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
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
    return options


def describe(parser: argparse.ArgumentParser | None = None) -> dict[str, Any]:
    """Every command's description and every option's declaration, as plain JSON data."""
    parser = parser or cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    out: dict[str, Any] = {
        "prog": parser.prog,
        "description": parser.description,
        "epilog": parser.epilog,
        "usage": parser.format_usage().strip(),
        "options": _options(parser),
        "commands": {},
    }
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, p in sub.choices.items():
        out["commands"][name] = {
            "help": helps[name],
            "description": p.description,
            "options": _options(p),
        }
    return out


def test_the_command_line_is_the_one_written_down() -> None:
    """Every ``add_arguments`` (each flag's name, default, type, choices and help text) and
    ``cli.build_parser`` (prog, description, metavar, each command's own description) as
    recorded in tests/cli_interface.json."""
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
    assert want["usage"] == "usage: refbp [-h] [--version] COMMAND ..."
    assert [o["flags"] for o in want["options"]] == [["--version"]]
    assert set(want["commands"]) == set(cli._COMMANDS)
    flags = {c: {f for o in v["options"] for f in o["flags"]} for c, v in want["commands"].items()}
    assert {"--target", "--activations", "--losses", "--dtypes", "--max-examples", "--profile", "--json", "--expect-failures"} <= flags["verify"]
    assert {"--quick", "--peers", "--compare", "--out"} <= flags["bench"]
    assert {"--dataset", "--data", "--epochs", "--lr", "--save"} <= flags["train"]
    assert {"--target-column", "--target", "--task", "--delimiter"} <= flags["train"]
    assert {"--only", "--jobs", "--list"} <= flags["mutate"]
    assert all(o["help"] for v in want["commands"].values() for o in v["options"])


def test_verify_arguments_parse_to_what_run_reads() -> None:
    args = cli.build_parser().parse_args(["verify"])
    assert (args.target, args.profile, args.json, args.out, args.max_examples) == (
        "refbp:MLP", "quick", None, Path(".refbp"), None)  # fmt: skip
    assert (args.activations, args.losses, args.dtypes, args.expect_failures) == (None,) * 4
    args = cli.build_parser().parse_args(
        ["verify", "--target", "m:make", "--profile", "thorough", "--json", "s.json",
         "--activations", "relu, tanh", "--losses", "mse", "--dtypes", "float32",
         "--max-examples", "7", "--expect-failures", "pins.txt", "--out", "o", "--no-exact"]
    )  # fmt: skip
    assert (args.target, args.profile, args.json) == ("m:make", "thorough", Path("s.json"))
    assert (args.activations, args.losses, args.dtypes) == (["relu", "tanh"], ["mse"], ["float32"])
    assert (args.max_examples, args.expect_failures, args.out, args.no_exact) == (
        7, Path("pins.txt"), Path("o"), True)  # fmt: skip


def test_an_unknown_profile_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["verify", "--profile", "fast"])
    assert e.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import refbp

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"refbp {refbp.__version__}\n" == "refbp 0.1.0\n"


def test_the_installed_command_answers_version_and_help() -> None:
    import subprocess

    run = [sys.executable, "-m", "refbp.cli"]
    done = subprocess.run([*run, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout == "refbp 0.1.0\n" and done.stderr == ""
    done = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("usage: refbp [-h] [--version] COMMAND ...")


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--help"])
    assert e.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse's wrapping undone


def test_top_level_help_reads_as_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help([], capsys)
    description = " ".join(cli._DESCRIPTION.split())
    assert description in text and description.endswith(".")
    assert description.startswith("refbp is ") and "``" not in text
    assert all(f"`refbp {name}`" in description for name in cli._COMMANDS)
    assert "commands: COMMAND" in text and "--version show program's version number" in text
    assert text.endswith("Run `refbp COMMAND --help` for a command's options and their defaults.")


def test_train_help_shows_every_default_and_the_activation_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import refbp

    text = _help(["train"], capsys)
    assert f"one of {', '.join(refbp.ACTIVATIONS)} (default: tanh)" in text
    for shown in ("(default: [128])", "passes over the training split (default: 30)",
                  "SGD learning rate (default: 0.1)", "(default: 32)", "(default: 0.9)",
                  "(default: 0.0001)", "(default: 0.25)", "(default: float64)",
                  "(default: 0)", "(default: .refbp)", "(default: a column named label, target, y or class, else the last)",
                  "(default: detected among comma, semicolon and tab)",
                  "--target-column NAME|INDEX, --target NAME|INDEX"):  # fmt: skip
        assert shown in text, shown
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for a in sub.choices["train"]._actions:  # every option with a default says it
        if a.default not in (None, argparse.SUPPRESS) and a.option_strings:
            assert "(default: " in str(a.help), a.option_strings


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(describe(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
