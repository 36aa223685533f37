"""The one output channel: human messages on stderr (rich), machine output on stdout.

Both consoles have rich markup off: strings from wheels, servers and smoke runs are data
(a member named `pkg/[/oops].py` must print as itself); styled output uses rich Text.

Honours NO_COLOR, FORCE_COLOR and CI (rich reads NO_COLOR/FORCE_COLOR itself; in CI we
never draw progress bars, only plain lines).
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache

from rich.console import Console

from harness.redact import redact

# C0 controls (newline, CR, ESC, NUL, ...), DEL, C1 controls, line/paragraph separators and
# the bidirectional overrides (text that reads differently than it runs): never printed raw.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# A GitHub Actions workflow command ("::error file=x::text", "::stop-commands::tok"): at the
# start of the line, or a known command name anywhere (a CI log would run it).
_COMMANDS = (
    "error|warning|notice|debug|group|endgroup|add-mask|stop-commands|set-output|set-env|"
    "add-path|save-state|add-matcher|remove-matcher|echo"
)
_WORKFLOW = re.compile(rf"^(\s*)::|::(?=(?:{_COMMANDS})(?:\s[^:]*)?::)", re.IGNORECASE)


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


_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def sanitize(text: str) -> str:
    """``text`` as one safe printable line: secrets masked, control characters (newline,
    ESC, NUL, bidi overrides) shown escaped, CI workflow commands (``::error::``) defused.

    Every string from a wheel, an index, a smoke run or a report goes through this before
    it reaches a terminal or a CI log."""
    text = _UNSAFE.sub(_escape, redact(text))
    return _WORKFLOW.sub(lambda m: f"{m.group(1) or ''}: :", text) if "::" in text else text


def line(message: str, *, stdout: bool = False, style: str | None = None) -> None:
    """Print one sanitized line (stderr by default) with no markup interpretation."""
    (out() if stdout else err()).print(
        sanitize(message), style=style, markup=False, highlight=False, soft_wrap=True
    )


def info(message: str) -> None:
    line(message)


def warn(message: str) -> None:
    line(f"warning: {message}", style="yellow")


def fail(message: str) -> None:
    """The one-line cause printed by __main__ before a non-zero exit."""
    line(f"harness: error: {message}", style="bold red")


def write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
