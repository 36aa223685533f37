"""Benchmark: `harness verify` of yappi 1.7.6's wheels over the linux matrix, images warm.

Prints the wall time, the sum of the smoke steps' own durations (what the work costs if
nothing else were overhead), the ideal wall time on this machine (that sum / cores), and
the ratio of the real wall time to that ideal.

usage: python bench/verify.py [--matrix linux] [--jobs N] [WHEEL_DIR]
(builds missing images first, outside the timed part: `harness envs build --matrix M`)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("wheel_dir", nargs="?", type=Path)
    ap.add_argument("--matrix", default="linux")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    harness = shutil.which("harness") or "harness"
    subprocess.run([harness, "envs", "build", "--matrix", args.matrix], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.wheel_dir is None:
            wdir = Path(tmp) / "dist"
            wdir.mkdir()
            for w in sorted((ROOT / "tests" / "data" / "real").glob("yappi-1.7.6-*.whl")):
                shutil.copy(w, wdir / w.name)
        else:
            wdir = args.wheel_dir
        reports = Path(tmp) / "reports"
        t0 = time.perf_counter()
        cp = subprocess.run(
            [
                harness,
                "verify",
                str(wdir),
                "--matrix",
                args.matrix,
                "--jobs",
                str(args.jobs),
                "--report-dir",
                str(reports),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        if cp.returncode not in (0, 1):
            print(cp.stderr[-2000:], file=sys.stderr)
            return cp.returncode
        doc = json.loads((reports / "report.json").read_text())
    runs = [r for r in doc["runs"] if r["status"] != "skipped"]
    smoke = sum(s["duration_s"] for r in runs for s in r["steps"] if s["name"].startswith("smoke:"))
    all_steps = sum(s["duration_s"] for r in runs for s in r["steps"])
    cores = os.cpu_count() or 1
    ideal = smoke / cores
    print(
        f"{len(doc['inspect']['wheels'])} wheels, {len(runs)} env x wheel runs, "
        f"matrix {args.matrix}, jobs {args.jobs}, {cores} cores, verdict {doc['verdict']}"
    )
    for r in runs:
        print(
            f"  {r['env']:<10} {r['status']:<7} {r['duration_s']:6.1f}s  {r['wheel']['filename']}"
        )
    print(f"wall time:                       {wall:7.1f} s  (target < 180 s)")
    print(f"sum of all steps (venv+install+smoke): {all_steps:7.1f} s")
    print(f"sum of smoke steps:              {smoke:7.1f} s")
    print(f"ideal = smoke sum / cores:       {ideal:7.1f} s")
    print(
        f"ratio wall / ideal:              {wall / ideal:7.2f}x  (target <= 1.5x)" if ideal else ""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
