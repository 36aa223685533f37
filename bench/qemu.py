"""How much slower each emulated arch runs the same Python work (not a test: no assertion).

    python bench/qemu.py [--envs sid,arm64,ppc64le-sid,s390x-sid,riscv64-sid] [--rounds 3]

In each env's image (built if missing), ``python3`` runs a fixed amount of pure-Python
work (``spin``: the profiler suite's workload) and reports the CPU seconds it consumed
(``time.process_time`` inside the guest: under qemu-user that is the host CPU the
emulator spent on it). The envs take turns within each round, so a change of machine load
hits all of them alike; prints the median per env, its ratio to the first env (native),
and the load before and after. Envs are looked up in every matrix of matrices/.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from harness import matrix  # noqa: E402
from harness.envs import environment  # noqa: E402

WORK = """
import json, sys, time
def spin(n):
    total = 0
    for i in range(n):
        total += i & 7
    return total
t0 = time.process_time()
spin(20_000_000)
print(json.dumps({"cpu_s": time.process_time() - t0, "byteorder": sys.byteorder}))
"""


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default="sid,arm64-sid,ppc64le-sid,s390x-sid,riscv64-sid")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    every = {s.name: s for s in matrix.load_all(ROOT / "matrices").envs}
    names = [n for n in args.envs.split(",") if n]
    missing = [n for n in names if n not in every]
    if missing:
        sys.exit(f"no env {', '.join(missing)} in matrices/")
    images: dict[str, str] = {}
    for name in names:
        env = environment(every[name])
        env.prepare(log=lambda msg: print(msg, file=sys.stderr))
        assert env.image is not None
        images[name] = env.image
    print(f"load before: {uptime()}")
    cpu: dict[str, list[float]] = {n: [] for n in names}
    order: dict[str, str] = {}
    for _ in range(args.rounds):
        for name in names:
            done = subprocess.run(
                ["docker", "run", "--rm", "--network", "none", images[name], "python3", "-c", WORK],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            cpu[name].append(float(result["cpu_s"]))
            order[name] = str(result["byteorder"])
    print(f"load after:  {uptime()}")
    base = statistics.median(cpu[names[0]])
    print(f"\nCPU seconds of spin(20_000_000), median of {args.rounds} (ratio to {names[0]})")
    for name in names:
        med = statistics.median(cpu[name])
        runs = " ".join(f"{x:.2f}" for x in cpu[name])
        print(f"  {name:<14} {med:7.2f}  x{med / base:5.1f}  {order[name]:<6} ({runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
