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
import functools
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
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

from harness.envs.base import EnvKind, EnvSpec, Probe
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


class Family(StrEnum):
    """Which kind of runner a wheel needs (what ``--require-coverage`` selects)."""

    LINUX = "linux"  # manylinux, musllinux, linux_*
    MACOS = "macos"
    WINDOWS = "windows"
    ANY = "any"  # pure Python (py3-none-any)
    OTHER = "other"  # android, ios, emscripten, ...


@dataclass(frozen=True, kw_only=True)
class WheelCoverage:
    filename: str
    family: Family
    ran_in: tuple[str, ...]  # the envs that install (and so run) this file
    reason: str = ""  # why none does, when ran_in is empty

    def to_json(self) -> dict[str, object]:
        return {
            "filename": self.filename,
            "family": str(self.family),
            "ran_in": list(self.ran_in),
            "reason": self.reason or None,
        }


@dataclass(frozen=True, kw_only=True)
class Coverage:
    envs: tuple[EnvPick, ...]
    wheels: tuple[WheelCoverage, ...] = ()

    @property
    def untested(self) -> tuple[str, ...]:
        return tuple(w.filename for w in self.wheels if not w.ran_in)

    @property
    def gaps(self) -> tuple[EnvPick, ...]:
        return tuple(e for e in self.envs if e.picked is None)

    def ran(self, families: Iterable[Family] | None = None) -> tuple[int, int]:
        """(wheels some env runs, wheels) among ``families`` (all when None)."""
        chosen = set(families) if families is not None else set(Family)
        mine = [w for w in self.wheels if w.family in chosen]
        return sum(1 for w in mine if w.ran_in), len(mine)

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
        ran, total = self.ran()
        linux_ran, linux_total = self.ran([Family.LINUX])
        return {
            "schema": SCHEMA,
            "envs": envs,
            "untested": list(self.untested),
            "wheels": [w.to_json() for w in self.wheels],
            "ran": {"wheels": ran, "of": total, "linux": linux_ran, "linux_of": linux_total},
        }

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
    priority = _priority(tags)
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


def required_families(require: str | None) -> tuple[str, ...]:
    """``require-coverage``: linux -> Linux wheels must run; all -> every wheel must."""
    if require == "all":
        return tuple(str(f) for f in Family)
    if require == "linux":
        return (str(Family.LINUX),)
    return ()


def family(wheel: WheelFile) -> Family:
    from harness.checks.platforms import OS, parse_platform

    kinds = {parse_platform(t.platform).os for t in wheel.tags}
    for os_kind, fam in (
        ({OS.MANYLINUX, OS.MUSLLINUX, OS.LINUX}, Family.LINUX),
        ({OS.MACOS}, Family.MACOS),
        ({OS.WINDOWS}, Family.WINDOWS),
        ({OS.ANY}, Family.ANY),
    ):
        if kinds & os_kind:
            return fam
    return Family.OTHER


def _python_label(wheel: WheelFile) -> str:
    """``CPython 3.10 (cp310)``, ``free-threaded CPython 3.14 (cp314t)``, ``py3``."""
    tag = min(wheel.tags, key=str)
    interp, abi = tag.interpreter, tag.abi
    match = re.match(r"^cp(\d)(\d+)$", interp)
    if not match:
        return interp
    version = f"{match.group(1)}.{match.group(2)}"
    if abi.endswith("t") and abi.startswith("cp"):
        return f"free-threaded CPython {version} ({abi})"
    return f"CPython {version} ({interp})"


def _platform_label(wheel: WheelFile) -> str:
    from harness.checks.platforms import parse_platform

    plats = sorted({parse_platform(t.platform) for t in wheel.tags}, key=lambda p: p.tag)
    return ", ".join(dict.fromkeys(f"{p.os} {p.arch}" for p in plats))


def untested_reason(
    wheel: WheelFile,
    envs: Sequence[tuple[EnvSpec, Probe]],
    picks: Sequence[EnvPick],
    matrix_name: str = "this matrix",
    elsewhere: Sequence[EnvSpec] = (),
) -> str:
    """One line: why no env of the matrix installs ``wheel`` (and where it could run)."""
    from harness.checks.platforms import parse_platform

    fam = family(wheel)
    plats = ", ".join(sorted({t.platform for t in wheel.tags}))
    if fam is Family.MACOS:
        return f"macOS wheel ({plats}): runs on a macOS runner (harness verify --matrix host there)"
    if fam is Family.WINDOWS:
        arm = any(parse_platform(t.platform).arch == "arm64" for t in wheel.tags)
        return (
            f"no matrix env for {plats}: Windows wheel, runs on a Windows{' arm64' if arm else ''}"
            " runner (harness verify --matrix host there)"
        )
    if fam is Family.OTHER:
        return f"no matrix env for {_platform_label(wheel)}"
    interp_abi = {(t.interpreter, t.abi) for t in wheel.tags}
    plat_tags = {t.platform for t in wheel.tags}
    has_python = [
        s.name
        for s, p in envs
        if any((t.interpreter, t.abi) in interp_abi for t in _priority(p.tags))
    ]
    has_platform = [
        s.name for s, p in envs if any(t.platform in plat_tags for t in _priority(p.tags))
    ]
    supports = [s.name for s, p in envs if _support_index(wheel, _priority(p.tags)) is not None]
    py = _python_label(wheel)
    if supports:
        chosen = {
            e.env: e.picked for e in picks if e.env in supports and e.project == wheel.project
        }
        first = next(iter(chosen.items()), None)
        other = f" (env {first[0]} installs {first[1]})" if first and first[1] else ""
        return (
            f"every env that can install it prefers another file or its Requires-Python "
            f"excludes the env's Python{other}"
        )
    version = re.search(r"\d+\.\d+", py)
    hint = ""
    if version and "free-threaded" not in py:
        there = sorted({s.name for s in elsewhere if s.python == version.group(0)})
        if there:
            hint = f"; other matrices have CPython {version.group(0)}: {', '.join(there[:4])}"
            hint += " ..." if len(there) > 4 else ""
    if not has_python:
        return f"no interpreter here for {py}: no env of {matrix_name} has it{hint}"
    if not has_platform:
        return f"no env of {matrix_name} is {_platform_label(wheel)}{hint}"
    return f"no env of {matrix_name} is {py} on {_platform_label(wheel)}{hint}"


def _priority(tags: Sequence[str]) -> dict[Tag, int]:
    """Each tag an env supports -> its rank in the env's list (parsed once per list: an
    env's list has hundreds of tags, and every wheel of a release is ranked against it)."""
    return _parsed_priority(tuple(tags))


@functools.lru_cache(maxsize=256)
def _parsed_priority(tags: tuple[str, ...]) -> dict[Tag, int]:
    priority: dict[Tag, int] = {}
    for i, text in enumerate(tags):
        for tag in parse_tag(text):
            priority.setdefault(tag, i)
    return priority


def compute(
    wheels: Sequence[WheelFile],
    envs: Sequence[tuple[EnvSpec, Probe]],
    *,
    matrix_name: str = "this matrix",
    elsewhere: Sequence[EnvSpec] = (),
) -> Coverage:
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
    rows: list[WheelCoverage] = []
    for wheel in wheels:
        ran_in = tuple(dict.fromkeys(e.env for e in picks if e.picked == wheel.filename))
        reason = "" if ran_in else untested_reason(wheel, envs, picks, matrix_name, elsewhere)
        rows.append(
            WheelCoverage(
                filename=wheel.filename, family=family(wheel), ran_in=ran_in, reason=reason
            )
        )
    return Coverage(envs=tuple(picks), wheels=tuple(rows))


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
    parser.add_argument("wheels", nargs="*", type=Path, metavar="WHEELS", help="wheels or dirs")
    parser.add_argument(
        "--release",
        metavar="NAME==VERSION",
        help="every wheel of a published release (downloaded from --index-url, sha256-checked)",
    )
    parser.add_argument(
        "--index-url", default=None, help="index for --release (default: PyPI, or $PIP_INDEX_URL)"
    )
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
        "--strict", action="store_true", help="exit 1 when any wheel is run by no env (or a gap)"
    )


def run(args: argparse.Namespace) -> int:
    from harness import console, matrix
    from harness.envs import environment

    paths = list(args.wheels)
    if args.release:
        from harness import release

        index = release.index_url(args.index_url)
        paths += [p for p in release.download_release(args.release, index) if p.suffix == ".whl"]
    if not paths:
        raise UsageError("name wheels or directories, or --release NAME==VERSION")
    wheels = collect(paths)
    m = matrix.load(args.matrix)
    elsewhere = matrix.other_envs(m)
    probed: list[tuple[EnvSpec, Probe]] = []
    if not args.no_build and any(s.kind is not EnvKind.HOST for s in m.envs):
        from harness.envs.daemon import ensure_daemon
        from harness.envs.images import preflight_specs

        ensure_daemon()
        preflight_specs(m.envs)
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
    result = compute(wheels, probed, matrix_name=f"matrix {m.name}", elsewhere=elsewhere)
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
        ran, total = result.ran()
        linux_ran, linux_total = result.ran([Family.LINUX])
        console.out().print(
            f"\n{ran} of {total} wheels ran ({linux_ran} of {linux_total} Linux wheels)",
            markup=False,
        )
        untested = [w for w in result.wheels if not w.ran_in]
        if untested:
            console.out().print(f"untested ({len(untested)} wheels no env installs):")
            for w in untested:
                console.line(f"  {w.filename}: {w.reason}", stdout=True)
    if args.strict and (result.gaps or result.untested):
        return int(ExitCode.FAILED)
    return 0
