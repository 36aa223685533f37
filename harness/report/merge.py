"""`harness merge`: the shard reports of one plan -> one report.

Every shard report carries the plan it ran a part of (``plan`` in report.json, with its
``job``). The merge refuses (exit 2, one line) reports of different plans, wheel sets or
sha256s, a run of a cell the plan does not have, and a cell reported twice with different
results. A planned cell no report has (a shard that never ran, or whose report was lost)
becomes an *error* run "untested: ..." naming its job, so the merged verdict fails (exit 1)
and the missing cells are named; wheels the plan put out of scope are listed as static
(skipped) runs with the plan's reason.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__, console
from harness.coverage import family, parse_wheel, required_families
from harness.errors import InputError, UsageError
from harness.report.model import Report, Run, RunStatus, Step, Verdict

MAX_REPORT_BYTES = 64 * 1024 * 1024
STATIC_ENV = "static"
UNTESTED_PREFIX = "untested: "


@dataclass(frozen=True, kw_only=True)
class Shard:
    source: Path
    doc: Mapping[str, Any]
    plan: Any  # harness.ci.plan.Plan
    job: str
    runs: tuple[Run, ...]


@dataclass(frozen=True, kw_only=True)
class MergeOutcome:
    report: Report
    missing: tuple[tuple[str, str, str], ...]  # (job, env, wheel) planned, never reported


def _read(path: Path) -> Shard:
    from harness.ci.plan import from_json
    from harness.promote.gate import load_report

    source = path / "report.json" if path.is_dir() else path
    load_report(source)  # the one validator of harness-report/1: every problem named
    raw = source.read_bytes()
    if len(raw) > MAX_REPORT_BYTES:
        raise InputError(f"{source}: larger than {MAX_REPORT_BYTES} bytes")
    doc = json.loads(raw)
    block = doc.get("plan")
    if not isinstance(block, dict):
        raise InputError(
            f"{source}: plan: missing (not a shard report: run `harness verify --shard`)"
        )
    plan = from_json(block, f"{source}: plan")
    job = block.get("job")
    if not isinstance(job, str) or job not in {j.id for j in plan.jobs}:
        raise InputError(f"{source}: plan.job: {job!r} is not a job of plan {plan.id[:12]}")
    return Shard(
        source=source,
        doc=doc,
        plan=plan,
        job=job,
        runs=tuple(_run(r) for r in doc.get("runs", [])),
    )


def _run(doc: Mapping[str, Any]) -> Run:
    wheel = doc.get("wheel") or {}
    return Run(
        env=str(doc.get("env", "")),
        python=str(doc.get("python", "")),
        platform=str(doc.get("platform", "")),
        wheel_filename=str(wheel.get("filename", "")),
        wheel_sha256=str(wheel.get("sha256", "")),
        status=RunStatus(str(doc.get("status"))),
        duration_s=float(doc.get("duration_s", 0.0)),
        reason=str(doc.get("reason") or ""),
        steps=tuple(
            Step(
                name=str(s.get("name", "")),
                status=RunStatus(str(s.get("status", "error")))
                if s.get("status") in {str(x) for x in RunStatus}
                else RunStatus.ERROR,
                duration_s=float(s.get("duration_s") or 0.0)
                if isinstance(s.get("duration_s"), int | float)
                else 0.0,
                command=str(s.get("command") or ""),
                returncode=s.get("returncode") if isinstance(s.get("returncode"), int) else None,
                output_tail=str(s.get("output_tail") or ""),
                detail=dict(s["detail"]) if isinstance(s.get("detail"), dict) else {},
            )
            for s in doc.get("steps", [])
            if isinstance(s, dict)
        ),
    )


def _same(a: Run, b: Run) -> bool:
    return (a.status, a.reason, a.wheel_sha256) == (b.status, b.reason, b.wheel_sha256)


def merge(paths: Sequence[Path]) -> MergeOutcome:
    if not paths:
        raise UsageError("give at least one shard report directory")
    shards = [_read(Path(p)) for p in paths]
    first = shards[0]
    plan = first.plan
    wheels = dict(plan.wheels)
    for s in shards[1:]:
        if s.plan.id != plan.id:
            raise InputError(
                f"{s.source}: plan {s.plan.id[:12]} differs from {first.source}'s "
                f"{plan.id[:12]} (shards of different plans)"
            )
    for s in shards:
        inspected = {
            (str(w.get("filename")), str(w.get("sha256")))
            for w in s.doc.get("inspect", {}).get("wheels", [])
        }
        if inspected != set(plan.wheels):
            diff = sorted(inspected ^ set(plan.wheels))[0]
            raise InputError(
                f"{s.source}: its wheels differ from plan {plan.id[:12]} "
                f"({diff[0]} sha256 {diff[1][:12]}…)"
            )

    planned = {c.key: c for c in plan.cells}
    runs: dict[tuple[str, str], tuple[Run, Path]] = {}
    for s in shards:
        for run in s.runs:
            if run.env == STATIC_ENV:
                continue
            key = (run.env, run.wheel_filename)
            if key not in planned:
                raise InputError(
                    f"{s.source}: cell {run.env} x {run.wheel_filename} is not in plan "
                    f"{plan.id[:12]}"
                )
            if run.wheel_sha256 != wheels.get(run.wheel_filename):
                raise InputError(
                    f"{s.source}: cell {run.env} x {run.wheel_filename} ran sha256 "
                    f"{run.wheel_sha256[:12]}…, the plan has {wheels[run.wheel_filename][:12]}…"
                )
            if key in runs:
                other, where = runs[key]
                if not _same(other, run):
                    raise InputError(
                        f"cell {run.env} x {run.wheel_filename} reported twice with different "
                        f"results: {other.status} in {where}, {run.status} in {s.source}"
                    )
                continue
            runs[key] = (run, s.source)

    merged: list[Run] = []
    missing: list[tuple[str, str, str]] = []
    for cell in plan.cells:
        if cell.key in runs:
            merged.append(runs[cell.key][0])
            continue
        missing.append((cell.job, cell.env, cell.wheel))
        merged.append(
            Run(
                env=cell.env,
                python="",
                platform="",
                wheel_filename=cell.wheel,
                wheel_sha256=wheels[cell.wheel],
                status=RunStatus.ERROR,
                duration_s=0.0,
                reason=f"{UNTESTED_PREFIX}no report of plan job {cell.job} has this cell",
            )
        )
    for wheel, reason in plan.out_of_scope:
        merged.append(
            Run(
                env=STATIC_ENV,
                python="",
                platform="",
                wheel_filename=wheel,
                wheel_sha256=wheels[wheel],
                status=RunStatus.SKIPPED,
                duration_s=0.0,
                reason=f"out of scope: {reason}",
            )
        )

    envs: dict[tuple[str, str], dict[str, Any]] = {}
    for s in shards:
        for e in s.doc.get("envs", []):
            if isinstance(e, dict):
                envs.setdefault((str(e.get("name")), str(e.get("picked"))), e)
    config = dict(first.doc.get("config", {}))
    config["envs"] = sorted({c.env for c in plan.cells})
    config["merged_from"] = sorted({s.job for s in shards})
    ran = {w for (_, w) in runs}
    require = config.get("require_coverage")
    report = Report(
        harness_version=__version__,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        config=config,
        inspect=dict(first.doc["inspect"]),
        runs=tuple(merged),
        envs=tuple(envs.values()),
        untested=tuple(sorted(w for w, _ in plan.wheels if w not in ran)),
        plan={**plan.to_json(), "job": None},
        coverage=_coverage(plan, runs, missing),
        required=required_families(require if isinstance(require, str) else None),
    )
    return MergeOutcome(report=report, missing=tuple(missing))


def _coverage(
    plan: Any,
    runs: Mapping[tuple[str, str], tuple[Run, Path]],
    missing: Sequence[tuple[str, str, str]],
) -> tuple[dict[str, Any], ...]:
    """Per wheel of the plan, the envs whose shard reported running it, or why none did:
    the same rows an unsharded verify writes, so the merged verdict says "N of M wheels ran"
    and ``require-coverage`` holds across shards."""

    out_of_scope = dict(plan.out_of_scope)
    lost: dict[str, list[str]] = {}
    for job, env, wheel in missing:
        lost.setdefault(wheel, []).append(f"{env} (job {job})")
    rows: list[dict[str, Any]] = []
    for filename, _sha in sorted(plan.wheels):
        ran_in = sorted({env for (env, w) in runs if w == filename})
        reason = ""
        if not ran_in:
            if filename in lost:
                reason = "no shard report has its cell(s): " + ", ".join(lost[filename])
            else:
                reason = out_of_scope.get(filename, "no cell of the plan installs it")
        rows.append(
            {
                "filename": filename,
                "family": str(family(parse_wheel(filename))),
                "ran_in": ran_in,
                "reason": reason or None,
            }
        )
    return tuple(rows)


# ---------------------------------------------------------------- `harness merge`

HELP = "merge the shard reports of one plan into one report"
DESCRIPTION = """\
Read REPORT_DIR/report.json of every shard (Linux container shards and host-mode jobs of
one `harness plan`) and write one report (report.json, junit.xml, summary.md, report.html)
to --report-dir. Planned cells no shard reported are errors ("untested: ..."), so a lost
shard fails the verdict; wheels the plan put out of scope are listed with its reason.

exit codes: 0 merged verdict pass, 1 a cell failed or is missing (named), 2 the reports
do not belong together (different plans, wheels or sha256s; a cell reported twice with
different results; a run the plan does not have).

example:
  harness merge shards/*/ --report-dir reports/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT_DIR")
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="OUT",
        help="(default ./reports)",
    )


def run(args: argparse.Namespace) -> int:
    from harness.report import write_report

    outcome = merge(args.reports)
    rep = outcome.report
    write_report(rep, args.report_dir)
    counts = rep.counts()
    if outcome.missing:
        jobs = sorted({j for j, _, _ in outcome.missing})
        cells = ", ".join(f"{e} x {w}" for _, e, w in outcome.missing[:5])
        more = f" (+{len(outcome.missing) - 5} more)" if len(outcome.missing) > 5 else ""
        console.fail(
            f"{len(outcome.missing)} planned cell(s) untested, no report of job(s) "
            f"{', '.join(jobs)}: {cells}{more}"
        )
    console.out().print(
        f"verdict: {rep.verdict_line}  ({counts['passed']} passed, {counts['failed']} "
        f"failed, {counts['error']} error, {counts['skipped']} out of scope; "
        f"{len(outcome.missing)} untested)  report: {args.report_dir}/",
        markup=False,
        highlight=False,
    )
    return 0 if rep.verdict is Verdict.PASS else 1
