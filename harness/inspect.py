"""`harness inspect`: static verification of built wheels (no install, any OS)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import console
from harness.checks import run_checks
from harness.errors import UsageError
from harness.findings import Finding, Severity
from harness.fsutil import atomic_write_text
from harness.wheel import Wheel, read_wheel

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


def inspect_wheel(path: Path) -> WheelReport:
    wheel = read_wheel(path)
    findings = tuple(run_checks(wheel))
    return WheelReport(wheel=wheel, findings=findings)


def inspect_paths(paths: Sequence[str | Path]) -> InspectResult:
    files = collect_wheels(paths)
    reports = []
    progress = console.interactive() and len(files) > 3
    if progress:
        from rich.progress import Progress

        with Progress(console=console.err(), transient=True) as bar:
            task = bar.add_task("inspecting", total=len(files))
            for f in files:
                bar.update(task, description=f"inspecting {f.name}")
                reports.append(inspect_wheel(f))
                bar.advance(task)
    else:
        reports = [inspect_wheel(f) for f in files]
    return InspectResult(wheels=tuple(reports))


# ------------------------------------------------------------------ output


def render_text(result: InspectResult, out: Console | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    out = out or console.out()
    styles = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
    safe = console.sanitize
    for wr in result.wheels:
        mark = Text("FAIL", style="red") if wr.errors else Text("ok", style="green")
        out.print(Text.assemble(mark, "  ", (safe(wr.wheel.filename), "bold")))
        if not wr.findings:
            continue
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
    n_err = result.errors
    n_bad = sum(1 for w in result.wheels if w.errors)
    n_warn = sum(1 for w in result.wheels for f in w.findings if f.severity is Severity.WARNING)
    summary = (
        f"{len(result.wheels)} wheel(s) inspected: {n_bad} with errors "
        f"({n_err} error finding(s)), {n_warn} warning(s)"
    )
    out.print(f"[bold]{summary}[/bold]", highlight=False)


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


def run(args: argparse.Namespace) -> int:
    result = inspect_paths(args.paths)
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
