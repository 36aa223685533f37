"""The plan of a release: every cell (env x wheel) it needs, grouped into CI jobs.

A *cell* is one env and the one wheel pip installs there. Jobs:

- ``linux-K`` (K = 1..N): the cells of the matrix's container envs, split into N shards
  balanced by expected cost (LPT: most expensive cell first, onto the least loaded shard,
  charging an env's image set-up to a shard the first time it gets that env);
- one host job per runner kind and CPython the release's wheels need
  (``macos-arm64-py3.12``, ``windows-x86-py3.8``, ...): the kind is chosen by the wheels'
  platform tags, and each job's cells are the wheels pip picks there. A ``universal2``
  wheel is compatible with both macOS kinds and is planned wherever pip picks it (where a
  release also has thin wheels, pip prefers those, so the universal2 wheel is out of scope
  with that reason);
- one job per ``host`` env of the matrix that declares its ``python`` (a Linux x86_64
  runner sets that CPython up); a host env without one means "whatever machine runs it"
  and is not planned (the runner host jobs above stand for it).

Nothing here needs Docker or the wheels' platform: tag lists are predicted from declared
facts (harness.ci.tags), so the same wheels + matrix + N give the same plan, byte for
byte and with the same id, on every machine. Wheels no job installs are *out of scope*,
each with its reason; the plan names them so a merged report can tell "not planned" from
"planned but missing".

JSON (``harness plan --format json``, and the ``plan`` block of every shard report)::

    {"schema": "harness-plan/1", "id": "<sha256 of the rest>", "harness": "0.x",
     "matrix": "linux", "shards": 2,
     "wheels": [{"filename", "sha256"}],
     "jobs": [{"id": "linux-1", "runner": "linux", "shard": 1, "python": null,
               "envs": ["bullseye", "musl"], "cells": 2, "cost": 8.0}],
     "cells": [{"env", "wheel", "job", "cost"}],
     "out_of_scope": [{"wheel", "reason"}]}
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.tags import parse_tag
from packaging.utils import NormalizedName

from harness import __version__
from harness.ci.tags import (
    HOST_KINDS,
    NATIVE_ARCHES,
    RunnerKind,
    container_platforms,
    cpython_tag_list,
    host_platforms,
    parse_python,
)
from harness.coverage import WheelFile, pick
from harness.envs.base import EnvKind
from harness.errors import InputError, UsageError
from harness.matrix import Matrix

PLAN_SCHEMA = "harness-plan/1"
# expected cost, in units of one native container cell (~10-30 s of venv+install+smoke)
COST_NATIVE = 1.0
COST_QEMU = 20.0  # an emulated arch (qemu-user) runs ~20x slower (measured, DESIGN.md)
COST_HOST = 1.0
COST_ENV_SETUP = 3.0  # building/loading one env's image on a shard
# CPython versions setup-python cannot provide on a runner kind (checked 2026-11)
DEFAULT_MIN_PYTHON: dict[RunnerKind, tuple[int, int]] = {RunnerKind.WINDOWS_ARM64: (3, 11)}
_SHARD = re.compile(r"^(\d{1,3})/(\d{1,3})$")


@dataclass(frozen=True, kw_only=True)
class Cell:
    env: str
    wheel: str
    job: str
    cost: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.env, self.wheel)


@dataclass(frozen=True, kw_only=True)
class Job:
    id: str
    runner: RunnerKind
    shard: int | None  # linux shards: 1..N
    python: str | None  # host jobs: the CPython the runner sets up
    envs: tuple[str, ...]
    cells: int
    cost: float


@dataclass(frozen=True, kw_only=True)
class Plan:
    id: str
    harness_version: str
    matrix: str
    shards: int
    wheels: tuple[tuple[str, str], ...]  # (filename, sha256)
    jobs: tuple[Job, ...]
    cells: tuple[Cell, ...]
    out_of_scope: tuple[tuple[str, str], ...]  # (filename, reason)

    def job(self, job_id: str) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        known = ", ".join(j.id for j in self.jobs) or "none"
        raise UsageError(f"plan {self.id[:12]} has no job {job_id!r} (jobs: {known})")

    @property
    def matrix_name(self) -> str:
        """The matrix's name (``matrix`` may be a path to its .toml)."""
        return self.matrix.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".toml")

    def runnable_jobs(self) -> tuple[Job, ...]:
        """Jobs with at least one cell (an empty Linux shard needs no CI job)."""
        return tuple(j for j in self.jobs if j.cells)

    def cells_of(self, job_id: str) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.job == job_id)

    def to_json(self) -> dict[str, Any]:
        return {"schema": PLAN_SCHEMA, "id": self.id, **_body(self)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def _body(plan: Plan) -> dict[str, Any]:
    return {
        "harness": plan.harness_version,
        "matrix": plan.matrix,
        "shards": plan.shards,
        "wheels": [{"filename": f, "sha256": s} for f, s in plan.wheels],
        "jobs": [
            {
                "id": j.id,
                "runner": str(j.runner),
                "shard": j.shard,
                "python": j.python,
                "envs": list(j.envs),
                "cells": j.cells,
                "cost": j.cost,
            }
            for j in plan.jobs
        ],
        "cells": [
            {"env": c.env, "wheel": c.wheel, "job": c.job, "cost": c.cost} for c in plan.cells
        ],
        "out_of_scope": [{"wheel": w, "reason": r} for w, r in plan.out_of_scope],
    }


def plan_id(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), 1 <= K <= N."""
    m = _SHARD.match(text)
    if m is None or not 1 <= int(m[1]) <= int(m[2]):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N, or a job id")
    return int(m[1]), int(m[2])


def shard_job_id(k: int) -> str:
    return f"linux-{k}"


# ------------------------------------------------------------------------ computing


def _pythons_of(wheel: WheelFile) -> set[str]:
    """CPython versions a wheel is built for: cp312 -> 3.12, cp313t -> 3.13t, abi3 -> its
    minimum. PyPy/GraalPy and py3-none wheels give none (host jobs are CPython)."""
    out: set[str] = set()
    for tag in wheel.tags:
        m = re.match(r"^cp(\d)(\d+)$", tag.interpreter)
        if m is None:
            continue
        threaded = tag.abi.endswith("t") and tag.abi.startswith("cp")
        out.add(f"{m[1]}.{m[2]}{'t' if threaded else ''}")
    return out


def _version_key(python: str) -> tuple[int, int, bool]:
    return parse_python(python, "python")


@dataclass
class _Draft:
    env: str
    wheel: str
    cost: float
    runner: RunnerKind
    python: str | None


def compute(
    wheels: Sequence[tuple[WheelFile, str]],
    matrix: Matrix,
    shards: int,
    *,
    host_kinds: Sequence[RunnerKind] = HOST_KINDS,
    min_python: Mapping[RunnerKind, tuple[int, int]] | None = None,
    matrix_ref: str | None = None,
) -> Plan:
    """The plan for ``wheels`` (WheelFile, sha256) over ``matrix`` with ``shards`` shards."""
    if not 1 <= shards <= 256:
        raise UsageError(f"--shards {shards}: expected 1..256")
    if not wheels:
        raise UsageError("no wheels to plan")
    minimum = DEFAULT_MIN_PYTHON if min_python is None else min_python
    by_project: dict[NormalizedName, list[WheelFile]] = {}
    for wf, _ in wheels:
        by_project.setdefault(wf.project, []).append(wf)
    drafts: list[_Draft] = []
    seen_where: dict[str, list[tuple[str, str]]] = {}  # wheel -> [(env, picked there)]
    skipped: dict[str, str] = {}  # wheel -> why a host kind cannot run it

    def place(
        env: str, tags: Sequence[str], cost: float, runner: RunnerKind, python: str | None
    ) -> None:
        supported = {t for text in tags for t in parse_tag(text)}
        for group in by_project.values():
            chosen = pick(group, tags)
            for wf in group:
                if wf.tags & supported:
                    seen_where.setdefault(wf.filename, []).append(
                        (env, chosen.filename if chosen else "")
                    )
            if chosen is not None:
                drafts.append(
                    _Draft(env=env, wheel=chosen.filename, cost=cost, runner=runner, python=python)
                )

    for spec in matrix.envs:
        where = f"{spec.source or matrix.name}: env.{spec.name}"
        if spec.kind is EnvKind.HOST:
            if not spec.python:
                continue  # "this machine": not plannable; the runner host jobs stand for it
            tags = cpython_tag_list(spec.python, host_platforms(RunnerKind.LINUX_HOST), where)
            place(spec.name, tags, COST_HOST, RunnerKind.LINUX_HOST, spec.python)
            continue
        python, arch, plats = container_platforms(spec)
        # another arch, or a CPU model (qemu -cpu, harness/envs cpu = "..."): emulated
        emulated = arch not in NATIVE_ARCHES or getattr(spec, "cpu", None)
        cost = COST_QEMU if emulated else COST_NATIVE
        place(spec.name, cpython_tag_list(python, plats, where), cost, RunnerKind.LINUX, None)

    for kind in host_kinds:
        plats = host_platforms(kind)
        platset = set(plats)
        mine = [wf for wf, _ in wheels if any(t.platform in platset for t in wf.tags)]
        versions = sorted({v for wf in mine for v in _pythons_of(wf)}, key=_version_key)
        floor = minimum.get(kind)
        for python in versions:
            major, minor, _ = _version_key(python)
            if floor is not None and (major, minor) < floor:
                for wf in mine:
                    if python in _pythons_of(wf):
                        skipped.setdefault(
                            wf.filename,
                            f"setup-python has no CPython {python} for {kind} runners",
                        )
                continue
            env = f"{kind}-py{python}"
            place(env, cpython_tag_list(python, plats, env), COST_HOST, kind, python)

    cells = _assign(drafts, shards)
    planned = {c.wheel for c in cells}
    out_of_scope: list[tuple[str, str]] = []
    for wf, _ in wheels:
        if wf.filename in planned:
            continue
        if wf.filename in skipped:
            reason = skipped[wf.filename]
        elif seen_where.get(wf.filename):
            env, chosen = seen_where[wf.filename][0]
            reason = f"pip installs {chosen} instead in {env} (a more preferred wheel)"
        else:
            reason = (
                f"no env of matrix {matrix.name} and no runner kind installs it "
                f"({sorted(str(t) for t in wf.tags)[0]})"
            )
        out_of_scope.append((wf.filename, reason))

    jobs: list[Job] = []
    for k in range(1, shards + 1):
        mine_cells = [c for c in cells if c.job == shard_job_id(k)]
        jobs.append(
            Job(
                id=shard_job_id(k),
                runner=RunnerKind.LINUX,
                shard=k,
                python=None,
                envs=tuple(dict.fromkeys(c.env for c in mine_cells)),
                cells=len(mine_cells),
                cost=_cost(mine_cells),
            )
        )
    host_jobs: dict[str, _Draft] = {}
    for d in drafts:
        if d.runner is not RunnerKind.LINUX:
            host_jobs.setdefault(d.env, d)
    for env, d in host_jobs.items():
        mine_cells = [c for c in cells if c.job == env]
        jobs.append(
            Job(
                id=env,
                runner=d.runner,
                shard=None,
                python=d.python,
                envs=(env,),
                cells=len(mine_cells),
                cost=_cost(mine_cells),
            )
        )
    draft = Plan(
        id="",
        harness_version=__version__,
        matrix=matrix_ref or matrix.name,
        shards=shards,
        wheels=tuple(sorted((wf.filename, sha) for wf, sha in wheels)),
        jobs=tuple(jobs),
        cells=tuple(cells),
        out_of_scope=tuple(sorted(out_of_scope)),
    )
    return Plan(**{**draft.__dict__, "id": plan_id(_body(draft))})


def _cost(cells: Sequence[Cell]) -> float:
    envs = {c.env for c in cells}
    return round(sum(c.cost for c in cells) + COST_ENV_SETUP * len(envs), 3)


def _assign(drafts: Sequence[_Draft], shards: int) -> list[Cell]:
    """Deterministic LPT: container cells, most expensive first (then env, wheel), each onto
    the shard where it adds least to the load (an env new to a shard adds its set-up);
    ties go to the lowest shard number. Host cells keep their own job."""
    unique: dict[tuple[str, str], _Draft] = {}
    for d in drafts:
        unique.setdefault((d.env, d.wheel), d)
    container = sorted(
        (d for d in unique.values() if d.runner is RunnerKind.LINUX),
        key=lambda d: (-d.cost, d.env, d.wheel),
    )
    load = [0.0] * shards
    envs: list[set[str]] = [set() for _ in range(shards)]
    cells: list[Cell] = []
    for d in container:
        best = min(
            range(shards),
            key=lambda i: (
                load[i] + d.cost + (0.0 if d.env in envs[i] else COST_ENV_SETUP),
                i,
            ),
        )
        load[best] += d.cost + (0.0 if d.env in envs[best] else COST_ENV_SETUP)
        envs[best].add(d.env)
        cells.append(Cell(env=d.env, wheel=d.wheel, job=shard_job_id(best + 1), cost=d.cost))
    for d in unique.values():
        if d.runner is not RunnerKind.LINUX:
            cells.append(Cell(env=d.env, wheel=d.wheel, job=d.env, cost=d.cost))
    return sorted(cells, key=lambda c: (c.job, c.env, c.wheel))


# ------------------------------------------------------------------------ reading


def from_json(doc: object, where: str) -> Plan:
    """A plan document (plan.json, or a report's ``plan`` block) -> Plan; InputError naming
    ``where`` and the key on anything malformed, and when the id does not match the body."""

    def bad(key: str, what: str) -> InputError:
        return InputError(f"{where}: {key}: {what}")

    if not isinstance(doc, dict):
        raise bad("$", "expected an object")
    if doc.get("schema") != PLAN_SCHEMA:
        raise bad("schema", f"expected {PLAN_SCHEMA!r}, got {doc.get('schema')!r}")

    def text(obj: Mapping[str, Any], key: str, at: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            raise bad(f"{at}.{key}", "expected a non-empty string")
        return value

    def number(obj: Mapping[str, Any], key: str, at: str) -> float:
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise bad(f"{at}.{key}", "expected a non-negative number")
        return float(value)

    def items(key: str) -> list[Mapping[str, Any]]:
        value = doc.get(key)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise bad(key, "expected a list of objects")
        return value

    shards = doc.get("shards")
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 256:
        raise bad("shards", "expected an integer 1..256")
    jobs: list[Job] = []
    for i, j in enumerate(items("jobs")):
        at = f"jobs[{i}]"
        runner = j.get("runner")
        if runner not in {str(k) for k in RunnerKind}:
            raise bad(f"{at}.runner", f"unknown runner kind {runner!r}")
        shard = j.get("shard")
        python = j.get("python")
        envs = j.get("envs")
        if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
            raise bad(f"{at}.envs", "expected a list of strings")
        if shard is not None and (isinstance(shard, bool) or not isinstance(shard, int)):
            raise bad(f"{at}.shard", "expected an integer or null")
        if python is not None:
            parse_python(str(python), f"{where}: {at}.python")
        jobs.append(
            Job(
                id=text(j, "id", at),
                runner=RunnerKind(str(runner)),
                shard=shard,
                python=str(python) if python is not None else None,
                envs=tuple(envs),
                cells=int(number(j, "cells", at)),
                cost=number(j, "cost", at),
            )
        )
    plan = Plan(
        id=text(doc, "id", "$"),
        harness_version=text(doc, "harness", "$"),
        matrix=text(doc, "matrix", "$"),
        shards=shards,
        wheels=tuple(
            (text(w, "filename", f"wheels[{i}]"), text(w, "sha256", f"wheels[{i}]"))
            for i, w in enumerate(items("wheels"))
        ),
        jobs=tuple(jobs),
        cells=tuple(
            Cell(
                env=text(c, "env", f"cells[{i}]"),
                wheel=text(c, "wheel", f"cells[{i}]"),
                job=text(c, "job", f"cells[{i}]"),
                cost=number(c, "cost", f"cells[{i}]"),
            )
            for i, c in enumerate(items("cells"))
        ),
        out_of_scope=tuple(
            (text(o, "wheel", f"out_of_scope[{i}]"), text(o, "reason", f"out_of_scope[{i}]"))
            for i, o in enumerate(items("out_of_scope"))
        ),
    )
    job_ids = {j.id for j in plan.jobs}
    if len(job_ids) != len(plan.jobs):
        raise bad("jobs", "a job id is listed twice")
    names = {f for f, _ in plan.wheels}
    if len(names) != len(plan.wheels):
        raise bad("wheels", "a wheel is listed twice")
    for i, c in enumerate(plan.cells):
        if c.job not in job_ids:
            raise bad(f"cells[{i}].job", f"{c.job!r} is not a job of the plan")
        if c.wheel not in names:
            raise bad(f"cells[{i}].wheel", f"{c.wheel!r} is not a wheel of the plan")
    if len({c.key for c in plan.cells}) != len(plan.cells):
        raise bad("cells", "a cell (env, wheel) is listed twice")
    for i, (wheel, _) in enumerate(plan.out_of_scope):
        if wheel not in names:
            raise bad(f"out_of_scope[{i}].wheel", f"{wheel!r} is not a wheel of the plan")
    if plan_id(_body(plan)) != plan.id:
        raise bad("id", "does not match the plan's content (edited after planning?)")
    return plan


def load(path: str | Any, where: str | None = None) -> Plan:
    from pathlib import Path

    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > 64 * 1024 * 1024:
        raise InputError(f"{p}: larger than 64 MiB")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    return from_json(doc, where or str(p))


def plan_for(
    paths: Sequence[Any], matrix: Matrix, shards: int, matrix_ref: str | None = None
) -> Plan:
    """The plan of the wheels at ``paths`` (files or directories of *.whl); ``matrix_ref``
    is how the command line named the matrix (a name, or a path relative to the project),
    recorded in the plan so every job loads the same one."""
    from pathlib import Path

    from harness.coverage import collect
    from harness.fsutil import sha256_file

    files: dict[str, Path] = {}
    for path in map(Path, paths):
        for p in sorted(path.glob("*.whl")) if path.is_dir() else [path]:
            files.setdefault(p.name, p)
    wheels = collect([Path(p) for p in paths])
    return compute(
        [(w, sha256_file(files[w.filename])) for w in wheels],
        matrix,
        shards,
        matrix_ref=matrix_ref,
    )
