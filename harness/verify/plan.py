"""From wheels + matrix to cells: inspect, prepare and probe envs, coverage picks, the
staged wheelhouse, test-requires and sources; then run the cells and write the report."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from harness import __version__, console
from harness import config as config_mod
from harness.checks.platforms import OS, parse_platform
from harness.coverage import WheelFile, compute, read_requires_python, required_families
from harness.coverage import parse_wheel as parse_wheel_name
from harness.envs import Environment, EnvKind, EnvSpec, Limits, Probe, environment
from harness.errors import HarnessError, UsageError
from harness.inspect import InspectResult, collect_wheels, inspect_paths
from harness.report.model import Report, Run, RunStatus
from harness.verify.cell import Task, redact
from harness.verify.pool import CellPool
from harness.verify.shard import Shard


def static_only_reason(filename: str) -> str:
    """Why no environment here can run a wheel (for the skipped cell)."""
    wf = parse_wheel_name(filename)
    kinds = {parse_platform(t.platform).os for t in wf.tags}
    if OS.MACOS in kinds:
        return "untested here: macOS wheel; runs in host mode on a macOS runner (--matrix host)"
    if OS.WINDOWS in kinds:
        return "untested here: Windows wheel; runs in host mode on a Windows runner (--matrix host)"
    return "untested here: no environment of this matrix installs this wheel"


def preflight(specs: Sequence[EnvSpec]) -> None:
    """Docker envs need a daemon (no daemon: one line and exit 3, not a grid of error
    cells) and their build tools (every missing one in one line, before any build)."""
    if any(spec.kind is not EnvKind.HOST for spec in specs):
        from harness.envs.daemon import ensure_daemon

        ensure_daemon()
        from harness.envs.images import preflight_specs

        preflight_specs(specs)


def prepare_envs(
    specs: Sequence[EnvSpec],
    log: Callable[[str], None],
    *,
    on_ready: Callable[[Environment, Probe], None] | None = None,
    checked: bool = False,
) -> tuple[list[tuple[Environment, Probe]], list[tuple[EnvSpec, str]]]:
    """Build/probe every env, in order; envs that cannot be had become (spec, reason)
    pairs. ``on_ready(env, probe)`` is called as soon as each env is ready (verify starts
    its cells then, while the next env is still being built or probed). ``checked``: the
    caller ran :func:`preflight` already."""
    ready: list[tuple[Environment, Probe]] = []
    broken: list[tuple[EnvSpec, str]] = []
    if not checked:
        preflight(specs)
    for spec in specs:
        env = environment(spec)
        try:
            if not env.is_ready():
                log(f"{spec.name}: preparing (building or pulling the image once, cached)")
                env.prepare(log=lambda m, n=spec.name: log(f"{n}: {m}"))
            probe = env.probe()
        except HarnessError as exc:
            if isinstance(exc, UsageError):
                raise
            broken.append((spec, str(exc)))
            continue
        ready.append((env, probe))
        if on_ready is not None:
            on_ready(env, probe)
    return ready, broken


def _stage_sources(cfg: config_mod.Config, dest: Path) -> Path | None:
    """Copy test-sources (relative to the pyproject.toml) into a dir mounted read-only."""
    if not cfg.test_sources:
        return None
    base = Path(cfg.source).parent if cfg.source else Path.cwd()
    dest.mkdir(parents=True)
    for rel in cfg.test_sources:
        src = base / rel
        if not src.exists():
            where = cfg.source or "pyproject.toml"
            raise UsageError(f"{where}: [tool.harness] test-sources: {src} does not exist")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, target)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the containers' user
    return dest


def _stage_wheelhouse(files: Sequence[Path], tmp: Path) -> tuple[Path, dict[str, str]]:
    """The read-only wheelhouse every cell installs from (hard links, else copies, of all
    the wheels) and the sha256 of each staged file (what each cell's pick must match)."""
    from harness.promote.snapshot import NotTaken, hash_regular

    wheelhouse = tmp / "wheelhouse"
    wheelhouse.mkdir()
    # readable by the containers' non-root users (mounted read-only)
    os.chmod(tmp, 0o755)  # noqa: S103
    os.chmod(wheelhouse, 0o755)  # noqa: S103
    sha: dict[str, str] = {}
    for p in files:
        target = wheelhouse / p.name
        try:
            os.link(p, target)
        except OSError:
            shutil.copyfile(p, target)
        os.chmod(target, 0o644)
        try:
            sha[p.name] = hash_regular(target)[0]
        except NotTaken:
            sha[p.name] = ""
    return wheelhouse, sha


def _same_files(runs: Sequence[Run], inspected: InspectResult) -> list[Run]:
    """A cell proves pip took the staged file (its sha256); inspection read the file
    itself, at the same time. Should they differ (the file was replaced meanwhile), the
    cell proves nothing about the inspected file: it fails, saying so."""
    seen = {w.wheel.filename: w.wheel.sha256 for w in inspected.wheels}
    out = []
    for run in runs:
        inspected_sha = seen.get(run.wheel_filename, run.wheel_sha256)
        if inspected_sha != run.wheel_sha256 and run.status is not RunStatus.ERROR:
            run = replace(
                run,
                status=RunStatus.FAILED,
                reason=f"the file changed while verify ran: inspected sha256 {inspected_sha}, "
                f"installed {run.wheel_sha256}",
            )
        out.append(run)
    return out


T = TypeVar("T")


class _Background(Generic[T]):
    """``fn()`` in a daemon thread; :meth:`result` joins it and re-raises its error."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="harness-envs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


@dataclass(frozen=True, kw_only=True)
class VerifyOutcome:
    report: Report
    report_dir: Path


def verify(
    wheels: Sequence[Path],
    specs: Sequence[EnvSpec],
    cfg: config_mod.Config,
    report_dir: Path,
    *,
    matrix_name: str,
    elsewhere: Sequence[EnvSpec] = (),
    log: Callable[[str], None] = console.info,
    shard: Shard | None = None,
    limits: Limits | None = None,
) -> VerifyOutcome:
    """Verify ``wheels`` in ``specs``; with ``shard``, only the cells of one job of a plan
    (``specs`` are then that job's envs) and the report carries the plan. ``limits``: one
    cell's memory/pid limits (default ``Limits()``; a shared container gets them times the
    cells that can run in it at once).

    Cells do not wait for the whole plan: the wheels are staged and hashed first, then a
    background thread prepares the envs one by one and submits each env's cells as soon
    as that env is probed, while this (main) thread inspects the wheels (the inspection's
    time budget needs the main thread's SIGALRM)."""
    files = collect_wheels(wheels)
    # with Requires-Python, as pip reads it: a py3-none-any wheel for >=3.11 is no
    # candidate in a 3.9 env (coverage 7.17.4, multidict 7.2.1)
    wheel_files: list[WheelFile] = [
        parse_wheel_name(p.name, read_requires_python(p)) for p in files
    ]
    preflight(specs)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="harness-wheelhouse-") as tmp:
        wheelhouse, sha = _stage_wheelhouse(files, Path(tmp))
        if shard is not None:
            shard.check_wheels(set(sha.items()))
        sources = _stage_sources(cfg, Path(tmp) / "project")

        with CellPool(cfg, log, limits) as pool:

            def start_cells(env: Environment, probe: Probe) -> None:
                picks = compute(wheel_files, [(env.spec, probe)]).envs
                pool.submit(
                    [
                        Task(
                            env=env,
                            probe=probe,
                            wheel=wheelhouse / pick.picked,
                            sha256=sha[pick.picked],
                            sources_dir=sources,
                        )
                        for pick in picks
                        if pick.picked and (shard is None or shard.wants(pick.env, pick.picked))
                    ]
                )

            prep = _Background(lambda: prepare_envs(specs, log, on_ready=start_cells, checked=True))
            inspected = inspect_paths(files, cfg.check_options(), progress=False)
            ready, broken = prep.result()
            cell_runs = pool.results()

        cov = compute(
            wheel_files,
            [(env.spec, probe) for env, probe in ready],
            matrix_name=f"matrix {matrix_name}",
            elsewhere=elsewhere,
        )
        if shard is not None:
            runs.extend(shard.unrunnable(cov.envs, broken, sha))
            broken = []
        for spec, reason in broken:
            # one error cell per env that could not be had (its picks are unknown)
            runs.append(
                Run(
                    env=spec.name,
                    python="",
                    platform="",
                    wheel_filename="-",
                    wheel_sha256="",
                    status=RunStatus.ERROR,
                    duration_s=0.0,
                    reason=redact(f"environment unavailable: {reason}"),
                )
            )
        runs.extend(_same_files(cell_runs, inspected))
    reasons = {w.filename: w.reason for w in cov.wheels}

    for filename in cov.untested if shard is None else ():
        runs.append(
            Run(
                env="static",
                python="",
                platform="",
                wheel_filename=filename,
                wheel_sha256=sha.get(filename, ""),
                status=RunStatus.SKIPPED,
                duration_s=0.0,
                reason=(
                    f"untested here: {reasons[filename]}"
                    if reasons.get(filename)
                    else static_only_reason(filename)
                ),
            )
        )
    report = Report(
        harness_version=__version__,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        config={"matrix": matrix_name, "envs": [s.name for s in specs], **cfg.to_json()},
        inspect=inspected.to_json(),
        runs=tuple(runs),
        envs=tuple(
            {"name": p.env, "python": p.python, "platform": p.platform, "picked": p.picked}
            for p in cov.envs
        ),
        untested=cov.untested if shard is None else (),
        plan=shard.report_block() if shard is not None else None,
        # a shard runs part of the matrix: coverage is the merged report's to say
        coverage=tuple(w.to_json() for w in cov.wheels) if shard is None else (),
        required=required_families(cfg.require_coverage) if shard is None else (),
    )
    from harness.report import write_report

    report_dir.mkdir(parents=True, exist_ok=True)
    write_report(report, report_dir)
    return VerifyOutcome(report=report, report_dir=report_dir)
