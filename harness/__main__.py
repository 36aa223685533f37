"""Command line. The one place that turns a HarnessError into a printed line + exit code.

Each command lives in a module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
COMMANDS below maps command names to those modules (imported lazily so ``--help`` and
``inspect`` never pay for docker/boto3 imports).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from harness import __version__, console
from harness.errors import ExitCode, HarnessError


class CommandModule(Protocol):
    HELP: str
    DESCRIPTION: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# name -> module implementing it. Order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "inspect": "harness.inspect",
    "envs": "harness.envs.cli",
    "coverage": "harness.coverage",
    "verify": "harness.verify.cli",
    "promote": "harness.promote.cli",
    "sweep": "harness.sweep.cli",
    "history": "harness.sweep.history_cli",
}


class _Parser(argparse.ArgumentParser):
    """argparse that exits with the contract's usage code (2) and one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        console.fail(f"{self.prog}: {message} (see '{self.prog} --help')")
        raise SystemExit(ExitCode.USAGE)


def _selected(argv: Sequence[str]) -> str | None:
    """The command named on the command line (first non-option word), if any."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``argv``, only the named command's module is imported."""
    parser = _Parser(
        prog="harness",
        description=(
            "The release gate for compiled Python wheels: inspect them statically, install "
            "them in the environments their tags promise, smoke-test them, report, promote."
        ),
        epilog=(
            "exit codes: 0 all good, 1 the wheels fail, 2 usage or input error, "
            "3 infrastructure error.\n"
            "example: harness inspect dist/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    selected = _selected(argv) if argv is not None else None
    for name, modname in COMMANDS.items():
        if selected is not None and name != selected:
            sub.add_parser(name)  # keeps the choice valid without importing its module
            continue
        module = cast(CommandModule, importlib.import_module(modname))
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    try:
        return int(args._run(args))
    except HarnessError as exc:
        console.fail(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        console.fail("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
