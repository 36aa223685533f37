"""From wheels + matrix to cells: inspect, prepare and probe envs, coverage picks, the
staged wheelhouse, test-requires and sources; then run the cells and write the report."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness import __version__, console
from harness import config as config_mod
from harness.checks.platforms import OS, parse_platform
from harness.coverage import WheelFile, compute, read_requires_python, required_families
from harness.coverage import parse_wheel as parse_wheel_name
from harness.envs import Environment, EnvKind, EnvSpec, Probe, environment
from harness.errors import HarnessError, UsageError
from harness.inspect import InspectResult, inspect_paths
from harness.report.model import Report, Run, RunStatus
from harness.verify.cell import Task, redact
from harness.verify.pool import execute
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


def prepare_envs(
    specs: Sequence[EnvSpec], log: Callable[[str], None]
) -> tuple[list[tuple[Environment, Probe]], list[tuple[EnvSpec, str]]]:
    """Build/probe every env; envs that cannot be had become (spec, reason) pairs."""
    ready: list[tuple[Environment, Probe]] = []
    broken: list[tuple[EnvSpec, str]] = []
    if any(spec.kind is not EnvKind.HOST for spec in specs):
        from harness.envs.daemon import ensure_daemon

        ensure_daemon()  # no daemon: one line and exit 3, not a grid of error cells
        from harness.envs.images import preflight_specs

        preflight_specs(specs)  # every missing host tool in one line, before any build
    for spec in specs:
        env = environment(spec)
        try:
            if not env.is_ready():
                log(f"{spec.name}: preparing (building or pulling the image once, cached)")
                env.prepare(log=lambda m, n=spec.name: log(f"{n}: {m}"))
            ready.append((env, env.probe()))
        except HarnessError as exc:
            if isinstance(exc, UsageError):
                raise
            broken.append((spec, str(exc)))
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
) -> VerifyOutcome:
    """Verify ``wheels`` in ``specs``; with ``shard``, only the cells of one job of a plan
    (``specs`` are then that job's envs) and the report carries the plan."""
    inspected: InspectResult = inspect_paths(wheels, cfg.check_options())
    if shard is not None:
        shard.check_wheels({(w.wheel.filename, w.wheel.sha256) for w in inspected.wheels})
    files = [w.wheel.path for w in inspected.wheels]
    # with Requires-Python, as pip reads it: a py3-none-any wheel for >=3.11 is no
    # candidate in a 3.9 env (coverage 7.17.4, multidict 7.2.1)
    wheel_files: list[WheelFile] = [
        parse_wheel_name(p.name, read_requires_python(p)) for p in files
    ]
    ready, broken = prepare_envs(specs, log)
    cov = compute(
        wheel_files,
        [(env.spec, probe) for env, probe in ready],
        matrix_name=f"matrix {matrix_name}",
        elsewhere=elsewhere,
    )
    reasons = {w.filename: w.reason for w in cov.wheels}
    sha = {w.wheel.filename: w.wheel.sha256 for w in inspected.wheels}

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="harness-wheelhouse-") as tmp:
        wheelhouse = Path(tmp) / "wheelhouse"
        wheelhouse.mkdir()
        # readable by the containers' non-root user (mounted read-only)
        os.chmod(tmp, 0o755)  # noqa: S103
        os.chmod(wheelhouse, 0o755)  # noqa: S103
        for p in files:
            target = wheelhouse / p.name
            try:
                os.link(p, target)
            except OSError:
                shutil.copyfile(p, target)
            os.chmod(target, 0o644)
        sources = _stage_sources(cfg, Path(tmp) / "project")
        tasks: list[Task] = []
        for env, probe in ready:
            for pick in cov.envs:
                if shard is not None and not shard.wants(pick.env, pick.picked):
                    continue
                if pick.env == env.spec.name and pick.picked:
                    tasks.append(
                        Task(
                            env=env,
                            probe=probe,
                            wheel=wheelhouse / pick.picked,
                            sha256=sha[pick.picked],
                            sources_dir=sources,
                        )
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
        runs.extend(execute(tasks, cfg, log))

    for filename in cov.untested if shard is None else ():
        runs.append(
            Run(
                env="static",
                python="",
                platform="",
                wheel_filename=filename,
                wheel_sha256=sha[filename],
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
