"""Benchmark: `harness sweep` of yappi's latest release on PyPI over a matrix, warm.

1. One sweep to warm the caches (images, release download, probes, identities), then the
   timed sweep: wall time, and the time the sweep itself adds on top of verify (reading
   the history, the diff, recording: `timings.history_diff_s` of sweep.json; target < 1 s).
2. History size after 30 simulated nights: the timed sweep's record written 30 times (new
   ids, same content, as an unchanged night writes) into a fresh SQLite history, and as the
   30 gzip objects an S3 history holds; plus history+diff time at night 30.

usage: python bench/sweep.py [--matrix nightly] [--project yappi]
(builds missing images first, outside the timed part: `harness envs build --matrix M`)
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds inspect.py (another bench): keep it from shadowing the stdlib module.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--matrix", default="nightly")
    ap.add_argument("--project", default="yappi")
    ap.add_argument("--nights", type=int, default=30)
    args = ap.parse_args()
    harness = shutil.which("harness") or "harness"
    subprocess.run([harness, "envs", "build", "--matrix", args.matrix], check=True)
    from harness.sweep.diff import compute
    from harness.sweep.history import SqliteHistory, Sweep, new_id

    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.sqlite"

        def sweep(name: str) -> tuple[float, dict[str, object]]:
            t0 = time.perf_counter()
            cp = subprocess.run(
                [harness, "sweep", args.project, "--matrix", args.matrix, "--history",
                 str(history), "--report-dir", str(Path(tmp) / name)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            if cp.returncode not in (0, 1):
                raise SystemExit(f"sweep failed ({cp.returncode}): {cp.stderr[-2000:]}")
            doc: dict[str, object] = json.loads((Path(tmp) / name / "sweep.json").read_text())
            return wall, doc

        sweep("warm-up")
        wall, doc = sweep("timed")
        rec = doc["sweep"]
        assert isinstance(rec, dict)
        cells = rec["cells"]
        assert isinstance(cells, list)
        ran = [c for c in cells if c["status"] != "skipped"]
        timings = doc["timings"]
        assert isinstance(timings, dict)
        releases = ", ".join(f"{r['project']} {r['version']}" for r in rec["releases"])
        print(
            f"matrix {args.matrix}: {len(rec['envs'])} env(s), {len(cells)} cell(s), "
            f"{len(ran)} run; {releases}"
        )
        print(f"sweep wall (warm): {wall:.1f} s")
        print(
            f"history + diff + record: {timings['history_diff_s'] * 1000:.0f} ms (target < 1000 ms)"
        )

        # the same release through plain `harness verify --release`, right after: what the
        # sweep adds on top (identities, history, diff, its own report)
        spec = f"{rec['releases'][0]['project']}=={rec['releases'][0]['version']}"
        t0 = time.perf_counter()
        subprocess.run(
            [harness, "verify", "--release", spec, "--matrix", args.matrix,
             "--report-dir", str(Path(tmp) / "verify")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        plain = time.perf_counter() - t0
        print(f"verify --release {spec} (same matrix, same caches): {plain:.1f} s; "
              f"sweep / verify = {wall / plain:.2f}")  # fmt: skip

        base = Sweep.from_json(rec, "sweep.json")
        nights = Path(tmp) / "nights.sqlite"
        h = SqliteHistory(nights)
        s3_bytes = 0
        took = 0.0
        for _ in range(args.nights):
            night = replace(base, id=new_id()[0])
            t0 = time.perf_counter()
            prev = h.previous(args.project, base.matrix)
            compute({args.project: prev}, night)
            h.record(night)
            took = time.perf_counter() - t0
            s3_bytes += len(
                gzip.compress(json.dumps(night.to_json(), separators=(",", ":")).encode(), 9)
            )
        size = nights.stat().st_size + sum(
            p.stat().st_size for p in nights.parent.glob("nights.sqlite-*")
        )
        print(f"history after {args.nights} nights: SQLite {size / 1024:.0f} KiB "
              f"(WAL included), S3 {s3_bytes / 1024:.0f} KiB in {args.nights} objects; "
              f"history+diff+record at night {args.nights}: {took * 1000:.0f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    raise SystemExit(main())
