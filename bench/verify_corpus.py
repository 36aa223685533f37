"""Benchmark: false alarms of `harness verify` (the *runs*) on real releases.

bench/false_alarms.py judges the static checks; this one installs and smoke-tests the same
corpus (bench/corpus.py: published releases nobody here wrote) in real environments. PyPI
users install these files every day, so every failed or error cell is a false alarm unless
it is a verified real defect listed in KNOWN_DEFECTS. Prints, per release, the cells that
ran, their wall time, and each failed/error cell with its reason; then the totals.

The static scan is switched off (HARNESS_NO_ISA_SCAN=1): the runs are the subject here.

usage: python bench/corpus.py && python bench/verify_corpus.py [--matrix ci]
           [--env NAME ...] [--jobs 1] [--release NAME ...] [CORPUS_DIR]
exit: 0 when no cell failed or errored, 1 otherwise.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = (
    Path(os.environ.get("HARNESS_CACHE_DIR") or Path.home() / ".cache" / "wheel-harness") / "corpus"
)

# Verified real defects: (env, file name glob) -> why the failure is the wheel's.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def known(env: str, filename: str) -> str | None:
    for (kenv, pattern), why in KNOWN_DEFECTS.items():
        if kenv in (env, "*") and fnmatch.fnmatch(filename, pattern):
            return why
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--matrix", default=None, help="matrix name/path (default: host mode)")
    ap.add_argument("--env", action="append", default=[], help="only these envs of the matrix")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--release", action="append", default=[], help="only these releases")
    args = ap.parse_args(argv)
    releases = sorted(p for p in args.corpus.iterdir() if p.is_dir() and any(p.glob("*.whl")))
    if args.release:
        releases = [r for r in releases if any(r.name.startswith(n) for n in args.release)]
    if not releases:
        print(f"no releases under {args.corpus} (run bench/corpus.py first)", file=sys.stderr)
        return 2
    env = {**os.environ, "HARNESS_NO_ISA_SCAN": "1"}
    alarms = cells = 0
    with tempfile.TemporaryDirectory(prefix="verify-corpus-") as tmp:
        for rel in releases:
            out = Path(tmp) / rel.name
            argv = [sys.executable, "-m", "harness", "verify", str(rel), "--jobs", str(args.jobs)]
            if args.matrix:
                argv += ["--matrix", args.matrix]
            for e in args.env:
                argv += ["--env", e]
            t0 = time.perf_counter()
            done = subprocess.run(
                [*argv, "--report-dir", str(out)],
                check=False,
                capture_output=True,
                text=True,
                env=env,
            )
            wall = time.perf_counter() - t0
            report = out / "report.json"
            if not report.is_file():
                print(f"{rel.name}: no report (exit {done.returncode}): {done.stderr[-300:]}")
                alarms += 1
                continue
            doc = json.loads(report.read_text())
            ran = [r for r in doc["runs"] if r["status"] in ("passed", "failed", "error")]
            bad = [r for r in ran if r["status"] != "passed"]
            cells += len(ran)
            print(
                f"{rel.name:28} {len(ran):3} cells {wall:7.1f}s  "
                f"{doc['coverage']['ran']} of {doc['coverage']['of']} wheels ran"
            )
            for r in bad:
                why = known(r["env"], r["wheel"]["filename"])
                tag = f"known defect: {why}" if why else "FALSE ALARM"
                alarms += 0 if why else 1
                print(f"    {r['status']:6} {r['env']:10} {r['wheel']['filename']}")
                print(f"           {r['reason'][:300]}  [{tag}]")
    print(f"\n{len(releases)} releases, {cells} cells, {alarms} false alarm(s)")
    return 1 if alarms else 0


if __name__ == "__main__":
    raise SystemExit(main())
