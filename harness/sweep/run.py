"""One sweep: resolve releases -> (refresh images) -> prepare envs and read their identities
-> verify each release (harness.verify, unchanged) -> diff with the history -> record ->
write the sweep report."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from harness import __version__, console
from harness import config as config_mod
from harness.envs import EnvKind, EnvSpec, environment
from harness.envs.base import ProgressLog
from harness.errors import UsageError
from harness.fsutil import atomic_write_text
from harness.redact import Redactor
from harness.report.model import Report
from harness.sweep import identity as identity_mod
from harness.sweep.diff import SweepDiff, compute
from harness.sweep.history import Cell, History, Sweep, new_id
from harness.sweep.releases import Release, Target, resolve
from harness.sweep.render import render_html, render_markdown

Log = ProgressLog


@dataclass(frozen=True, kw_only=True)
class SweepOutcome:
    sweep: Sweep
    diff: SweepDiff
    report_dir: Path
    history_diff_s: float  # reading the history + diff + recording (the sweep's own cost)


def cells_of(project: str, version: str, report: Report) -> list[Cell]:
    return [
        Cell(
            project=project,
            version=version,
            env=r.env,
            wheel=r.wheel_filename,
            sha256=r.wheel_sha256,
            status=str(r.status),
            reason=r.reason,
        )
        for r in report.runs
    ]


def refresh_images(specs: Sequence[EnvSpec], log: Log) -> dict[str, str]:
    """Rebuild recipe images whose Debian suite moved since they were built.

    Returns {env: why it was rebuilt}. Images not built yet are left to verify (a first
    build is fresh anyway); images without a known base are kept."""
    from harness.envs import images

    rebuilt: dict[str, str] = {}
    done: set[str] = set()
    for spec in specs:
        if spec.kind is EnvKind.DOCKER_IMAGE and spec.image:
            rebuilt.update(_pull(spec, log))
            continue
        if spec.kind is not EnvKind.DOCKER_RECIPE or spec.recipe is None:
            continue
        if spec.recipe in done:
            continue
        done.add(spec.recipe)
        env = environment(spec)
        if not env.is_ready():
            continue
        ident = identity_mod.identify(env, env.probe())
        up = identity_mod.upstream(ident)
        if up is None:
            log(f"{spec.name}: no Debian base recorded in the image; kept (rebuilt only when "
                "its recipe changes)")  # fmt: skip
            continue
        if not up.moved:
            log(f"{spec.name}: up to date with {ident['base']} (Release {up.date})")
            continue
        why = f"{len(up.changes)} package(s) moved upstream: " + "; ".join(up.changes[:5])
        log(f"{spec.name}: rebuilding, {why}")
        recipe = images.load_recipe(spec.recipe, origin=spec)
        images.build(recipe, log=log, force=True)
        rebuilt[spec.name] = why
    return rebuilt


def _pull(spec: EnvSpec, log: Log) -> dict[str, str]:
    """A registry image is refreshed by pulling its reference again (a moved tag)."""
    from harness.envs.daemon import docker, error_line, image_inspect

    assert spec.image is not None
    before = image_inspect(spec.image)
    args = ["pull", "--quiet", *(["--platform", spec.platform] if spec.platform else [])]
    done = docker([*args, spec.image], check=False, timeout=1800)
    if done.returncode != 0:
        log(f"{spec.name}: cannot pull {spec.image} ({error_line(done)}); the local image is used")
        return {}
    after = image_inspect(spec.image)
    if before is not None and after is not None and before.get("Id") != after.get("Id"):
        return {spec.name: f"{spec.image} moved on its registry"}
    return {}


@contextmanager
def _no_step_summary() -> Iterator[None]:
    """verify appends each release's summary to $GITHUB_STEP_SUMMARY; a sweep's summary
    must lead with the diff, so it is appended once, by the sweep, at the end."""
    saved = os.environ.pop("GITHUB_STEP_SUMMARY", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["GITHUB_STEP_SUMMARY"] = saved


def _slug(release: Release) -> str:
    return f"{release.project}-{release.version}"


def sweep(
    targets: Sequence[Target],
    *,
    index_url: str,
    specs: Sequence[EnvSpec],
    matrix_name: str,
    count: int,
    refresh: bool,
    history: History,
    report_dir: Path,
    cfg: config_mod.Config,
    log: Log = console.info,
) -> SweepOutcome:
    from harness.release import download_release
    from harness.report import _append_step_summary
    from harness.verify.plan import prepare_envs, verify

    sweep_id, created = new_id()
    releases = resolve(index_url, list(targets), count)
    log(f"sweep {sweep_id}: " + ", ".join(r.spec for r in releases))
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report-dir {report_dir}: {exc.strerror or exc}") from None

    # the history is read first: an unreachable store fails the sweep before hours of work
    t0 = time.perf_counter()
    projects = sorted({str(r.project) for r in releases})
    previous: dict[str, Sweep | None] = {p: history.previous(p, matrix_name) for p in projects}
    history_s = time.perf_counter() - t0

    rebuilt = refresh_images(specs, log) if refresh else {}
    ready, _broken = prepare_envs(specs, log)
    identities: dict[str, identity_mod.Identity] = {}
    for env, probe in ready:
        ident = identity_mod.identify(env, probe)
        if env.spec.name in rebuilt:
            ident["refreshed"] = rebuilt[env.spec.name]
        identities[env.spec.name] = ident

    cells: list[Cell] = []
    report_dirs: dict[str, str] = {}
    for release in releases:
        wheels = download_release(release.spec, index_url)
        out = report_dir / _slug(release)
        log(f"verifying {release.spec} ({len(wheels)} wheel(s)) -> {out}/")
        with _no_step_summary():
            outcome = verify(
                wheels,
                specs,
                replace(cfg, index_url=index_url),
                out,
                matrix_name=matrix_name,
                log=log,
            )
        cells += cells_of(release.project, release.version, outcome.report)
        report_dirs[release.spec] = _slug(release)

    t0 = time.perf_counter()
    current = Sweep(
        id=sweep_id,
        created=created,
        harness_version=__version__,
        matrix=matrix_name,
        index_url=Redactor.from_env(os.environ)(_strip_userinfo(index_url)),
        releases=tuple((r.project, r.version) for r in releases),
        envs=identities,
        cells=tuple(cells),
    )
    diff = compute(previous, current)
    current = replace(current, summary={"counts": diff.counts(), "exit_code": diff.exit_code})
    history.record(current)
    elapsed = history_s + time.perf_counter() - t0

    summary = render_markdown(current, diff, report_dirs)
    doc = {
        "schema": "harness-sweep-report/1",
        "history": history.where,
        "sweep": current.to_json(),
        "diff": diff.to_json(),
        "reports": report_dirs,
        "timings": {"history_diff_s": round(elapsed, 4)},
    }
    atomic_write_text(report_dir / "sweep.json", json.dumps(doc, indent=2) + "\n")
    atomic_write_text(report_dir / "report.html", render_html(current, diff, report_dirs))
    atomic_write_text(report_dir / "summary.md", summary)
    _append_step_summary(summary)
    return SweepOutcome(sweep=current, diff=diff, report_dir=report_dir, history_diff_s=elapsed)


def _strip_userinfo(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
