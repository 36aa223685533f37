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
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import InputError

KNOWN_SUITES = ("import", "profiler", "test-command")
ADAPTERS = ("yappi", "cprofile")
# distributions whose profiler adapter ships with the harness
DEFAULT_ADAPTER_FOR = {"yappi": "yappi"}

_KEYS = {
    "suites",
    "import",
    "profiler-adapter",
    "test-requires",
    "test-sources",
    "test-command",
    "timeout",
    "jobs",
    "ci",  # [tool.harness.ci]: read by harness.ci.settings (runner labels, queues, shards)
}


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
    source: str | None = None  # the pyproject.toml it came from

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
            "source": self.source,
        }


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
        adapter = table["profiler-adapter"]
        if adapter not in ADAPTERS:
            raise InputError(
                f"{pyproject}: [tool.harness] profiler-adapter must be one of "
                f"{', '.join(ADAPTERS)}, not {adapter!r}"
            )
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
    return cfg


def _positive(path: Path, key: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{path}: [tool.harness] {key} must be a positive integer")
    return value
