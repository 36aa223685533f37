"""Which files go to which target: per-target ``include`` and ``exclude`` selectors.

A selector is one of

- a **named class** of wheels:
  ``free-threaded``      a free-threaded CPython build (ABI tag ``cp313t``, ``cp314t``: PEP 703)
  ``prerelease-python``  built for a CPython feature version with no final release yet
                         (``cp316`` today; the table below, from the release PEPs)
  ``abi3``               a stable-ABI wheel (ABI tag ``abi3``)
  ``pure``               no compiled code (every tag ``…-none-any``)
  ``prerelease``         the release itself is a pre-release (``2.0rc1``, ``2.0b3``, ``.dev``);
                         safer than a ``*rc*`` glob, which also matches ``aarch64``
- ``python:SPEC``  a CPython tag whose X.Y is in SPEC: ``python:3.14`` (that version),
  ``python:>=3.15``, ``python:<3.10`` (packaging specifiers; abi3 wheels by their floor);
- ``platform:GLOB`` / ``abi:GLOB``  any of the wheel's platform / ABI tags matches GLOB
  (``platform:musllinux_*``, ``platform:win_arm64``, ``abi:cp31?t``);
- ``name:GLOB`` or a bare GLOB with ``*``, ``?`` or ``[``  (or a whole ``….whl`` name): the file
  name, as ``--exclude TARGET=GLOB`` always took.

Per target: a file goes when it matches no ``exclude`` selector and, if the target has
``include`` selectors, at least one of them (exclude wins). Every decision carries its
reason, so ``--dry-run`` can say why a file does not go somewhere.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from harness.errors import UsageError

# CPython feature releases and the day of their final release (release PEPs; 3.15 as
# scheduled by PEP 790). Versions older than the table are final; newer ones are not.
CPYTHON_FINAL: dict[tuple[int, int], date] = {
    (3, 6): date(2016, 12, 23),
    (3, 7): date(2018, 6, 27),
    (3, 8): date(2019, 10, 14),
    (3, 9): date(2020, 10, 5),
    (3, 10): date(2021, 10, 4),
    (3, 11): date(2022, 10, 24),
    (3, 12): date(2023, 10, 2),
    (3, 13): date(2024, 10, 7),
    (3, 14): date(2025, 10, 7),
    (3, 15): date(2026, 10, 1),
}
NAMED = {
    "free-threaded": "free-threaded CPython (PEP 703)",
    "prerelease-python": "a CPython version with no final release yet",
    "abi3": "stable ABI (abi3)",
    "pure": "no compiled code (none-any)",
    "prerelease": "a pre-release version of the project",
}
PREFIXES = ("python", "platform", "abi", "name")
_CPYTHON = re.compile(r"^cp(\d)(\d+)$")
_FREE_THREADED = re.compile(r"^cp\d+t$")
_GLOB_CHARS = frozenset("*?[")


def cpython_version(tag: Tag) -> tuple[int, int] | None:
    m = _CPYTHON.match(tag.interpreter)
    return (int(m[1]), int(m[2])) if m else None


def is_final(version: tuple[int, int], today: date) -> bool:
    released = CPYTHON_FINAL.get(version)
    if released is not None:
        return released <= today
    return version < min(CPYTHON_FINAL)


@dataclass(frozen=True, kw_only=True)
class Selector:
    text: str  # as the user wrote it
    kind: str  # a NAMED key, one of PREFIXES
    arg: str = ""

    @classmethod
    def parse(cls, text: str) -> Selector:
        text = text.strip()
        if not text:
            raise UsageError("an empty selector")
        if text in NAMED:
            return cls(text=text, kind=text)
        prefix, sep, arg = text.partition(":")
        if sep and prefix in PREFIXES:
            if not arg:
                raise UsageError(f"selector {text!r}: nothing after {prefix}:")
            if prefix == "python":
                _specifier(text, arg)
            return cls(text=text, kind=prefix, arg=arg)
        if _GLOB_CHARS & set(text) or text.endswith(".whl"):
            return cls(text=text, kind="name", arg=text)
        raise UsageError(
            f"unknown selector {text!r}: use one of {', '.join(NAMED)}, python:SPEC, "
            "platform:GLOB, abi:GLOB, or a file-name glob with * or ?"
        )

    def match(self, filename: str, tags: frozenset[Tag], today: date) -> str | None:
        """Why ``filename`` matches (a short phrase), or None."""
        if self.kind == "name":
            return "file name" if fnmatch.fnmatchcase(filename, self.arg) else None
        if self.kind == "platform":
            hit = sorted(t.platform for t in tags if fnmatch.fnmatchcase(t.platform, self.arg))
            return f"platform {hit[0]}" if hit else None
        if self.kind == "abi":
            hit = sorted(t.abi for t in tags if fnmatch.fnmatchcase(t.abi, self.arg))
            return f"ABI {hit[0]}" if hit else None
        if self.kind == "free-threaded":
            hit = sorted(t.abi for t in tags if _FREE_THREADED.match(t.abi))
            return f"ABI {hit[0]}" if hit else None
        if self.kind == "abi3":
            return "ABI abi3" if any(t.abi == "abi3" for t in tags) else None
        if self.kind == "pure":
            pure = bool(tags) and all(t.abi == "none" and t.platform == "any" for t in tags)
            return "none-any" if pure else None
        if self.kind == "prerelease":
            version = _version(filename)
            return f"version {version}" if version is not None and version.is_prerelease else None
        versions = sorted({v for t in tags if (v := cpython_version(t)) is not None})
        if self.kind == "python":
            spec = _specifier(self.text, self.arg)
            inside = [v for v in versions if spec.contains(f"{v[0]}.{v[1]}", prereleases=True)]
            return f"CPython {inside[0][0]}.{inside[0][1]}" if inside else None
        if self.kind == "prerelease-python":
            early = [v for v in versions if not is_final(v, today)]
            return f"CPython {early[0][0]}.{early[0][1]} has no final release" if early else None
        raise AssertionError(self.kind)


def _version(filename: str) -> Version | None:
    try:
        return parse_wheel_filename(filename)[1]
    except InvalidWheelFilename:
        return None


def _specifier(text: str, arg: str) -> SpecifierSet:
    spec = f"=={arg}" if re.fullmatch(r"\d+\.\d+", arg) else arg
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier:
        raise UsageError(
            f"selector {text!r}: expected python:X.Y or python:SPECIFIER (>=3.15)"
        ) from None


@dataclass(frozen=True, kw_only=True)
class Rule:
    selector: Selector
    source: str  # where it was given: "--exclude", "pyproject.toml", ...

    def where(self) -> str:
        return f"{self.selector.text} from {self.source}"


@dataclass(frozen=True, kw_only=True)
class Decision:
    goes: bool
    why: str  # "" for a target without rules; else the selector and why it matched


@dataclass(frozen=True, kw_only=True)
class TargetRules:
    include: tuple[Rule, ...] = ()
    exclude: tuple[Rule, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Policy:
    targets: Mapping[str, TargetRules] = field(default_factory=dict)
    today: date = field(default_factory=date.today)

    def decide(self, label: str, filename: str) -> Decision:
        rules = self.targets.get(label)
        if rules is None or not (rules.include or rules.exclude):
            return Decision(goes=True, why="")
        try:
            tags = parse_wheel_filename(filename)[3]
        except InvalidWheelFilename:
            tags = frozenset()
        for rule in rules.exclude:
            if (hit := rule.selector.match(filename, tags, self.today)) is not None:
                return Decision(goes=False, why=f"excluded by {rule.where()}: {hit}")
        for rule in rules.include:
            if (hit := rule.selector.match(filename, tags, self.today)) is not None:
                return Decision(goes=True, why=f"included by {rule.where()}: {hit}")
        if rules.include:
            wanted = ", ".join(r.where() for r in rules.include)
            return Decision(goes=False, why=f"matches no include ({wanted})")
        return Decision(goes=True, why="")

    def goes(self, label: str, filename: str) -> bool:
        return self.decide(label, filename).goes

    def describe(self, label: str) -> str:
        """The target's rules in one line (empty without any)."""
        rules = self.targets.get(label)
        if rules is None:
            return ""
        parts = []
        if rules.include:
            parts.append("include " + ", ".join(r.selector.text for r in rules.include))
        if rules.exclude:
            parts.append("exclude " + ", ".join(r.selector.text for r in rules.exclude))
        return "; ".join(parts)


def build(
    labels: Sequence[str],
    *,
    cli_include: Sequence[str] = (),
    cli_exclude: Sequence[str] = (),
    configured: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    config_source: str = "pyproject.toml",
    today: date | None = None,
) -> Policy:
    """The policy for these --to targets: ``--include``/``--exclude TARGET=SELECTOR``
    (TARGET must be one of ``labels``) plus the configured ``{"include"|"exclude": {TARGET:
    [SELECTOR...]}}`` (entries for targets not promoted to this time are not used)."""
    include: dict[str, list[Rule]] = {label: [] for label in labels}
    exclude: dict[str, list[Rule]] = {label: [] for label in labels}
    for key, into in (("include", include), ("exclude", exclude)):
        for label, selectors in (configured or {}).get(key, {}).items():
            if label in into:
                for text in selectors:
                    sel = _parse(text, f"{config_source}: [tool.harness.promote] {key}")
                    into[label].append(Rule(selector=sel, source=config_source))
    for option, specs, into in (
        ("--include", cli_include, include),
        ("--exclude", cli_exclude, exclude),
    ):
        for spec in specs:
            label, text = split_spec(option, spec, labels)
            into[label].append(Rule(selector=_parse(text, f"{option} {spec!r}"), source=option))
    return Policy(
        targets={
            label: TargetRules(include=tuple(include[label]), exclude=tuple(exclude[label]))
            for label in labels
        },
        today=today or date.today(),
    )


def _parse(text: str, where: str) -> Selector:
    try:
        return Selector.parse(text)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def split_spec(option: str, spec: str, labels: Sequence[str]) -> tuple[str, str]:
    """TARGET=SELECTOR, TARGET being one of ``labels`` (the longest that fits: labels are
    URLs and a selector may hold '=', as in python:>=3.15)."""
    for label in sorted(labels, key=len, reverse=True):
        if spec.startswith(label + "=") and len(spec) > len(label) + 1:
            return label, spec[len(label) + 1 :]
    named, sep, _ = spec.partition("=")
    if not sep or not named or named in labels:
        raise UsageError(f"{option} {spec!r}: expected TARGET=SELECTOR, e.g. pypi=free-threaded")
    raise UsageError(
        f"{option} {spec!r}: {named} is not a --to target ({', '.join(sorted(labels))})"
    )
