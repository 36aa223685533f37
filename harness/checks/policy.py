"""manylinux / musllinux policies, read from auditwheel's own policy data (not a copy).

Only the JSON files are read (importlib.resources), so this works on macOS and Windows
too, where auditwheel's Linux-only code would not import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from harness.checks.platforms import OS, Platform


@dataclass(frozen=True, kw_only=True)
class Policy:
    name: str  # e.g. "manylinux_2_17"
    version: tuple[int, int]
    lib_whitelist: frozenset[str]
    # prefix ("GLIBC", "GLIBCXX", "CXXABI", "GCC", ...) -> highest allowed version
    max_versions: dict[str, Version]
    exact: bool  # False when the tag is newer than any policy auditwheel knows


@cache
def _load(kind: str) -> list[dict[str, Any]]:
    ref = resources.files("auditwheel") / "policy" / f"{kind}-policy.json"
    data: list[dict[str, Any]] = json.loads(ref.read_text("utf-8"))
    return data


def _parse_name(name: str) -> tuple[int, int] | None:
    parts = name.split("_")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


def _max_version(values: list[str]) -> Version | None:
    best: Version | None = None
    for v in values:
        try:
            pv = Version(v)
        except InvalidVersion:
            continue
        if best is None or pv > best:
            best = pv
    return best


def android_libraries(api_level: int) -> tuple[str, frozenset[str]]:
    """(policy name, libraries) Android promises at an API level: auditwheel's android
    policy for the highest level not above it (the NDK's stable system libraries)."""
    entries = []
    for entry in _load("android"):
        _, _, digits = str(entry["name"]).partition("_")
        if digits.isdigit():
            entries.append((int(digits), entry))
    entries.sort(key=lambda item: item[0])
    if not entries:
        return "android", frozenset()
    chosen = entries[0]
    for level, entry in entries:
        if level <= api_level:
            chosen = (level, entry)
    return str(chosen[1]["name"]), frozenset(chosen[1]["lib_whitelist"])


@cache
def policy_for(platform: Platform) -> Policy | None:
    """The policy a manylinux/musllinux platform tag promises, or None for other tags
    (built once per tag and run: each ELF binary of a release asks for it)."""
    if platform.os not in (OS.MANYLINUX, OS.MUSLLINUX) or platform.version is None:
        return None
    kind = "manylinux" if platform.os is OS.MANYLINUX else "musllinux"
    entries = []
    for entry in _load(kind):
        v = _parse_name(entry["name"])
        if v is not None:
            entries.append((v, entry))
    entries.sort(key=lambda item: item[0])
    if not entries:
        return None
    chosen = None
    for v, entry in entries:
        if v <= platform.version:
            chosen = (v, entry)
    if chosen is None:
        chosen = entries[0]  # older than any known policy: hold it to the oldest
    v, entry = chosen
    exact = v == platform.version
    per_arch = entry["symbol_versions"].get(platform.arch, {})
    max_versions: dict[str, Version] = {}
    for prefix, values in per_arch.items():
        best = _max_version(values)
        if best is not None:
            max_versions[prefix] = best
    if kind == "manylinux":
        # PEP 600: manylinux_X_Y promises glibc X.Y, whatever auditwheel's per-arch data
        # holds (and for tags newer than its newest policy).
        max_versions["GLIBC"] = Version(f"{platform.version[0]}.{platform.version[1]}")
    return Policy(
        name=f"{kind}_{platform.version[0]}_{platform.version[1]}",
        version=platform.version,
        lib_whitelist=frozenset(entry["lib_whitelist"]),
        max_versions=max_versions,
        exact=exact,
    )
