"""The product of a sweep: what changed since the previous sweep of each project.

A cell is (project, version, env, wheel). Against the previous sweep of the same project
over the same matrix:

- **new failure**: failed or error now, and not failed/error in the previous sweep (it
  passed, or it did not exist: a new release, a new env, a wheel no env ran before). With
  what changed in its env (identity fields, packages) and whether the file changed.
- **fixed**: passed now, failed/error before.
- **unchanged failure**: failed/error both times (listed, never a reason to exit 1).
- **new releases**, **releases no longer swept**, **new envs**, **envs gone**, **changed
  envs** (their identity differs), **newly untested** wheels (some env ran them before,
  none does now).

A project with no previous sweep is a baseline: all its failures are new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.sweep.history import Cell, Sweep
from harness.sweep.identity import changes


@dataclass(frozen=True, kw_only=True)
class CellChange:
    cell: Cell
    before: Cell | None
    was: str  # passed|failed|error|skipped|new release|new env|not run|first sweep
    env_changes: tuple[str, ...] = ()
    wheel_changed: bool = False  # same file name, other sha256 than last sweep

    def to_json(self) -> dict[str, Any]:
        return {
            **self.cell.to_json(),
            "was": self.was,
            "reason_before": self.before.reason if self.before else "",
            "env_changes": list(self.env_changes),
            "wheel_changed": self.wheel_changed,
        }


@dataclass(frozen=True, kw_only=True)
class SweepDiff:
    baselines: Mapping[str, str | None]  # project -> previous sweep id (None: first sweep)
    new_failures: tuple[CellChange, ...] = ()
    fixed: tuple[CellChange, ...] = ()
    unchanged_failures: tuple[CellChange, ...] = ()
    new_releases: tuple[tuple[str, str], ...] = ()
    gone_releases: tuple[tuple[str, str], ...] = ()
    new_envs: tuple[str, ...] = ()
    gone_envs: tuple[str, ...] = ()
    changed_envs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    newly_untested: tuple[Cell, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if self.new_failures else 0

    def counts(self) -> dict[str, int]:
        return {
            "new_failures": len(self.new_failures),
            "fixed": len(self.fixed),
            "unchanged_failures": len(self.unchanged_failures),
            "new_releases": len(self.new_releases),
            "gone_releases": len(self.gone_releases),
            "new_envs": len(self.new_envs),
            "gone_envs": len(self.gone_envs),
            "changed_envs": len(self.changed_envs),
            "newly_untested": len(self.newly_untested),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "baselines": dict(self.baselines),
            "counts": self.counts(),
            "new_failures": [c.to_json() for c in self.new_failures],
            "fixed": [c.to_json() for c in self.fixed],
            "unchanged_failures": [c.to_json() for c in self.unchanged_failures],
            "new_releases": [{"project": p, "version": v} for p, v in self.new_releases],
            "gone_releases": [{"project": p, "version": v} for p, v in self.gone_releases],
            "new_envs": list(self.new_envs),
            "gone_envs": list(self.gone_envs),
            "changed_envs": {k: list(v) for k, v in self.changed_envs.items()},
            "newly_untested": [c.to_json() for c in self.newly_untested],
        }


def _ran(cells: tuple[Cell, ...] | list[Cell]) -> set[tuple[str, str, str]]:
    return {
        (c.project, c.version, c.wheel)
        for c in cells
        if c.status != "skipped" and c.env != "static" and c.wheel != "-"
    }


def compute(previous: Mapping[str, Sweep | None], current: Sweep) -> SweepDiff:
    new_failures: list[CellChange] = []
    fixed: list[CellChange] = []
    unchanged: list[CellChange] = []
    new_releases: list[tuple[str, str]] = []
    gone_releases: list[tuple[str, str]] = []
    new_envs: set[str] = set()
    gone_envs: set[str] = set()
    changed_envs: dict[str, tuple[str, ...]] = {}
    newly_untested: list[Cell] = []

    for project in current.projects:
        prev = previous.get(project)
        cells = [c for c in current.cells if c.project == project]
        releases = {r for r in current.releases if r[0] == project}
        if prev is None:
            new_releases += sorted(releases)
            for c in cells:
                if c.bad:
                    new_failures.append(CellChange(cell=c, before=None, was="first sweep"))
            continue
        prev_cells = {c.key: c for c in prev.cells if c.project == project}
        prev_releases = {r for r in prev.releases if r[0] == project}
        new_releases += sorted(releases - prev_releases)
        gone_releases += sorted(prev_releases - releases)
        new_envs |= set(current.envs) - set(prev.envs)
        gone_envs |= set(prev.envs) - set(current.envs)
        env_changes: dict[str, tuple[str, ...]] = {}
        for name in sorted(set(current.envs) & set(prev.envs)):
            diff = tuple(changes(prev.envs[name], current.envs[name]))
            if diff:
                env_changes[name] = diff
                changed_envs.setdefault(name, diff)
        for c in cells:
            before = prev_cells.get(c.key)
            if before is None:
                if (c.project, c.version) not in prev_releases:
                    was = "new release"
                elif c.env not in prev.envs and c.env != "static":
                    was = "new env"
                else:
                    was = "not run"
            else:
                was = before.status
            change = CellChange(
                cell=c,
                before=before,
                was=was,
                env_changes=env_changes.get(c.env, ()),
                wheel_changed=before is not None and before.sha256 != c.sha256,
            )
            if c.bad and before is not None and before.bad:
                unchanged.append(change)
            elif c.bad:
                new_failures.append(change)
            elif c.status == "passed" and before is not None and before.bad:
                fixed.append(change)
        ran_now = _ran(cells)
        for key in sorted(_ran(list(prev_cells.values())) - ran_now):
            if (key[0], key[1]) not in releases:
                continue
            now = next(
                (c for c in cells if (c.project, c.version, c.wheel) == key),
                Cell(project=key[0], version=key[1], env="static", wheel=key[2], sha256="",
                     status="skipped", reason="not in this sweep"),
            )  # fmt: skip
            newly_untested.append(now)

    return SweepDiff(
        baselines={p: (s.id if s else None) for p, s in previous.items()},
        new_failures=tuple(new_failures),
        fixed=tuple(fixed),
        unchanged_failures=tuple(unchanged),
        new_releases=tuple(new_releases),
        gone_releases=tuple(gone_releases),
        new_envs=tuple(sorted(new_envs)),
        gone_envs=tuple(sorted(gone_envs)),
        changed_envs=changed_envs,
        newly_untested=tuple(newly_untested),
    )
