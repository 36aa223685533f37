"""The Report value every renderer draws (DESIGN.md: harness-report/1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

REPORT_SCHEMA = "harness-report/1"


class RunStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the environment broke: timeout, OOM, container died, infra
    SKIPPED = "skipped"  # not run here: shown as "untested" (macOS/Windows wheel on Linux, ...)


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str  # "venv", "install", "pick", "smoke:import", "smoke:profiler", "test-command"
    status: RunStatus
    duration_s: float
    command: str = ""
    returncode: int | None = None
    output_tail: str = ""  # last lines of stdout+stderr, secrets redacted
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "duration_s": round(self.duration_s, 3),
            "command": self.command,
            "returncode": self.returncode,
            "output_tail": self.output_tail,
            "detail": self.detail,
        }


@dataclass(frozen=True, kw_only=True)
class Run:
    env: str
    python: str  # the env's Python version, "3.11.2" ("" if never probed)
    platform: str  # env label, e.g. linux-x86_64-glibc2.36
    wheel_filename: str
    wheel_sha256: str
    status: RunStatus
    duration_s: float
    steps: tuple[Step, ...] = ()
    reason: str = ""  # one line: why failed / error / skipped

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "python": self.python,
            "platform": self.platform,
            "wheel": {"filename": self.wheel_filename, "sha256": self.wheel_sha256},
            "status": str(self.status),
            "duration_s": round(self.duration_s, 3),
            "reason": self.reason,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass(frozen=True, kw_only=True)
class Report:
    harness_version: str
    created: str  # ISO 8601, UTC
    config: dict[str, Any]
    inspect: dict[str, Any]  # the harness-inspect/1 document
    runs: tuple[Run, ...]
    envs: tuple[dict[str, Any], ...] = ()  # name, python, platform, picked (coverage)
    untested: tuple[str, ...] = ()  # wheels no env here exercised
    # per wheel: {"filename", "family", "ran_in": [env...], "reason": str|None}
    coverage: tuple[dict[str, Any], ...] = ()
    # families ("linux", "macos", ...) whose untested wheels fail the verdict
    required: tuple[str, ...] = ()

    @property
    def uncovered(self) -> tuple[str, ...]:
        """Untested wheels of a required family: each one fails the verdict."""
        return tuple(
            str(w["filename"])
            for w in self.coverage
            if not w.get("ran_in") and w.get("family") in self.required
        )

    def ran(self) -> tuple[int, int]:
        """(wheels some env installed and ran, wheels)."""
        return sum(1 for w in self.coverage if w.get("ran_in")), len(self.coverage)

    @property
    def verdict_line(self) -> str:
        """``PASS (14 of 62 wheels ran)``: the verdict says how much ran."""
        ran, total = self.ran()
        text = f"{str(self.verdict).upper()} ({ran} of {total} wheels ran)"
        if self.uncovered:
            text += f"; {len(self.uncovered)} required wheel(s) untested"
        return text

    # the harness-plan/1 document this report ran a part of (or merged), with "job": the
    # job id a shard ran, null in a merged report (harness.ci.plan); None: no plan
    plan: dict[str, Any] | None = None

    @property
    def inspect_errors(self) -> int:
        return sum(
            1
            for w in self.inspect.get("wheels", [])
            for f in w.get("findings", [])
            if f.get("severity") == "error"
        )

    @property
    def verdict(self) -> Verdict:
        bad = any(r.status in (RunStatus.FAILED, RunStatus.ERROR) for r in self.runs)
        return Verdict.FAIL if bad or self.inspect_errors or self.uncovered else Verdict.PASS

    def counts(self) -> dict[str, int]:
        out = {str(s): 0 for s in RunStatus}
        for r in self.runs:
            out[str(r.status)] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "harness": {"version": self.harness_version},
            "created": self.created,
            "config": self.config,
            "inspect": self.inspect,
            "envs": list(self.envs),
            "untested": list(self.untested),
            "coverage": {
                "ran": self.ran()[0],
                "of": self.ran()[1],
                "required": list(self.required),
                "uncovered": list(self.uncovered),
                "wheels": list(self.coverage),
            },
            "runs": [r.to_json() for r in self.runs],
            "counts": self.counts(),
            "verdict": str(self.verdict),
            **({"plan": self.plan} if self.plan is not None else {}),
        }
