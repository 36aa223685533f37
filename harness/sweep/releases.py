"""Which releases a sweep verifies: ``PROJECT`` (latest, or the last N) or ``PROJECT==VERSION``,
resolved from a PEP 691 / PEP 503 simple index (the one ``verify --release`` reads)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from harness.errors import UsageError
from harness.release import list_files
from harness.simple_index import Listed


@dataclass(frozen=True, kw_only=True)
class Target:
    """One PROJECT[==VERSION] of the command line."""

    project: NormalizedName
    version: Version | None


@dataclass(frozen=True, kw_only=True)
class Release:
    project: NormalizedName
    version: str
    files: tuple[Listed, ...]  # its wheels on the index

    @property
    def spec(self) -> str:
        return f"{self.project}=={self.version}"


def parse_target(text: str) -> Target:
    name, sep, version = text.partition("==")
    name = name.strip()
    if not name or any(c in name for c in "<>=!~;[ @"):
        raise UsageError(f"{text!r}: expected PROJECT or PROJECT==VERSION, e.g. yappi==1.7.6")
    try:
        canonical = canonicalize_name(name, validate=True)
    except Exception as exc:  # packaging's InvalidName
        raise UsageError(f"{text!r}: invalid project name ({exc})") from exc
    if not sep:
        return Target(project=canonical, version=None)
    try:
        return Target(project=canonical, version=Version(version.strip()))
    except InvalidVersion as exc:
        raise UsageError(f"{text!r}: invalid version ({exc})") from exc


def parse_count(text: str) -> int:
    """--releases: ``latest`` (1) or a positive N (the last N releases)."""
    if text == "latest":
        return 1
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise UsageError(f"--releases {text!r}: expected 'latest' or a positive number")


def wheels_by_version(files: list[Listed]) -> dict[Version, list[Listed]]:
    out: dict[Version, list[Listed]] = defaultdict(list)
    for f in files:
        if not f.filename.endswith(".whl"):
            continue
        try:
            _, version, _, _ = parse_wheel_filename(f.filename)
        except InvalidWheelFilename:
            continue
        out[version].append(f)
    return dict(out)


def pick(versions: list[Version], count: int) -> list[Version]:
    """The newest ``count`` final releases (pre-releases only when there is nothing else)."""
    finals = sorted((v for v in versions if not v.is_prerelease), reverse=True)
    chosen = finals or sorted(versions, reverse=True)
    return chosen[:count]


def resolve(index_url: str, targets: list[Target], count: int) -> list[Release]:
    """Every release to sweep, in command-line order, newest first within a project."""
    out: list[Release] = []
    seen: set[tuple[str, str]] = set()
    for target in targets:
        by_version = wheels_by_version(list_files(index_url, target.project))
        if target.version is not None:
            if target.version not in by_version:
                raise UsageError(f"{target.project}=={target.version}: no wheels on the index")
            versions = [target.version]
        else:
            versions = pick(list(by_version), count)
            if not versions:
                raise UsageError(f"{target.project}: no wheels on the index")
        for version in versions:
            key = (target.project, str(version))
            if key in seen:
                continue
            seen.add(key)
            files = tuple(sorted(by_version[version], key=lambda f: f.filename))
            out.append(Release(project=target.project, version=str(version), files=files))
    return out
