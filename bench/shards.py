# ruff: noqa: E501
"""The plan of yappi 1.7.6 (jobs, cells, expected cost per job) and the size of its merged
report; with --wall, the wall time of the plan's Linux shards run concurrently vs one run.

    python bench/shards.py [--matrix nightly] [--shards 2]
    python bench/shards.py --matrix linux --wall       # needs Docker + the matrix's images

The merged report's size is measured on shard reports whose every cell carries the steps
of a real host-mode run of yappi (so the size is that of a real, all-run release); the
wall measurement runs real processes (they compete for this machine's cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# bench/ holds inspect.py (another bench): keep it from shadowing the stdlib module.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tests" / "data" / "real"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--matrix", default="nightly")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--wall", action="store_true")
    args = ap.parse_args()

    from harness import matrix
    from harness.ci.plan import plan_for
    from harness.inspect import inspect_paths
    from harness.report import write_report
    from harness.report.merge import merge
    from harness.report.model import Report, Run, RunStatus, Step

    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "yappi"
        wheels.mkdir()
        for w in REAL.glob("yappi-1.7.6-*.whl"):
            (wheels / w.name).write_bytes(w.read_bytes())
        t0 = time.perf_counter()
        plan = plan_for([wheels], matrix.load(args.matrix), args.shards)
        plan_s = time.perf_counter() - t0
        kinds = Counter(str(j.runner) for j in plan.jobs if j.cells)
        print(
            f"plan {plan.id[:12]} of yappi 1.7.6, matrix {args.matrix}: computed in {plan_s:.2f} s"
        )
        print(
            f"  {len(plan.wheels)} wheels, {len(plan.cells)} cells, {len(plan.out_of_scope)} out of scope"
        )
        print(f"  jobs with cells: {sum(kinds.values())} ({dict(kinds)})")
        for job in plan.jobs:
            print(
                f"  {job.id:<22} {job.runner!s:<14} cells {job.cells:>2}  cost {job.cost:>5.1f}  envs {','.join(job.envs)}"
            )

        # merged report size: every cell passed, with a real host run's steps
        steps = (
            Step(
                name="venv",
                status=RunStatus.PASSED,
                duration_s=1.2,
                command="python mkvenv.py",
                output_tail="PIP-WHEEL /x/pip.whl",
            ),
            Step(
                name="install",
                status=RunStatus.PASSED,
                duration_s=2.0,
                command="pip install --no-index yappi==1.7.6",
                output_tail="\n".join(f"line {i} of pip -v output" for i in range(40)),
            ),
            Step(
                name="pick",
                status=RunStatus.PASSED,
                duration_s=0.0,
                detail={"expected": "x", "picked": "x", "sha256": "0" * 64},
            ),
            Step(
                name="smoke:import",
                status=RunStatus.PASSED,
                duration_s=0.4,
                command="python run.py import yappi",
                output_tail="HARNESS-RESULT {}",
            ),
            Step(
                name="smoke:profiler",
                status=RunStatus.PASSED,
                duration_s=3.0,
                command="python run.py profiler --adapter yappi",
                output_tail="\n".join(f"check {i} ok" for i in range(12)),
            ),
        )
        inspected = inspect_paths([wheels]).to_json()
        sha = dict(plan.wheels)
        dirs = []
        for job in plan.runnable_jobs():
            runs = tuple(
                Run(
                    env=c.env,
                    python="3.x",
                    platform="p",
                    wheel_filename=c.wheel,
                    wheel_sha256=sha[c.wheel],
                    status=RunStatus.PASSED,
                    duration_s=7.0,
                    steps=steps,
                )
                for c in plan.cells_of(job.id)
            )
            rep = Report(
                harness_version="0",
                created="2026-11-25T00:00:00+00:00",
                config={},
                inspect=inspected,
                runs=runs,
                plan={**plan.to_json(), "job": job.id},
            )
            d = Path(tmp) / "shards" / job.id
            write_report(rep, d)
            dirs.append(d)
        t0 = time.perf_counter()
        outcome = merge(dirs)
        out = Path(tmp) / "merged"
        write_report(outcome.report, out)
        merge_s = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        print(
            f"merged {len(dirs)} shard reports in {merge_s:.2f} s: "
            + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items())
        )

        if args.wall:
            m = args.matrix
            base = [sys.executable, "-m", "harness", "verify", str(wheels), "--matrix", m]
            t0 = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [
                        *base,
                        "--shard",
                        f"{k}/{args.shards}",
                        "--report-dir",
                        str(Path(tmp) / f"w{k}"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for k in range(1, args.shards + 1)
            ]
            for p in procs:
                p.wait()
            sharded = time.perf_counter() - t0
            t0 = time.perf_counter()
            subprocess.run(
                [*base, "--report-dir", str(Path(tmp) / "one")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            one = time.perf_counter() - t0
            print(
                f"wall: {args.shards} shards concurrently {sharded:.1f} s, one unsharded run {one:.1f} s (ratio {sharded / one:.2f}; same machine, shared cores)"
            )
    print(json.dumps({"plan_id": plan.id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
