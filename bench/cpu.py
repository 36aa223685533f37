"""Benchmark: what a CPU-model env costs (qemu user-mode emulation of the smoke steps).

yappi 1.7.6 (cp311, manylinux) is verified in each env of matrices/baseline.toml and in the
same image without the CPU model, one cell at a time (--jobs 1), --runs times. Printed per
env pair: the smoke steps' wall time (import + profiler suites; median of the runs), the
`cpu` step (wrapping the venv's interpreter), the whole cell, and the ratio emulated/native.

usage: python bench/cpu.py [--runs 3] [--arch x86_64|aarch64|all]
needs: the bookworm amd64/arm64 images (harness envs build --matrix baseline), qemu-user-static
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/inspect.py would shadow the stdlib's inspect module for `python bench/cpu.py`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402

from harness import config, matrix  # noqa: E402
from harness.verify import verify  # noqa: E402

ROOT = HERE.parent


def cell_times(spec: matrix.EnvSpec, wheels: list[Path], work: Path) -> tuple[float, float, float]:
    """(smoke steps, cpu step, whole cell) seconds of the one cell that runs."""
    verify(wheels, [spec], config.Config(jobs=1), work, matrix_name="bench", log=lambda _: None)
    doc = json.loads((work / "report.json").read_text())
    (run,) = [r for r in doc["runs"] if r["status"] != "skipped"]
    if run["status"] != "passed":
        raise SystemExit(f"{spec.name}: {run['status']}: {run['reason']}")
    smoke = sum(s["duration_s"] for s in run["steps"] if s["name"].startswith("smoke:"))
    cpu = sum(s["duration_s"] for s in run["steps"] if s["name"] == "cpu")
    return smoke, cpu, run["duration_s"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--arch", choices=("x86_64", "aarch64", "all"), default="all")
    args = ap.parse_args()
    specs = matrix.load("baseline", ROOT / "matrices").envs
    print(f"yappi 1.7.6 cp311, median of {args.runs} runs, one cell at a time")
    print(f"{'env':32} {'smoke s':>8} {'cpu step s':>10} {'cell s':>8}")
    for spec in specs:
        arch = "aarch64" if spec.cpu == "armv8.0" else "x86_64"
        if args.arch not in ("all", arch):
            continue
        wheels = sorted((ROOT / "tests" / "data" / "real").glob(f"yappi-1.7.6-cp311-*{arch}*.whl"))
        wheels = [w for w in wheels if "manylinux" in w.name]
        native = dataclasses.replace(spec, name=f"native-{spec.name}", cpu=None)
        rows: dict[str, tuple[float, float, float]] = {}
        for s in (native, spec):
            samples = []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    dist = Path(tmp) / "dist"
                    dist.mkdir()
                    for w in wheels:
                        shutil.copy(w, dist / w.name)
                    samples.append(cell_times(s, sorted(dist.glob("*.whl")), Path(tmp) / "r"))
            rows[s.name] = (
                statistics.median(x[0] for x in samples),
                statistics.median(x[1] for x in samples),
                statistics.median(x[2] for x in samples),
            )
            smoke, cpu, cell = rows[s.name]
            label = f"{s.name} ({s.cpu or 'native'})"
            print(f"{label:32} {smoke:8.2f} {cpu:10.2f} {cell:8.2f}")
        ratio = rows[spec.name][0] / rows[native.name][0]
        print(f"  smoke time emulated / native: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
