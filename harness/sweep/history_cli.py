"""`harness history`: the sweeps so far, per project and env, pass/fail over time."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

from harness import console
from harness.sweep.history import Sweep

HELP = "the sweeps recorded so far: per project and env, pass/fail over time"
DESCRIPTION = """\
Lists the sweeps of a history (the one `harness sweep --history` writes: default the SQLite
file in the user cache dir, or s3://bucket/prefix), oldest first, and per project and env
the cells passed/failed in each sweep.

--format json prints {"schema": "harness-history/1", "history": ..., "sweeps": [...],
"projects": {PROJECT: {ENV: [{"sweep", "created", "passed", "failed", "error",
"skipped", "versions"}]}}} on stdout.

examples:
  harness history
  harness history --project yappi --format json
  harness history --history s3://my-bucket/sweeps
"""

HISTORY_SCHEMA = "harness-history/1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=None, metavar="P", help="only this project")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--history",
        default=None,
        metavar="PATH|s3://BUCKET/PREFIX",
        help="the history (default: the SQLite file in the user cache dir)",
    )
    parser.add_argument(
        "--endpoint-url", default=None, metavar="URL", help="S3-compatible endpoint"
    )


def timeline(
    sweeps: list[Sweep], project: str | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for s in sweeps:
        per: dict[tuple[str, str], dict[str, Any]] = {}
        for c in s.cells:
            if project is not None and c.project != project:
                continue
            row = per.setdefault(
                (c.project, c.env),
                {"sweep": s.id, "created": s.created, "passed": 0, "failed": 0, "error": 0,
                 "skipped": 0, "versions": []},
            )  # fmt: skip
            if c.status in ("passed", "failed", "error", "skipped"):
                row[c.status] += 1
            if c.version not in row["versions"]:
                row["versions"].append(c.version)
        for (proj, env), row in per.items():
            out[proj][env].append(row)
    return {p: dict(e) for p, e in sorted(out.items())}


def _mark(row: dict[str, Any]) -> str:
    if row["failed"] or row["error"]:
        return "x"
    if row["passed"]:
        return "."
    return "-"


def run(args: argparse.Namespace) -> int:
    from harness.sweep.history import open_history
    from harness.sweep.releases import parse_target

    project = parse_target(args.project).project if args.project else None
    history = open_history(args.history, endpoint_url=args.endpoint_url)
    sweeps = history.sweeps(project)
    lines = timeline(sweeps, project)
    if args.format == "json":
        doc = {
            "schema": HISTORY_SCHEMA,
            "history": history.where,
            "sweeps": [
                {
                    "id": s.id,
                    "created": s.created,
                    "matrix": s.matrix,
                    "releases": [{"project": p, "version": v} for p, v in s.releases],
                    "envs": sorted(s.envs),
                    "summary": dict(s.summary),
                }
                for s in sweeps
            ],
            "projects": lines,
        }
        console.write_stdout(json.dumps(doc, indent=2) + "\n")
        return 0
    out = console.out()
    if not sweeps:
        out.print(f"no sweeps recorded in {history.where}", markup=False, highlight=False)
        return 0
    out.print(f"{len(sweeps)} sweep(s) in {history.where}", markup=False, highlight=False)
    for s in sweeps:
        counts = s.summary.get("counts", {})
        out.print(
            f"  {s.created}  {s.id}  matrix {s.matrix}  "
            + ", ".join(f"{p} {v}" for p, v in s.releases)
            + f"  new failures: {counts.get('new_failures', '?')}",
            markup=False,
            highlight=False,
        )
    out.print("per project and env, the last 30 sweeps, oldest first ('.' passed, "
              "'x' failed/error, '-' untested):", markup=False, highlight=False)  # fmt: skip
    for proj, envs in lines.items():
        out.print(proj, markup=False, highlight=False)
        for env, rows in sorted(envs.items()):
            last = rows[-1]
            tally = (
                f"{last['skipped']} wheel(s) untested"
                if env == "static"
                else f"{last['passed']} passed, {last['failed']} failed, {last['error']} error"
            )
            out.print(
                f"  {env:<12} {''.join(_mark(r) for r in rows[-30:]):<30} last: {tally}",
                markup=False,
                highlight=False,
            )
    return 0
