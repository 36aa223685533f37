"""The one output channel: human messages on stderr (rich), machine output on stdout.

Both consoles have rich markup off: strings from wheels, servers and smoke runs are data
(a member named `pkg/[/oops].py` must print as itself); styled output uses rich Text.

Honours NO_COLOR, FORCE_COLOR and CI (rich reads NO_COLOR/FORCE_COLOR itself; in CI we
never draw progress bars, only plain lines).
"""

from __future__ import annotations

import os
import sys
from functools import cache

from rich.console import Console


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@cache
def err() -> Console:
    """Console for humans (stderr). Colour follows NO_COLOR / FORCE_COLOR / TTY."""
    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


@cache
def out() -> Console:
    """Console for the command's own result (stdout); wide when piped to a file or CI log."""
    width = None if sys.stdout.isatty() else 160
    return Console(highlight=False, width=width, markup=False)


def interactive() -> bool:
    """Whether to draw progress bars: a real terminal and not CI."""
    return err().is_terminal and not in_ci()


def info(message: str) -> None:
    err().print(message, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    err().print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


def fail(message: str) -> None:
    """The one-line cause printed by __main__ before a non-zero exit."""
    err().print(f"harness: error: {message}", style="bold red", markup=False, soft_wrap=True)


def write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
