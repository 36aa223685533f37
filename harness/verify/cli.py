"""`harness verify` command line."""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from harness import config as config_mod
from harness import console
from harness.config import REQUIRE_COVERAGE
from harness.errors import UsageError
from harness.matrix import Matrix
from harness.report.model import Verdict
from harness.verify.plan import verify
from harness.verify.shard import Shard

HELP = "install wheels in the environments their tags promise, smoke-test, write a report"
DESCRIPTION = """\
Inspect the wheels, then install each one into every environment of the matrix where pip
would pick it (a fresh venv, --no-index from a read-only wheelhouse holding all the
wheels), check pip took exactly the expected file (name + sha256), and run the smoke
suites there (import; profiler for known profilers; the project's test-command).
Wheels no environment here can run (macOS, Windows on Linux) are reported "untested",
with the reason (they are still inspected statically).
Writes DIR/report.json, junit.xml, summary.md (+ $GITHUB_STEP_SUMMARY) and report.html.

Smoke suites and test settings come from [tool.harness] in ./pyproject.toml when its
[project] name is the distribution verified (so another project's settings never apply to
a --release), or from --config FILE.
exit codes: 0 verdict pass, 1 a wheel failed, 2 bad input, 3 infrastructure error.

examples:
  harness verify --release yappi==1.7.6 --matrix host      # no Docker needed
  harness verify dist/ --matrix linux --report-dir reports/
  harness verify dist/*.whl --matrix nightly --env bullseye --env trixie --jobs 2
  harness verify dist/ --matrix linux --shard 1/2 --report-dir shards/linux-1   # CI shard
  harness verify dist/ --plan plan.json --shard macos-arm64-py3.12 --interpreter python3.12
"""


def _parsable(filename: str) -> bool:
    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "wheels",
        nargs="*",
        type=Path,
        metavar="WHEELS",
        help="wheel files or directories of wheels",
    )
    parser.add_argument(
        "--release",
        metavar="NAME==VERSION",
        help="verify every wheel of a published release instead",
    )
    parser.add_argument(
        "--index-url",
        default=None,
        metavar="URL",
        help="simple index for --release and for the wheels' runtime dependencies "
        "(default: PyPI, or $PIP_INDEX_URL)",
    )
    parser.add_argument(
        "--require-coverage",
        choices=REQUIRE_COVERAGE,
        default=None,
        help="untested wheels of these platforms fail the verdict: linux (manylinux/"
        "musllinux) or all ([tool.harness] require-coverage)",
    )
    parser.add_argument(
        "--matrix",
        "-m",
        default=None,
        metavar="M",
        help="matrix name (matrices/M.toml) or path; default: this machine (host, no Docker)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME",
        help="only these envs of the matrix (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="parallel runs (default: [tool.harness] jobs, else cores)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the report goes (default: ./reports)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="pyproject.toml with [tool.harness] (default: ./pyproject.toml if its "
        "[project] name is the distribution verified)",
    )
    config_mod.add_macos_minor_argument(parser)
    parser.add_argument(
        "--shard",
        metavar="K/N|JOB",
        help="run one job of the plan: K/N = Linux container shard K of N (the plan is "
        "computed here, the same on every machine), or a job id of --plan "
        "(e.g. macos-arm64-py3.12, on that runner)",
    )
    parser.add_argument(
        "--plan",
        type=Path,
        metavar="FILE",
        help="plan.json from `harness plan --format json` (with --shard)",
    )
    parser.add_argument(
        "--interpreter",
        metavar="PATH",
        help="host jobs of a plan: the CPython to verify with (default: the harness's own)",
    )
    parser.add_argument(
        "--timeout", type=int, default=None, metavar="S", help="seconds per step (default 600)"
    )


def check_report_dir(directory: Path) -> None:
    """The report directory can be written (checked up front, so a bad --report-dir fails
    before the matrix runs). Nothing is created here: a run that stops early leaves no
    empty report directory behind."""
    try:
        if directory.exists():
            if not directory.is_dir():
                raise UsageError(f"--report-dir {directory}: exists and is not a directory")
            fd, probe = tempfile.mkstemp(prefix=".harness-write-test.", dir=directory)
            os.close(fd)
            os.unlink(probe)
            return
        ancestor = directory.absolute().parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise UsageError(f"--report-dir {directory}: {ancestor} is not a directory")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise UsageError(f"--report-dir {directory}: cannot create it in {ancestor}")
    except OSError as exc:
        raise UsageError(
            f"--report-dir {directory}: cannot write there: {exc.strerror or exc}"
        ) from None


def run(args: argparse.Namespace) -> int:
    from harness import matrix as matrix_mod
    from harness.release import download_release, index_url, parse_spec

    if bool(args.wheels) == bool(args.release):
        raise UsageError("give WHEELS or --release NAME==VERSION (one of them)")
    if args.release:
        release_name, _ = parse_spec(args.release)
        distributions = {release_name}
    else:
        from harness.inspect import collect_wheels

        distributions = {
            parse_wheel_filename(p.name)[0]
            for p in collect_wheels(args.wheels)
            if _parsable(p.name)
        }
    cfg, note = config_mod.load_for(
        args.config or Path("pyproject.toml"),
        explicit=args.config is not None,
        distributions=distributions,
        require_name=bool(args.release),
    )
    if args.macos_minor_version:
        cfg = replace(cfg, macos_minor_version=args.macos_minor_version)
    if args.jobs is not None:
        if args.jobs < 1:
            raise UsageError("--jobs must be at least 1")
        cfg = replace(cfg, jobs=args.jobs)
    if args.timeout is not None:
        if args.timeout < 1:
            raise UsageError(f"--timeout {args.timeout}: expected a number of seconds >= 1")
        cfg = replace(cfg, timeout_s=args.timeout)
    check_report_dir(args.report_dir)  # before anything runs, not after the whole matrix
    if args.matrix:
        mx = matrix_mod.load(args.matrix)
    elif args.shard and args.plan:  # the plan names its matrix
        from harness.ci import plan as plan_mod
        from harness.ci.tags import RunnerKind

        plan = plan_mod.load(args.plan)
        job_id = (
            plan_mod.shard_job_id(plan_mod.parse_shard(args.shard)[0])
            if "/" in args.shard
            else args.shard
        )
        in_matrix = plan.job(job_id).runner in (RunnerKind.LINUX, RunnerKind.LINUX_HOST)
        # runner host jobs (macOS, Windows) need no matrix: the runner's CPython is the env
        mx = matrix_mod.load(plan.matrix) if in_matrix else matrix_mod.embedded_default()
    else:
        mx = matrix_mod.embedded_default()
    specs = list(mx.envs)
    if args.env:
        known = {s.name for s in specs}
        unknown = [e for e in args.env if e not in known]
        if unknown:
            raise UsageError(
                f"--env {', '.join(unknown)}: not in matrix {mx.name} "
                f"(has: {', '.join(sorted(known))})"
            )
        specs = [s for s in specs if s.name in args.env]
    if args.release:
        index = index_url(args.index_url)
        wheels = download_release(args.release, index)
    else:
        wheels = list(args.wheels)
    shard = None
    if args.shard:
        if args.env:
            raise UsageError("--env and --shard exclude each other (the plan names the envs)")
        shard = _shard(args.shard, args.plan, wheels, mx, args.matrix)
        specs = shard.specs(mx, args.interpreter)
    elif args.plan or args.interpreter:
        raise UsageError("--plan and --interpreter need --shard")
    if note:  # after every input check: a usage error stays one line
        console.info(note)
    if args.require_coverage:
        cfg = replace(cfg, require_coverage=args.require_coverage)
    if args.index_url:
        cfg = replace(cfg, index_url=args.index_url)
    elsewhere = matrix_mod.other_envs(mx)
    outcome = verify(
        wheels,
        specs,
        cfg,
        args.report_dir,
        matrix_name=mx.name,
        shard=shard,
        elsewhere=elsewhere,
    )
    rep = outcome.report
    counts = rep.counts()
    console.line(
        f"verdict: {rep.verdict_line}  ({counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} error, {counts['skipped']} untested; "
        f"{rep.inspect_errors} inspect error finding(s))  report: {outcome.report_dir}/",
        stdout=True,
    )
    return 0 if rep.verdict is Verdict.PASS else 1


def _shard(
    text: str, plan_path: Path | None, wheels: list[Path], mx: Matrix, matrix_ref: str | None
) -> Shard:
    from harness.ci import plan as plan_mod

    if plan_path is not None:
        plan = plan_mod.load(plan_path)
        if "/" in text:
            k, n = plan_mod.parse_shard(text)
            if n != plan.shards:
                raise UsageError(f"--shard {text}: plan {plan_path} has {plan.shards} shard(s)")
            job = plan_mod.shard_job_id(k)
        else:
            job = plan.job(text).id
        return Shard(plan=plan, job=job)
    if "/" not in text:
        raise UsageError(f"--shard {text}: a job id needs --plan FILE (K/N does not)")
    k, n = plan_mod.parse_shard(text)
    return Shard(plan=plan_mod.plan_for(wheels, mx, n, matrix_ref), job=plan_mod.shard_job_id(k))
