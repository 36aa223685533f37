"""`harness plan`: the cells a release needs, grouped into CI jobs (json | github | buildkite)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import console
from harness.errors import UsageError

HELP = "plan a release's cells (env x wheel) into CI jobs: Linux shards + host runner kinds"
DESCRIPTION = """\
Compute, without Docker, the cells (env x the wheel pip installs there) the release needs:
N Linux container shards of the matrix's envs (balanced by expected cost: an emulated
arch costs ~20x a native one) and one host job per runner kind x CPython the wheels need
(macos-x86_64, macos-arm64, windows-x64, windows-x86, windows-arm64; chosen by platform
tag). Wheels no job installs are listed as out of scope, each with its reason. The same
wheels, matrix and N give the same plan (and plan id) on every machine.

formats:
  json       the harness-plan/1 document (README: "plan")
  github     {"include": [{job, runner, kind, python, architecture}]} on one line, for
             `strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`
  buildkite  a pipeline for `buildkite-agent pipeline upload`: one verify step per job
             (agents: queue, artifact_paths), then merge and promote

Runner labels and queues come from [tool.harness.ci] in ./pyproject.toml (--config).
exit codes: 0 planned, 2 bad input (wheels, matrix, config).

examples:
  harness plan dist/ --matrix linux --shards 2 --format json --output plan.json
  harness plan --release yappi==1.7.6 --matrix nightly --format github
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wheels", nargs="*", type=Path, metavar="WHEELS")
    parser.add_argument("--release", metavar="NAME==VERSION", help="a published release instead")
    parser.add_argument("--index-url", metavar="URL", help="simple index for --release")
    parser.add_argument("--matrix", "-m", default=None, metavar="M", help="(default: ci setting)")
    parser.add_argument("--shards", type=int, default=None, metavar="N", help="Linux shards")
    parser.add_argument(
        "--format", choices=("json", "github", "buildkite"), default="json", help="(default json)"
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here (atomically)")
    parser.add_argument("--config", type=Path, default=Path("pyproject.toml"), metavar="FILE")


def run(args: argparse.Namespace) -> int:
    from harness import matrix as matrix_mod
    from harness.ci import settings as settings_mod
    from harness.ci import workflow
    from harness.ci.plan import plan_for
    from harness.fsutil import atomic_write_text

    if bool(args.wheels) == bool(args.release):
        raise UsageError("give WHEELS or --release NAME==VERSION (one of them)")
    ci = settings_mod.load(args.config if args.config.is_file() else None)
    mx = matrix_mod.load(args.matrix or ci.matrix)
    shards = args.shards if args.shards is not None else ci.shards
    if args.release:
        from harness.release import download_release, index_url

        index = index_url(args.index_url)
        wheels = download_release(args.release, index)
    else:
        wheels = list(args.wheels)
    plan = plan_for(wheels, mx, shards, args.matrix or ci.matrix)
    if args.format == "json":
        text = plan.dumps()
    elif args.format == "github":
        text = workflow.github_matrix(plan, ci) + "\n"
    else:
        text = workflow.buildkite_steps(plan, ci)
    if args.output is not None:
        try:
            atomic_write_text(args.output, text)
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
        console.info(
            f"plan {plan.id[:12]}: {len(plan.jobs)} job(s), {len(plan.cells)} cell(s), "
            f"{len(plan.out_of_scope)} wheel(s) out of scope -> {args.output}"
        )
    else:
        console.write_stdout(text)
    return 0
