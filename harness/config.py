"""[tool.harness] of the project under test + CLI overrides -> one frozen Config.

[tool.harness]
suites = ["import", "profiler"]   # smoke suites, in order (default: import, + profiler
                                  #   when an adapter is known for the distribution)
import = ["yappi"]                # modules the import suite imports (default: the
                                  #   wheel's top-level modules and extensions)
profiler-adapter = "yappi"        # yappi | cprofile
test-requires = ["pytest"]        # extra requirements for test-command (as cibuildwheel)
test-sources = ["tests"]          # files/dirs copied next to the tests (read-only mount)
test-command = "python -m pytest {project}/tests -x"
timeout = 600                     # seconds per step
jobs = 2                          # parallel runs (default: cores)
macos-minor-version = "warning"   # severity of macos.minos for X.Y inside macosx_X_0
                                  #   (X >= 11): "warning" (default) or "error"

The file applies to the project it belongs to: ./pyproject.toml is read only when its
[project] name is the distribution under test (a release verified from another project's
directory does not get that project's settings); --config FILE always applies.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from harness.checks.options import CheckOptions
from harness.errors import InputError
from harness.findings import Severity

KNOWN_SUITES = ("import", "profiler", "test-command")
ADAPTERS = ("yappi", "cprofile")
# distributions whose profiler adapter ships with the harness
DEFAULT_ADAPTER_FOR = {"yappi": "yappi"}

# --require-coverage / require-coverage: which untested wheels fail the verdict
REQUIRE_COVERAGE = ("linux", "all")
_KEYS = {
    "require-coverage",
    "suites",
    "import",
    "profiler-adapter",
    "test-requires",
    "test-sources",
    "test-command",
    "timeout",
    "jobs",
    "macos-minor-version",
    "install",
    "ci",  # [tool.harness.ci]: read by harness.ci.settings (runner labels, queues, shards)
    "promote",  # [tool.harness.promote]: read by harness.promote.cli (per-target policy)
}
SEVERITIES = ("warning", "error")
# install = "host": a cell's venv + install on the harness's machine when its directory is
# there (harness/verify/hostinstall.py); "pip": always in the env with the env's own pip
INSTALLS = ("host", "pip")


@dataclass(frozen=True, kw_only=True)
class Config:
    suites: tuple[str, ...] | None = None  # None: the defaults described above
    import_modules: tuple[str, ...] = ()
    profiler_adapter: str | None = None
    test_requires: tuple[str, ...] = ()
    test_sources: tuple[str, ...] = ()
    test_command: str | None = None
    timeout_s: int = 600
    jobs: int = field(default_factory=lambda: os.cpu_count() or 2)
    macos_minor_version: str = "warning"
    install: str = "host"  # see INSTALLS
    source: str | None = None  # the pyproject.toml it came from
    # wheel families ("linux", "all") whose untested wheels fail the verdict
    require_coverage: str | None = None
    # where cells' dependencies are resolved from (verify --index-url; None: $PIP_INDEX_URL,
    # else PyPI). Not in to_json: an index URL may carry credentials
    index_url: str | None = None

    def check_options(self) -> CheckOptions:
        return CheckOptions(macos_minor_version=Severity(self.macos_minor_version))

    def suites_for(self, distribution: str) -> tuple[str, ...]:
        if self.suites is not None:
            return self.suites
        suites = ["import"]
        if self.adapter_for(distribution):
            suites.append("profiler")
        if self.test_command:
            suites.append("test-command")
        return tuple(suites)

    def adapter_for(self, distribution: str) -> str | None:
        return self.profiler_adapter or DEFAULT_ADAPTER_FOR.get(distribution)

    def to_json(self) -> dict[str, Any]:
        return {
            "suites": list(self.suites) if self.suites is not None else None,
            "import": list(self.import_modules),
            "profiler_adapter": self.profiler_adapter,
            "test_requires": list(self.test_requires),
            "test_sources": list(self.test_sources),
            "test_command": self.test_command,
            "timeout_s": self.timeout_s,
            "jobs": self.jobs,
            "macos_minor_version": self.macos_minor_version,
            "install": self.install,
            "source": self.source,
            "require_coverage": self.require_coverage,
        }


def _choice(path: Path, key: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InputError(
            f"{path}: [tool.harness] {key} must be one of {', '.join(allowed)}, not {value!r}"
        )
    return value


def _strings(path: Path, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{path}: [tool.harness] {key} must be a list of strings")
    return tuple(value)


def load(pyproject: Path | None) -> Config:
    """Read [tool.harness] from ``pyproject`` (missing file or table: defaults)."""
    if pyproject is None or not pyproject.is_file():
        return Config()
    try:
        doc = tomllib.loads(pyproject.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{pyproject}: not valid TOML: {exc}") from exc
    table = doc.get("tool", {}).get("harness")
    if table is None:
        return Config(source=str(pyproject))
    if not isinstance(table, dict):
        raise InputError(f"{pyproject}: [tool.harness] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise InputError(
            f"{pyproject}: [tool.harness] unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_KEYS))})"
        )
    cfg = Config(source=str(pyproject))
    if "suites" in table:
        suites = _strings(pyproject, "suites", table["suites"])
        bad = [s for s in suites if s not in KNOWN_SUITES]
        if bad:
            raise InputError(
                f"{pyproject}: [tool.harness] suites: unknown suite(s) {', '.join(bad)} "
                f"(known: {', '.join(KNOWN_SUITES)})"
            )
        cfg = replace(cfg, suites=suites)
    if "import" in table:
        cfg = replace(cfg, import_modules=_strings(pyproject, "import", table["import"]))
    if "profiler-adapter" in table:
        adapter = _choice(pyproject, "profiler-adapter", table["profiler-adapter"], ADAPTERS)
        cfg = replace(cfg, profiler_adapter=adapter)
    if "test-requires" in table:
        cfg = replace(
            cfg, test_requires=_strings(pyproject, "test-requires", table["test-requires"])
        )
    if "test-sources" in table:
        cfg = replace(cfg, test_sources=_strings(pyproject, "test-sources", table["test-sources"]))
    if "test-command" in table:
        if not isinstance(table["test-command"], str) or not table["test-command"].strip():
            raise InputError(f"{pyproject}: [tool.harness] test-command must be a non-empty string")
        cfg = replace(cfg, test_command=table["test-command"])
    if "timeout" in table:
        cfg = replace(cfg, timeout_s=_positive(pyproject, "timeout", table["timeout"]))
    if "jobs" in table:
        cfg = replace(cfg, jobs=_positive(pyproject, "jobs", table["jobs"]))
    if "require-coverage" in table:
        value = _choice(pyproject, "require-coverage", table["require-coverage"], REQUIRE_COVERAGE)
        cfg = replace(cfg, require_coverage=value)
    if "macos-minor-version" in table:
        value = _choice(pyproject, "macos-minor-version", table["macos-minor-version"], SEVERITIES)
        cfg = replace(cfg, macos_minor_version=value)
    if "install" in table:
        value = table["install"]
        if value not in INSTALLS:
            raise InputError(
                f"{pyproject}: [tool.harness] install must be one of "
                f"{', '.join(INSTALLS)}, not {value!r}"
            )
        cfg = replace(cfg, install=value)
    return cfg


def add_macos_minor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--macos-minor-version",
        choices=SEVERITIES,
        default=None,
        help="severity of macos.minos for a binary needing macOS X.Y inside a macosx_X_0 "
        "wheel (X >= 11; pip installs it on X.0): warning (default) or error "
        "(overrides [tool.harness] macos-minor-version)",
    )


def project_name(pyproject: Path) -> str | None:
    """[project] name of a pyproject.toml (normalized), or None without one."""
    try:
        doc = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    project = doc.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return canonicalize_name(name) if isinstance(name, str) else None


def load_for(
    pyproject: Path | None, *, explicit: bool, distributions: set[str], require_name: bool
) -> tuple[Config, str | None]:
    """The Config for verifying ``distributions``, and a note when ./pyproject.toml was
    left out. An explicit --config always applies; the implicit ./pyproject.toml applies
    when its [project] name is one of the distributions, or (unless ``require_name``, as
    for --release) when it names no project."""
    if pyproject is None or not pyproject.is_file():
        if explicit:
            raise InputError(f"{pyproject}: --config file not found")
        return Config(), None
    if explicit:
        return load(pyproject), None
    name = project_name(pyproject)
    wanted = {canonicalize_name(d) for d in distributions}
    if name is None and not require_name:
        return load(pyproject), None
    if name is not None and name in wanted:
        return load(pyproject), None
    whose = f"project {name!r}" if name else "no [project] name"
    return Config(), (
        f"{pyproject}: not used ({whose}, verifying {', '.join(sorted(wanted))}); "
        "pass --config to apply it"
    )


def _positive(path: Path, key: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{path}: [tool.harness] {key} must be a positive integer")
    return value
