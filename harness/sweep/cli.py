"""`harness sweep` command line."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from harness import config as config_mod
from harness import console
from harness.errors import UsageError

HELP = "nightly sweep: verify published releases in today's envs, diff with the last sweep"
DESCRIPTION = """\
Resolve the releases of each PROJECT (the latest, or the last N with --releases N; or
PROJECT==VERSION) on a PEP 691/503 index, verify every wheel of each release in the envs
of the matrix (as `harness verify --release` does), record each env's identity (python,
libc, os, image, package versions), then compare with the previous sweep of the same
project and matrix in the history, and record this one.

The diff leads DIR/summary.md (also appended to $GITHUB_STEP_SUMMARY) and DIR/report.html:
new failures (with what changed in their env), fixed cells, new releases, new and changed
envs, wheels newly untested, unchanged failures. DIR/sweep.json has it all; each release's
full verify report is in DIR/PROJECT-VERSION/.

--refresh first rebuilds the images whose Debian suite moved since they were built (a
package of the image has another version, or is gone, on the archive now), even when the
recipe did not change.

History: a SQLite file (default: $HARNESS_CACHE_DIR/history.sqlite, i.e.
~/.cache/wheel-harness/history.sqlite) or s3://bucket/prefix (one object per sweep; AWS
credentials as usual, --endpoint-url or $AWS_ENDPOINT_URL for S3-compatible stores).
Concurrent sweeps on one history all get recorded.

exit codes: 0 no new failure (unchanged failures are listed, not fatal), 1 a new failure,
2 bad input, 3 infrastructure error (index, docker, history store unreachable).

examples:
  harness sweep yappi --matrix nightly --refresh --history s3://my-bucket/sweeps
  harness sweep yappi --releases 3 --report-dir sweep/
  harness sweep mypkg==2.0.1 otherpkg --index-url https://my.index/simple/ --history h.sqlite
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("projects", nargs="+", metavar="PROJECT[==VERSION]")
    parser.add_argument(
        "--index-url",
        default=None,
        metavar="URL",
        help="simple index (default: PyPI, or $PIP_INDEX_URL)",
    )
    parser.add_argument(
        "--matrix",
        "-m",
        default=None,
        metavar="M",
        help="matrix name or path (default: this machine's interpreter, no Docker)",
    )
    parser.add_argument(
        "--releases",
        default="latest",
        metavar="latest|N",
        help="for PROJECT without ==VERSION: the latest release (default) or the last N",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="rebuild images whose Debian suite moved since they were built",
    )
    parser.add_argument(
        "--history",
        default=None,
        metavar="PATH|s3://BUCKET/PREFIX",
        help="where sweeps are remembered (default: a SQLite file in the user cache dir)",
    )
    parser.add_argument(
        "--endpoint-url", default=None, metavar="URL", help="S3-compatible endpoint"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the sweep report goes (default: ./reports)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="pyproject.toml with [tool.harness] (default: ./pyproject.toml if its "
        "[project] name is a swept project)",
    )
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="parallel runs")


def run(args: argparse.Namespace) -> int:
    from harness import matrix as matrix_mod
    from harness.release import index_url
    from harness.sweep.history import open_history
    from harness.sweep.releases import parse_count, parse_target
    from harness.sweep.run import sweep

    targets = [parse_target(p) for p in args.projects]
    count = parse_count(args.releases)
    # the same rule as verify --release: a foreign ./pyproject.toml is not applied
    cfg, note = config_mod.load_for(
        args.config or Path("pyproject.toml"),
        explicit=args.config is not None,
        distributions={t.project for t in targets},
        require_name=True,
    )
    if note:
        console.info(note)
    if args.jobs is not None:
        if args.jobs < 1:
            raise UsageError("--jobs must be at least 1")
        cfg = replace(cfg, jobs=args.jobs)
    mx = matrix_mod.load(args.matrix) if args.matrix else matrix_mod.embedded_default()
    history = open_history(args.history, endpoint_url=args.endpoint_url)
    index = index_url(args.index_url)
    outcome = sweep(
        targets,
        index_url=index,
        specs=list(mx.envs),
        matrix_name=mx.name,
        count=count,
        refresh=args.refresh,
        history=history,
        report_dir=args.report_dir,
        cfg=cfg,
    )
    d = outcome.diff
    c = d.counts()
    console.out().print(
        f"sweep: {c['new_failures']} new failure(s), {c['fixed']} fixed, "
        f"{c['unchanged_failures']} unchanged failure(s), {c['new_releases']} new release(s), "
        f"{c['changed_envs']} changed env(s), {c['newly_untested']} newly untested; "
        f"recorded in {history.where}  report: {outcome.report_dir}/",
        markup=False,
        highlight=False,
    )
    for change in d.new_failures:
        cell = change.cell
        console.out().print(
            f"NEW FAILURE {cell.project} {cell.version} {cell.env} {cell.wheel}: "
            f"{cell.reason or cell.status} (was {change.was})"
            + (f"; env changed: {'; '.join(change.env_changes[:3])}" if change.env_changes else ""),
            markup=False,
            highlight=False,
        )
    return d.exit_code
