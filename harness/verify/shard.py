"""One job of a plan (``harness verify --shard K/N | JOB``): which envs to prepare, which
cells to run, and the cells it cannot run, each as an error cell naming why.

The real env is probed as in an unsharded run; a planned cell whose env makes pip pick
another file than the plan predicted is an error cell naming both files (the plan's tag
prediction was wrong), never a silently different run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.ci.plan import Plan
from harness.ci.tags import RunnerKind
from harness.coverage import EnvPick
from harness.coverage import parse_wheel as parse_wheel_name
from harness.envs import EnvKind, EnvSpec
from harness.errors import InputError, UsageError
from harness.matrix import Matrix
from harness.report.model import Run, RunStatus


@dataclass(frozen=True, kw_only=True)
class Shard:
    plan: Plan
    job: str

    @property
    def cells(self) -> tuple[tuple[str, str], ...]:
        return tuple(c.key for c in self.plan.cells_of(self.job))

    def specs(self, matrix: Matrix, interpreter: str | None) -> list[EnvSpec]:
        """The envs this job runs: matrix envs (linux shards, matrix host envs) or this
        machine's interpreter named after the job (runner host jobs)."""
        job = self.plan.job(self.job)
        if (
            job.runner in (RunnerKind.LINUX, RunnerKind.LINUX_HOST)
            and matrix.name != self.plan.matrix_name
        ):
            raise UsageError(
                f"--matrix {matrix.name}: plan {self.plan.id[:12]} was made for matrix "
                f"{self.plan.matrix}"
            )
        if job.runner in (RunnerKind.LINUX, RunnerKind.LINUX_HOST):
            by_name = {s.name: s for s in matrix.envs}
            missing = [e for e in job.envs if e not in by_name]
            if missing:
                raise UsageError(f"plan job {job.id}: env(s) {', '.join(missing)} not in matrix")
            specs = [by_name[e] for e in job.envs]
            if job.runner is RunnerKind.LINUX_HOST and interpreter:
                # a CI job set the env's CPython up: that interpreter is the host env
                specs = [replace(s, interpreter=interpreter) for s in specs]
            return specs
        python = job.python if job.python and not job.python.endswith("t") else None
        return [
            EnvSpec(
                name=job.id,
                kind=EnvKind.HOST,
                python=python,
                interpreter=interpreter or sys.executable,
                description=f"plan job {job.id}: this {job.runner} runner's CPython {job.python}",
            )
        ]

    def check_wheels(self, inspected: set[tuple[str, str]]) -> None:
        planned = set(self.plan.wheels)
        if inspected == planned:
            return
        names = dict(planned)
        for filename, sha in sorted(inspected - planned):
            if filename in names:
                raise InputError(
                    f"{filename}: sha256 {sha[:12]}… differs from plan {self.plan.id[:12]} "
                    f"({names[filename][:12]}…)"
                )
            raise InputError(f"{filename} is not a wheel of plan {self.plan.id[:12]}")
        missing = sorted(f for f, _ in planned - inspected)
        raise InputError(
            f"plan {self.plan.id[:12]} has {len(missing)} wheel(s) not given here: "
            f"{', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
        )

    def wants(self, env: str, picked: str | None) -> bool:
        return (env, picked or "") in set(self.cells)

    def unrunnable(
        self,
        picks: Iterable[EnvPick],
        broken: Sequence[tuple[EnvSpec, str]],
        sha: dict[str, str],
    ) -> list[Run]:
        """Error cells for the planned cells this job cannot run as planned."""
        real = {(p.env, p.project): p for p in picks}
        down = {spec.name: reason for spec, reason in broken}
        runs: list[Run] = []
        for env, wheel in self.cells:
            project = parse_wheel_name(wheel).project
            p = real.get((env, project))
            if env in down:
                reason = f"environment unavailable: {down[env]}"
            else:
                if p is not None and p.picked == wheel:
                    continue
                got = p.picked if p is not None and p.picked else "no wheel"
                reason = (
                    f"plan mismatch: the plan expected pip to install {wheel} in {env}, "
                    f"the env's probe makes it pick {got}"
                )
            runs.append(
                Run(
                    env=env,
                    python=p.python if env not in down and p is not None else "",
                    platform=p.platform if env not in down and p is not None else "",
                    wheel_filename=wheel,
                    wheel_sha256=sha.get(wheel, ""),
                    status=RunStatus.ERROR,
                    duration_s=0.0,
                    reason=reason,
                )
            )
        return runs

    def report_block(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "job": self.job}
