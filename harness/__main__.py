"""Command line. The one place that turns a HarnessError into a printed line + exit code.

Each command lives in a module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
COMMANDS below maps command names to those modules (imported lazily so ``--help`` and
``inspect`` never pay for docker/boto3 imports).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
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
    "plan": "harness.ci.cli",
    "verify": "harness.verify.cli",
    "merge": "harness.report.merge",
    "promote": "harness.promote.cli",
    "ci": "harness.ci.workflow",
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


class _ClosedStream(io.TextIOBase):
    """Stands in for a standard stream the harness was started without (``>&-``)."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _is_stdout_error(exc: OSError) -> bool:
    if exc.filename is not None:
        return False
    return isinstance(exc, BrokenPipeError) or exc.errno in (errno.ENOSPC, errno.EBADF, errno.EIO)


def _quiet_stdout() -> None:
    """After a failed write to stdout: no second error when Python flushes it at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _fail(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be gone
        console.fail(message)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `timeout`, `kill`): unwound as Ctrl-C is, so builds
    kill their scripts, verify removes its containers, promote closes its journal."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    try:
        with _sigterm_unwinds():
            code = int(args._run(args))
        sys.stdout.flush()
    except HarnessError as exc:
        _fail(str(exc))
        return int(exc.exit_code)
    except Terminated:
        _fail("terminated")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except RecursionError:
        _fail("input nested too deeply to read")
        return int(ExitCode.USAGE)
    except OSError as exc:
        # Anything the OS refused that no command turned into its own message: stdout on
        # /dev/full, closed or a broken pipe; a path too long; a directory where a file was
        # expected. One line, the contract's code, never a traceback.
        if _is_stdout_error(exc):
            _quiet_stdout()
            _fail(f"cannot write to standard output: {exc.strerror or exc}")
            return int(ExitCode.INFRA)
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
        return int(ExitCode.USAGE)
    except Exception as exc:  # a bug of ours: still one line (HARNESS_DEBUG=1: the traceback)
        if os.environ.get("HARNESS_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (HARNESS_DEBUG=1 shows where)")
        return int(ExitCode.INFRA)
    return code


if __name__ == "__main__":
    sys.exit(main())
