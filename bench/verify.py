"""Benchmark: `harness verify` of yappi 1.7.6's wheels, before/after, same machine, same run.

For each matrix (default: linux, then nightly) and each variant (``--baseline REF``, a git
revision exported to a temp dir, and this working tree), runs `harness verify` with images
warm and prints:

- wall time, the sum of the smoke steps' own durations, the ideal wall on this machine
  (that sum / cores) and the ratio wall / ideal (target <= 1.5x);
- a per-step profile of every cell (container start, venv, install, pick, each smoke
  suite): the host cell is the native one, arm64 the one under qemu; `bench/cell.py`
  profiles one cell in more detail (container removal, a cell's cleanup);
- the harness's own CPU seconds (it and its docker CLI calls: inspection, coverage, probes,
  process and container management; not the work inside the containers);
- the machine load (`uptime`) before and after each matrix.

``--wheels GLOB`` (repeatable) picks other wheels of tests/data/real, e.g. add
``markupsafe-3.0.3-cp313-*.whl`` to give an env two cells (two distributions).

Variants alternate within a repetition so load from other processes hits both alike. One-off
costs (images, the per-env compiled pip) are paid by a warm-up run outside the timings.

usage: python bench/verify.py [--matrix M]... [--jobs N] [--baseline REF] [--repeat N]
                              [--wheels GLOB]... [--env NAME]...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export(ref: str, dest: Path) -> Path:
    """`git archive REF` of this repository into ``dest``."""
    archive = dest.with_suffix(".tar")
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=fh, check=True)
    dest.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_verify(
    tree: Path,
    wheels: Path,
    matrix: str,
    jobs: int,
    reports: Path,
    *,
    envs: list[str] | None = None,
) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = [sys.executable, "-m", "harness", "verify", str(wheels), "--matrix", matrix]
    argv += ["--jobs", str(jobs), "--report-dir", str(reports)]
    for name in envs or []:
        argv += ["--env", name]
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cp = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the harness's own CPU and its children's (docker CLI calls), not the containers'
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if cp.returncode not in (0, 1):
        sys.exit(f"{tree.name}: harness verify exited {cp.returncode}:\n{cp.stderr[-2000:]}")
    doc: dict[str, object] = json.loads((reports / "report.json").read_text())
    doc["_harness_cpu"] = cpu
    shutil.rmtree(reports)
    return wall, doc


def summarize(wall: float, doc: dict[str, object]) -> dict[str, object]:
    runs = [r for r in doc["runs"] if r["status"] != "skipped"]
    smoke = sum(s["duration_s"] for r in runs for s in r["steps"] if s["name"].startswith("smoke:"))
    cores = os.cpu_count() or 1

    def key(r: dict[str, object]) -> str:  # env + distribution: an env may have several cells
        return f"{r['env']}/{str(r['wheel']['filename']).split('-')[0]}"

    steps = {
        key(r): {s["name"]: s["duration_s"] for s in r["steps"]} | {"cell": r["duration_s"]}
        for r in runs
    }
    statuses = {key(r): r["status"] for r in runs}
    return {
        "wall": wall,
        "smoke": smoke,
        "ideal": smoke / cores,
        "steps": steps,
        "st": statuses,
        "cpu": doc.get("_harness_cpu", 0.0),
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--matrix", action="append", default=None)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--baseline", default=None, metavar="REF", help="git revision to compare")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--wheels", action="append", default=None, metavar="GLOB")
    ap.add_argument("--env", action="append", default=None, metavar="NAME", help="only these envs")
    args = ap.parse_args()
    matrices = args.matrix or ["linux", "nightly"]
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheels = tmp / "dist"
        wheels.mkdir()
        for pattern in args.wheels or ["yappi-1.7.6-*.whl"]:
            for w in sorted((ROOT / "tests" / "data" / "real").glob(pattern)):
                shutil.copy(w, wheels / w.name)
        variants = {"after": ROOT}
        if args.baseline:
            variants = {"before": export(args.baseline, tmp / "before"), "after": ROOT}
        for matrix in matrices:
            subprocess.run(
                [sys.executable, "-m", "harness", "envs", "build", "--matrix", matrix]
                + (args.env or []),
                cwd=ROOT,
                check=True,
            )
            # warm-up: each tree's per-env compiled pip (and venv template)
            for tree in variants.values():
                warm = run_verify(tree, wheels, matrix, args.jobs, tmp / "r", envs=args.env)
            one_off = {env: s.get("pip cache", 0.0) for env, s in summarize(*warm)["steps"].items()}
            load_before = uptime()
            results: dict[str, list[dict[str, object]]] = {name: [] for name in variants}
            for _ in range(args.repeat):
                for name, tree in variants.items():
                    results[name].append(
                        summarize(
                            *run_verify(tree, wheels, matrix, args.jobs, tmp / "r", envs=args.env)
                        )
                    )
            print(
                f"\n== matrix {matrix}: {args.jobs} jobs, {cores} cores, {args.repeat} run(s) each"
                f", {len(list(wheels.iterdir()))} wheels"
            )
            print(f"load before: {load_before}\nload after:  {uptime()}")
            for name, rs in results.items():
                wall = statistics.median(r["wall"] for r in rs)
                smoke = statistics.median(r["smoke"] for r in rs)
                ideal = smoke / cores
                cpu = statistics.median(r["cpu"] for r in rs)
                print(
                    f"{name:<7} wall {wall:6.1f} s  smoke sum {smoke:6.1f} s  ideal {ideal:5.1f} s"
                    f"  ratio {wall / ideal if ideal else float('nan'):5.2f}x"
                    f"  harness cpu {cpu:5.1f} s  cells {rs[-1]['st']}"
                )
            print("per-step seconds of each cell (last run; container: when this cell started it):")
            names = ["container", "venv", "install", "pick", "smoke:import", "smoke:profiler"]
            names.append("cell")
            print(f"  {'cell':<22} {'variant':<7} " + " ".join(f"{n:>14}" for n in names))
            keys = sorted({e for rs in results.values() for e in rs[-1]["steps"]})
            for key in keys:
                for name, rs in results.items():
                    st = rs[-1]["steps"].get(key, {})
                    cells = " ".join(f"{st.get(n, float('nan')):14.2f}" for n in names)
                    print(f"  {key:<22} {name:<7} {cells}")
            built = {e: round(v, 1) for e, v in one_off.items() if v}
            if built:
                print(f"one-off per env (compiled pip, cached across runs): {built}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
