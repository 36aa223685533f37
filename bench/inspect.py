"""Benchmark: CPU time of `harness inspect` against the peer chain users run today.

Peer chain, on the same files in the same process tree:
  auditwheel show W        for every Linux wheel (one process each, as CI scripts do)
  check-wheel-contents DIR
  twine check DIR/*.whl

CPU = user + system time of the whole child process tree (os.wait4 rusage), median of
--runs runs. Prints the per-tool numbers and the ratio (peer CPU / harness CPU), and what
the cpu.isa scan (capstone over every executable section, and over every function of the
exception directory of x64/arm64 PE files) costs: the same `harness inspect` with
HARNESS_NO_ISA_SCAN=1.

Every tool runs as installed: the peers from site-packages, whose bytecode pip compiled at
install time, and harness with its bytecode compiled first (compileall, as `pip install`
does; an editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile its
~20 modules in every run, ~0.07 s that no installed harness pays).

Where harness inspect's CPU goes on the 62 yappi wheels (in-process phases, best of 3 on 2
cores shared with other jobs, load ~10, so +-30%): starting Python 0.04 s; importing ~340
modules 0.28 s (rich, pyelftools, capstone, packaging.metadata, pefile, macholib,
readme_renderer); reading and hashing the wheels 0.13 s; ELF headers (28 files, section
headers read once for all checks) 0.11 s; the cpu.isa scan 0.14 s (x86 decoding in
capstone's C is most of it: ~140k instructions); Mach-O and PE headers 0.04 s; METADATA (4
distinct files parsed once, 2 descriptions rendered without Pygments) 0.03 s; the text
report 0.05 s.

usage: python bench/inspect.py [--runs 3] [WHEEL_DIR]   (default: tests/data/real, yappi only)
needs: pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


NO_ISA = "harness inspect, no ISA scan"


def cpu_of(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(cpu seconds of the process and its children, wall seconds, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    # wait4 reports the child's own usage including its waited-for descendants
    return ru.ru_utime + ru.ru_stime, wall, proc.returncode


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise SystemExit(f"bench: {name} not found; pip install -e '.[bench]'")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("wheel_dir", nargs="?", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    compiled = compileall.compile_dir(str(ROOT / "harness"), quiet=1)
    if not compiled:
        raise SystemExit("bench: compiling harness's bytecode failed")
    with tempfile.TemporaryDirectory() as tmp:
        if args.wheel_dir is None:
            src = sorted((ROOT / "tests" / "data" / "real").glob("yappi-1.7.6-*.whl"))
            wdir = Path(tmp)
            for w in src:
                shutil.copy(w, wdir / w.name)
        else:
            wdir = args.wheel_dir
        wheels = sorted(wdir.glob("*.whl"))
        linux = [w for w in wheels if "linux" in w.name]
        commands: dict[str, list[list[str]]] = {
            "harness inspect": [[tool("harness"), "inspect", str(wdir)]],
            NO_ISA: [[tool("harness"), "inspect", str(wdir)]],
            "auditwheel show (each Linux wheel)": [
                [tool("auditwheel"), "show", str(w)] for w in linux
            ],
            "check-wheel-contents": [[tool("check-wheel-contents"), str(wdir)]],
            "twine check": [[tool("twine"), "check", *map(str, wheels)]],
        }
        results: dict[str, tuple[float, float]] = {}
        no_isa = {**os.environ, "HARNESS_NO_ISA_SCAN": "1"}
        for label, argvs in commands.items():
            cpus, walls = [], []
            for _ in range(args.runs):
                cpu = wall = 0.0
                for argv in argvs:
                    c, w, _rc = cpu_of(argv, no_isa if label == NO_ISA else None)
                    cpu += c
                    wall += w
                cpus.append(cpu)
                walls.append(wall)
            results[label] = (statistics.median(cpus), statistics.median(walls))
    print(f"{len(wheels)} wheels ({len(linux)} Linux), median of {args.runs} runs")
    print(f"{'tool':40} {'cpu s':>8} {'wall s':>8}")
    for label, (cpu, wall) in results.items():
        print(f"{label:40} {cpu:8.2f} {wall:8.2f}")
    harness_cpu = results["harness inspect"][0]
    ours = ("harness inspect", NO_ISA)
    peer_cpu = sum(cpu for label, (cpu, _) in results.items() if label not in ours)
    peer_wall = sum(w for label, (_, w) in results.items() if label not in ours)
    print(f"{'peer chain total':40} {peer_cpu:8.2f} {peer_wall:8.2f}")
    print(f"ratio (peer chain CPU / harness CPU): {peer_cpu / harness_cpu:.1f}x")
    isa = harness_cpu - results[NO_ISA][0]
    print(f"cpu.isa scan: {isa:+.2f} s CPU ({isa / results[NO_ISA][0]:+.0%} of inspect without it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
