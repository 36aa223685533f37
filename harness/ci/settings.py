"""[tool.harness.ci] of the project: runner labels, Buildkite queues, shards, publishing.

[tool.harness.ci]
matrix = "linux"                 # the matrix the Linux container shards run
shards = 2                       # Linux container shards
wheels = "dist"                  # the directory the wheels are in (or downloaded to)
wheels-artifact = "cibw-wheels-*"   # GitHub: the artifact name pattern of the wheels
harness = "wheel-harness"        # pip requirement that installs the harness in CI jobs
publish = "pypi"                 # pypi (trusted publishing) | none
environment = "pypi"             # GitHub: the protected environment of the promote job
[tool.harness.ci.runners]        # GitHub runner labels per runner kind
linux = "ubuntu-24.04"
macos-x86_64 = "macos-15-intel"
[tool.harness.ci.queues]         # Buildkite agent queues per runner kind
macos-arm64 = "mac-m1"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.ci.tags import RunnerKind
from harness.errors import InputError

# GitHub-hosted labels offered today (2026-11): macos-13 is retired; macos-15-intel is the
# Intel image, macos-15 Apple silicon; windows-11-arm the arm64 Windows runner.
DEFAULT_RUNNERS: dict[RunnerKind, str] = {
    RunnerKind.LINUX: "ubuntu-latest",
    RunnerKind.LINUX_HOST: "ubuntu-latest",
    RunnerKind.MACOS_X86_64: "macos-15-intel",
    RunnerKind.MACOS_ARM64: "macos-15",
    RunnerKind.WINDOWS_X64: "windows-2025",
    RunnerKind.WINDOWS_X86: "windows-2025",
    RunnerKind.WINDOWS_ARM64: "windows-11-arm",
}
DEFAULT_QUEUES: dict[RunnerKind, str] = {kind: str(kind) for kind in RunnerKind}
# setup-python's `architecture` input for each host kind
ARCHITECTURE: dict[RunnerKind, str] = {
    RunnerKind.LINUX_HOST: "x64",
    RunnerKind.MACOS_X86_64: "x64",
    RunnerKind.MACOS_ARM64: "arm64",
    RunnerKind.WINDOWS_X64: "x64",
    RunnerKind.WINDOWS_X86: "x86",
    RunnerKind.WINDOWS_ARM64: "arm64",
}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_KEYS = {
    "matrix",
    "shards",
    "wheels",
    "wheels-artifact",
    "harness",
    "publish",
    "environment",
    "runners",
    "queues",
}


@dataclass(frozen=True, kw_only=True)
class CISettings:
    matrix: str = "linux"
    shards: int = 2
    wheels: str = "dist"
    wheels_artifact: str = "cibw-wheels-*"
    harness: str = "wheel-harness"
    publish: str = "pypi"
    environment: str = "pypi"
    runners: dict[RunnerKind, str] = field(default_factory=lambda: dict(DEFAULT_RUNNERS))
    queues: dict[RunnerKind, str] = field(default_factory=lambda: dict(DEFAULT_QUEUES))


def load(pyproject: Path | None) -> CISettings:
    if pyproject is None or not pyproject.is_file():
        return CISettings()
    try:
        doc = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{pyproject}: not valid TOML: {exc}") from exc
    table = doc.get("tool", {}).get("harness", {}).get("ci")
    if table is None:
        return CISettings()
    where = f"{pyproject}: [tool.harness.ci]"
    if not isinstance(table, dict):
        raise InputError(f"{where} must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise InputError(f"{where} unknown key(s) {', '.join(unknown)} (known: {sorted(_KEYS)})")
    out = CISettings()
    values: dict[str, Any] = {}
    for key in ("matrix", "wheels", "wheels-artifact", "harness", "environment"):
        if key in table:
            value = table[key]
            if not isinstance(value, str) or not value or "\n" in value:
                raise InputError(f"{where} {key}: expected a one-line non-empty string")
            values[key.replace("-", "_")] = value
    if "publish" in table:
        if table["publish"] not in ("pypi", "none"):
            raise InputError(f"{where} publish: expected 'pypi' or 'none'")
        values["publish"] = table["publish"]
    if "shards" in table:
        shards = table["shards"]
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 256:
            raise InputError(f"{where} shards: expected an integer 1..256")
        values["shards"] = shards
    for key, base in (("runners", out.runners), ("queues", out.queues)):
        if key not in table:
            continue
        given = table[key]
        if not isinstance(given, dict):
            raise InputError(f"{where} {key}: expected a table of runner kind = label")
        merged = dict(base)
        for kind, label in given.items():
            if kind not in {str(k) for k in RunnerKind}:
                raise InputError(
                    f"{where} {key}.{kind}: unknown runner kind "
                    f"(known: {', '.join(str(k) for k in RunnerKind)})"
                )
            if not isinstance(label, str) or not _LABEL.match(label):
                raise InputError(f"{where} {key}.{kind}: expected a runner label")
            merged[RunnerKind(kind)] = label
        values[key] = merged
    return CISettings(**{**out.__dict__, **values})
