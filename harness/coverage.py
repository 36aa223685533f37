"""EnvSpec tags x wheels -> the file pip would install in each env, gaps, untested wheels.

The pick follows pip's own ranking (pip/_internal/index/package_finder.py,
``CandidateEvaluator._sort_key``): among the files whose tags the env supports, the
highest version wins (pre-releases only when no final release is compatible), then the
most preferred tag (lowest index in the env's tag list, which is pip's own list as
probed inside the env), then the highest build tag. sdists are not considered: the
harness only ever installs wheels.

``Requires-Python``: pip learns it from the wheel's METADATA after choosing a candidate
and then backtracks to the next one; so a wheel whose Requires-Python excludes the env's
Python is skipped here too (read from METADATA when the wheel file is at hand).
"""

from __future__ import annotations

import argparse
import email.parser
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    parse_wheel_filename,
)
from packaging.version import Version

from harness.envs.base import EnvSpec, Probe
from harness.errors import ExitCode, InfraError, UsageError

SCHEMA = "harness-coverage/1"


@dataclass(frozen=True, kw_only=True)
class WheelFile:
    filename: str
    project: NormalizedName
    version: Version
    build: BuildTag
    tags: frozenset[Tag]
    requires_python: SpecifierSet | None = None


@dataclass(frozen=True, kw_only=True)
class EnvPick:
    env: str
    python: str
    platform: str
    project: str
    picked: str | None  # None: a gap, no wheel of this project installs here


@dataclass(frozen=True, kw_only=True)
class Coverage:
    envs: tuple[EnvPick, ...]
    untested: tuple[str, ...]

    @property
    def gaps(self) -> tuple[EnvPick, ...]:
        return tuple(e for e in self.envs if e.picked is None)

    def to_json(self) -> dict[str, object]:
        multi = len({e.project for e in self.envs}) > 1
        envs: list[dict[str, object]] = []
        for e in self.envs:
            row: dict[str, object] = {
                "name": e.env,
                "python": e.python,
                "platform": e.platform,
                "picked": e.picked,
            }
            if multi:
                row["project"] = e.project
            envs.append(row)
        return {"schema": SCHEMA, "envs": envs, "untested": list(self.untested)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def parse_wheel(filename: str, requires_python: SpecifierSet | None = None) -> WheelFile:
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise UsageError(f"{filename}: not a valid wheel file name ({exc})") from exc
    return WheelFile(
        filename=filename,
        project=name,
        version=version,
        build=build,
        tags=tags,
        requires_python=requires_python,
    )


METADATA_LIMIT = 4 * 1024 * 1024


def read_requires_python(path: Path) -> SpecifierSet | None:
    """``Requires-Python`` from the wheel's .dist-info/METADATA; None if absent/unreadable
    (inspect reports unreadable wheels; coverage only ranks file names then)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [
                i
                for i in archive.infolist()
                if i.filename.count("/") == 1
                and i.filename.endswith(".dist-info/METADATA")
                and i.file_size <= METADATA_LIMIT
            ]
            if len(infos) != 1:
                return None
            text = archive.read(infos[0]).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return None
    header = text.split("\n\n", 1)[0]
    value = email.parser.HeaderParser().parsestr(header).get("Requires-Python")
    if not value:
        return None
    try:
        return SpecifierSet(str(value))
    except InvalidSpecifier:
        return None


def collect(paths: Iterable[Path]) -> list[WheelFile]:
    """Wheels named on the command line: files, or directories of *.whl (not recursive)."""
    found: list[WheelFile] = []
    for path in paths:
        if path.is_dir():
            names = sorted(p.name for p in path.glob("*.whl") if p.is_file())
            if not names:
                raise UsageError(f"{path}: no *.whl files in this directory")
            found.extend(parse_wheel(n, read_requires_python(path / n)) for n in names)
        elif path.is_file():
            if path.suffix != ".whl":
                raise UsageError(f"{path}: not a wheel (.whl) file")
            found.append(parse_wheel(path.name, read_requires_python(path)))
        else:
            raise UsageError(f"{path}: no such file or directory")
    seen: set[str] = set()
    unique = []
    for w in found:
        if w.filename not in seen:
            seen.add(w.filename)
            unique.append(w)
    return unique


def _support_index(wheel: WheelFile, priority: dict[Tag, int]) -> int | None:
    indexes = [priority[t] for t in wheel.tags if t in priority]
    return min(indexes) if indexes else None


def pick(
    wheels: Sequence[WheelFile], tags: Sequence[str], python_version: str | None = None
) -> WheelFile | None:
    """The wheel pip would install from ``wheels`` (one project) given the env's tag list
    (and, when given, its full Python version for Requires-Python)."""
    priority: dict[Tag, int] = {}
    for i, text in enumerate(tags):
        for tag in parse_tag(text):
            priority.setdefault(tag, i)
    ranked: list[tuple[Version, int, BuildTag, WheelFile]] = []
    for wheel in wheels:
        index = _support_index(wheel, priority)
        if (
            index is not None
            and python_version is not None
            and wheel.requires_python is not None
            and not wheel.requires_python.contains(python_version, prereleases=True)
        ):
            index = None
        if index is not None:
            ranked.append((wheel.version, -index, wheel.build, wheel))
    if not ranked:
        return None
    finals = [r for r in ranked if not r[0].is_prerelease]
    pool = finals or ranked
    return max(pool, key=lambda r: r[:3])[3]


def compute(wheels: Sequence[WheelFile], envs: Sequence[tuple[EnvSpec, Probe]]) -> Coverage:
    by_project: dict[NormalizedName, list[WheelFile]] = {}
    for wheel in wheels:
        by_project.setdefault(wheel.project, []).append(wheel)
    picks: list[EnvPick] = []
    used: set[str] = set()
    for spec, probe in envs:
        for project, group in by_project.items():
            # pip compares Requires-Python with sys.version_info[:3] ("3.14.0", no "rc1")
            numeric = re.match(r"\d+(\.\d+)*", probe.python_version)
            chosen = pick(group, probe.tags, numeric.group(0) if numeric else None)
            if chosen is not None:
                used.add(chosen.filename)
            picks.append(
                EnvPick(
                    env=spec.name,
                    python=probe.python_short,
                    platform=probe.platform,
                    project=project,
                    picked=chosen.filename if chosen else None,
                )
            )
    untested = tuple(w.filename for w in wheels if w.filename not in used)
    return Coverage(envs=tuple(picks), untested=untested)


# ---------------------------------------------------------------- `harness coverage`

HELP = "which wheel pip would install in each env of a matrix, gaps, untested wheels"
DESCRIPTION = """\
For every env of the matrix: the file pip would install there, from the env's real tag
list (probed inside it with pip) and pip's order of preference, or a gap; then every
wheel that no env exercises. Envs whose images are missing are built first (--no-build:
fail instead). JSON (--format json) is the contract:

  {"schema": "harness-coverage/1",
   "envs": [{"name", "python", "platform", "picked": filename|null}],
   "untested": [filename, ...]}

exit 0, or 1 with --strict when there is a gap or an untested wheel.

examples:
  harness coverage dist/                          # this machine's interpreter
  harness coverage dist/ --matrix linux --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEELS", help="wheels or dirs")
    parser.add_argument(
        "--matrix",
        "-m",
        metavar="M",
        default="host",
        help="a matrix in matrices/ or a .toml path (default: host, this machine)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--no-build", action="store_true", help="fail if an image is missing")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on a gap or an untested wheel"
    )


def run(args: argparse.Namespace) -> int:
    from harness import console, matrix
    from harness.envs import environment

    wheels = collect(args.wheels)
    m = matrix.load(args.matrix)
    probed: list[tuple[EnvSpec, Probe]] = []
    for spec in m.envs:
        env = environment(spec)
        if not args.no_build:
            env.prepare(log=console.info)
        elif not env.is_ready():
            raise InfraError(
                f"env {spec.name}: image {env.image} is not built "
                f"(run `harness envs build {spec.name}`)"
            )
        probed.append((spec, env.probe()))
    result = compute(wheels, probed)
    if args.format == "json":
        console.write_stdout(result.dumps())
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("env", "python", "platform", "installs"):
            table.add_column(column)
        multi = len({e.project for e in result.envs}) > 1
        safe = console.sanitize  # wheel file names are data, never markup or control codes
        for e in result.envs:
            label = f"{e.env} [{e.project}]" if multi else e.env
            picked = (
                Text(safe(e.picked))
                if e.picked
                else Text("GAP: no wheel installs here", style="red")
            )
            table.add_row(Text(safe(label)), Text(safe(e.python)), Text(safe(e.platform)), picked)
        console.out().print(table)
        if result.untested:
            console.out().print(f"\nuntested ({len(result.untested)} wheels no env installs):")
            for name in result.untested:
                console.line(f"  {name}", stdout=True)
        else:
            console.out().print("\nevery wheel is installed by some env")
    if args.strict and (result.gaps or result.untested):
        return int(ExitCode.FAILED)
    return 0
