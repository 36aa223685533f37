"""`harness inspect`: static verification of built wheels (no install, any OS)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import console
from harness.checks import run_checks
from harness.checks.options import CheckOptions
from harness.errors import UsageError
from harness.findings import Finding, Severity, error
from harness.fsutil import atomic_write_text
from harness.wheel import DEFAULT_LIMITS, Limits, Wheel, read_wheel

if TYPE_CHECKING:
    from rich.console import Console

SCHEMA = "harness-inspect/1"

HELP = "statically verify wheels: archive, RECORD, METADATA, tags, binaries"
DESCRIPTION = """\
Prove that every wheel is what its file name and tags say, without installing it:
archive safety, RECORD hashes, WHEEL/METADATA against the file name, tags (PEP 425/600/656),
and every ELF, Mach-O and PE binary against its tags (architecture, glibc/musl, symbol
versions vs the manylinux policy, macOS minimum version, linked libraries and DLLs).

PATH is a .whl file or a directory of wheels (not recursive).
exit codes: 0 no error finding, 1 error findings, 2 bad input (missing path, no wheels).

examples:
  harness inspect dist/
  harness inspect dist/*.whl --format json --output inspect.json
"""


@dataclass(frozen=True, kw_only=True)
class WheelReport:
    wheel: Wheel
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.wheel.filename,
            "path": str(self.wheel.path.resolve()),
            "sha256": self.wheel.sha256,
            "tags": self.wheel.tag_strings,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True, kw_only=True)
class InspectResult:
    wheels: tuple[WheelReport, ...]

    @property
    def errors(self) -> int:
        return sum(w.errors for w in self.wheels)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "wheels": [w.to_json() for w in self.wheels]}


def collect_wheels(paths: Iterable[str | Path]) -> list[Path]:
    """Expand PATH arguments into wheel files; bad paths are UsageErrors (exit 2)."""
    found: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            wheels = sorted(x for x in p.iterdir() if x.suffix == ".whl" and x.is_file())
            if not wheels:
                problems.append(f"{p}: no .whl files in this directory")
            found.extend(wheels)
        elif p.is_file():
            if p.suffix != ".whl":
                problems.append(f"{p}: not a wheel (expected a .whl file)")
            else:
                found.append(p)
        elif p.exists():
            problems.append(f"{p}: not a file or directory")
        else:
            problems.append(f"{p}: no such file or directory")
    if problems:
        raise UsageError("; ".join(problems))
    if not found:
        raise UsageError("no wheels given")
    seen: set[Path] = set()
    unique = []
    for w in found:
        key = w.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(w)
    return unique


MAX_FINDINGS_PER_CODE = 50  # more of one code in one wheel are summarised in one finding
BUDGET_ENV = "HARNESS_INSPECT_SECONDS"


class BudgetExceeded(BaseException):
    """Raised (from SIGALRM) inside whatever a wheel's inspection is doing. A BaseException
    so no check's ``except Exception`` swallows it."""


@contextlib.contextmanager
def _time_budget(seconds: float) -> Iterator[None]:
    """Interrupt the body after ``seconds`` of wall time (main thread on POSIX; elsewhere
    the parsers' own bounds are the budget)."""
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise BudgetExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def budget_seconds(limits: Limits = DEFAULT_LIMITS) -> float:
    raw = os.environ.get(BUDGET_ENV, "")
    if not raw:
        return limits.max_seconds
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{BUDGET_ENV}={raw!r}: expected a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{BUDGET_ENV}={raw!r}: expected a number of seconds > 0")
    return value


def cap_findings(
    findings: Iterable[Finding], per_code: int = MAX_FINDINGS_PER_CODE
) -> list[Finding]:
    """At most ``per_code`` findings of each code; the rest summarised in one more."""
    kept: list[Finding] = []
    counts: Counter[str] = Counter()
    first: dict[str, Finding] = {}
    for f in findings:
        counts[f.code] += 1
        first.setdefault(f.code, f)
        if counts[f.code] <= per_code:
            kept.append(f)
    for code, n in counts.items():
        if n > per_code:
            kept.append(
                Finding(
                    code=code,
                    severity=max((f.severity for f in kept if f.code == code), key=_rank),
                    message=f"... and {n - per_code} more {code} finding(s) in this wheel "
                    f"({n} in all; the first {per_code} are listed)",
                    path=None,
                    evidence={"total": n, "listed": per_code},
                )
            )
    return kept


def _rank(severity: Severity) -> int:
    return {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}[severity]


def inspect_wheel(
    path: Path, limits: Limits = DEFAULT_LIMITS, options: CheckOptions | None = None
) -> WheelReport:
    """Every finding of one wheel, within its time budget (``HARNESS_INSPECT_SECONDS``,
    default ``Limits.max_seconds``) and memory bounds (``Limits``); a wheel over budget gets
    a harness.budget finding, and the next wheel starts afresh."""
    seconds = budget_seconds(limits)
    collected: list[Finding] = []
    wheel: Wheel | None = None
    try:
        with _time_budget(seconds):
            wheel = read_wheel(path, limits)
            for f in run_checks(wheel, options):
                collected.append(f)
    except BudgetExceeded:
        collected.append(
            error(
                "harness.budget",
                f"inspection stopped after {seconds:g} s (the per-wheel time budget, "
                f"{BUDGET_ENV}); findings so far are listed, the rest was not checked",
                seconds=seconds,
            )
        )
    finally:
        clear_caches()
    if wheel is None:
        wheel = _unread(path)
    # the bytes were for the checks; holding them for the whole run costs memory per wheel
    wheel = replace(wheel, contents={})
    return WheelReport(wheel=wheel, findings=tuple(cap_findings(collected)))


def _unread(path: Path) -> Wheel:
    from harness.promote.snapshot import NotTaken, hash_regular

    try:
        digest, size = hash_regular(path)
    except NotTaken:
        digest, size = "", 0
    return Wheel(
        path=path, filename=path.name, sha256=digest, size=size, name=None, version=None,
        build=None, tags=frozenset(), members=(), contents={}, load_findings=(),
        readable=False,
    )  # fmt: skip


def clear_caches() -> None:
    """The binary parsers cache by content: drop it between wheels (bounded memory)."""
    from harness.checks import binfmt

    for fn in (binfmt.elf_file, binfmt.elf_info, binfmt.macho_info, binfmt.pe_file, binfmt.pe_info):
        fn.cache_clear()


def inspect_paths(
    paths: Sequence[str | Path], options: CheckOptions | None = None, *, progress: bool = True
) -> InspectResult:
    """Inspect every wheel of ``paths``; ``progress``: a progress bar on a terminal (off
    when another live display, verify's cells, is on)."""
    files = collect_wheels(paths)
    reports = []
    progress = progress and console.interactive() and len(files) > 3
    if progress:
        from rich.markup import escape
        from rich.progress import Progress

        with Progress(console=console.err(), transient=True) as bar:
            task = bar.add_task("inspecting", total=len(files))
            for f in files:
                bar.update(task, description=f"inspecting {escape(f.name)}")
                reports.append(inspect_wheel(f, options=options))
                bar.advance(task)
    else:
        reports = [inspect_wheel(f, options=options) for f in files]
    return InspectResult(wheels=tuple(reports))


# ------------------------------------------------------------------ output


def render_text(result: InspectResult, out: Console | None = None) -> None:
    """Findings as text. Everything from a wheel (file and member names, messages that
    quote them) is data: Text objects, never parsed as rich markup."""
    from rich.table import Table
    from rich.text import Text

    out = out or console.out()
    styles = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
    safe = console.sanitize
    # the lines of wheels without findings are printed together: one print per wheel is
    # most of the rendering cost of a release (rich renders each print on its own)
    lines: list[Text] = []
    for wr in result.wheels:
        mark = Text("FAIL", style="red") if wr.errors else Text("ok", style="green")
        lines.append(Text.assemble(mark, "  ", (safe(wr.wheel.filename), "bold")))
        if not wr.findings:
            continue
        out.print(Text("\n").join(lines))
        lines = []
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("severity")
        table.add_column("code")
        table.add_column("path", no_wrap=True)
        table.add_column("message", overflow="fold")
        for f in wr.findings:
            table.add_row(
                Text(str(f.severity), style=styles[f.severity]),
                Text(safe(f.code)),
                Text(safe(f.path or "")),
                Text(safe(f.message)),
                end_section=False,
            )
        out.print(table)
    if lines:
        out.print(Text("\n").join(lines))
    n_err = result.errors
    n_bad = sum(1 for w in result.wheels if w.errors)
    n_warn = sum(1 for w in result.wheels for f in w.findings if f.severity is Severity.WARNING)
    summary = (
        f"{len(result.wheels)} wheel(s) inspected: {n_bad} with errors "
        f"({n_err} error finding(s)), {n_warn} warning(s)"
    )
    out.print(Text(summary, style="bold"), highlight=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="wheel file or directory")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (text)"
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="write the result to FILE (atomically) instead of stdout",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="pyproject.toml whose [tool.harness] macos-minor-version applies (default: "
        "./pyproject.toml if its [project] name is the wheels' distribution)",
    )
    from harness.config import add_macos_minor_argument

    add_macos_minor_argument(parser)


def run(args: argparse.Namespace) -> int:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    from harness import config as config_mod

    names = set()
    for p in collect_wheels(args.paths):
        try:
            names.add(str(parse_wheel_filename(p.name)[0]))
        except InvalidWheelFilename:
            continue
    cfg, _note = config_mod.load_for(
        args.config or Path("pyproject.toml"),
        explicit=args.config is not None,
        distributions=names,
        require_name=True,
    )
    severity = args.macos_minor_version or cfg.macos_minor_version
    result = inspect_paths(args.paths, CheckOptions(macos_minor_version=Severity(severity)))
    if args.format == "json":
        text = json.dumps(result.to_json(), indent=2) + "\n"
        if args.output:
            atomic_write_text(args.output, text)
        else:
            console.write_stdout(text)
    elif args.output:
        import io

        from rich.console import Console

        buf = io.StringIO()
        render_text(result, Console(file=buf, width=120, no_color=True, highlight=False))
        atomic_write_text(args.output, buf.getvalue())
    else:
        render_text(result)
    return 1 if result.errors else 0
