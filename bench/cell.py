"""Benchmark: where one cell's time and CPU go, stage by stage, alone and in a shared
container.

For one docker env of a matrix (default: trixie of `linux`; an arm64 env runs under qemu)
and yappi 1.7.6's wheel pip picks there (the wheelhouse holds all 62, as in `harness
verify`), runs the cell's stages through the harness's own functions and measures each:

- wall seconds, harness side (each includes its `docker exec` round trips);
- CPU seconds inside the container (its cgroup's counter, read from the host: cgroup v1
  ``cpuacct/docker/ID`` or v2 ``docker/ID`` / ``system.slice/docker-ID.scope``); under
  qemu this is the emulator's CPU, i.e. the emulated work;
- CPU seconds of the harness itself and its docker CLI children (``harness``);
- CPU seconds of the docker daemons (dockerd, containerd, shims, runc; machine-wide, so
  other jobs' containers count too: an upper bound).

The stages:

- alone: container start, venv, install, pick proof, each smoke suite, container removal
  (a container per cell: what a cell cost before envs shared containers, and what a cell
  retried alone costs);
- shared: one container start for ``--cells`` cells run one after the other in it, each
  with its own uid and directory (venv includes creating it), the cell's cleanup (its
  leftover processes killed, its directory removed) and one container removal.

Prints the median of ``--repeat`` runs and the machine load (`uptime`) before and after.

usage: python bench/cell.py [--matrix M] [--env NAME] [--cells N] [--repeat N]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/inspect.py would shadow the stdlib's inspect module for `python bench/cell.py`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from harness import config, matrix  # noqa: E402
from harness.coverage import compute, parse_wheel  # noqa: E402
from harness.envs import Environment, Limits, Probe, environment  # noqa: E402
from harness.fsutil import sha256_file  # noqa: E402
from harness.verify import pipcache  # noqa: E402
from harness.verify.cell import (  # noqa: E402
    SMOKE,
    SMOKE_DIR,
    CellMounts,
    CellRun,
    Task,
    install_wheel,
    make_venv,
    prove_pick,
    run_suite,
    suite_argv,
)
from harness.verify.share import shared_limits  # noqa: E402

Timings = dict[str, float]


def timed(into: Timings, name: str, fn: Callable[[], object]) -> object:
    t0 = time.perf_counter()
    value = fn()
    into[name] = into.get(name, 0.0) + time.perf_counter() - t0
    return value


def stages(cell: CellRun, into: Timings) -> None:
    """venv -> install -> pick -> smoke suites, each timed."""
    pip = timed(into, "venv", lambda: make_venv(cell))
    assert isinstance(pip, list)
    out = timed(into, "install", lambda: install_wheel(cell, pip))
    assert isinstance(out, str)
    timed(into, "pick", lambda: prove_pick(cell, out))
    for suite in ("import", "profiler"):
        argv = suite_argv(cell, suite, "t0ken")
        assert argv is not None
        timed(into, f"smoke:{suite}", lambda a=argv, s=suite: run_suite(cell, s, a, "t0ken"))


def alone(task: Task, cfg: config.Config, mounts: CellMounts) -> Timings:
    t: Timings = {}
    cm = task.env.session(mounts.all())
    session = timed(t, "container start", cm.__enter__)
    try:
        stages(CellRun(task=task, cfg=cfg, session=session, mounts=mounts), t)  # type: ignore[arg-type]
    finally:
        timed(t, "container removal", lambda: cm.__exit__(None, None, None))
    return t


def shared(task: Task, cfg: config.Config, mounts: CellMounts, cells: int) -> Timings:
    t: Timings = {}
    host = timed(
        t,
        "container start",
        lambda: task.env.shared(mounts.all(), limits=shared_limits(Limits(), 1)),
    )
    assert host is not None
    try:
        for _ in range(cells):
            session = host.new_cell()  # type: ignore[attr-defined]
            stages(CellRun(task=task, cfg=cfg, session=session, mounts=mounts), t)
            timed(t, "cell cleanup", session.close)
    finally:
        timed(t, "container removal", host.close)  # type: ignore[attr-defined]
    return {k: v / cells for k, v in t.items()}  # per cell


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--matrix", default="linux")
    ap.add_argument("--env", default="trixie")
    ap.add_argument("--cells", type=int, default=3, help="cells per shared container")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    mx = matrix.load(args.matrix)
    spec = next((s for s in mx.envs if s.name == args.env), None)
    if spec is None:
        sys.exit(f"no env {args.env} in matrix {args.matrix}")
    env: Environment = environment(spec)
    env.prepare()
    probe: Probe = env.probe()
    cfg = config.Config(jobs=1)
    with tempfile.TemporaryDirectory() as tmp:
        house = Path(tmp) / "wheelhouse"
        house.mkdir()
        os.chmod(tmp, 0o755)
        os.chmod(house, 0o755)
        for w in sorted((ROOT / "tests" / "data" / "real").glob("yappi-1.7.6-*.whl")):
            shutil.copy(w, house / w.name)
            os.chmod(house / w.name, 0o644)
        wheels = [parse_wheel(p.name) for p in house.iterdir()]
        (pick,) = [p for p in compute(wheels, [(spec, probe)]).envs if p.picked]
        assert pick.picked is not None
        wheel = house / pick.picked
        task = Task(env=env, probe=probe, wheel=wheel, sha256=sha256_file(wheel), deps_dir=None)
        cache, _ = pipcache.ensure(
            env, probe, smoke_dir=SMOKE_DIR, smoke_target=SMOKE, timeout=3600
        )
        mounts = CellMounts.of(task, cache)
        print(f"env {spec.name} ({probe.platform}, Python {probe.python_version}): {pick.picked}")
        print(f"load before: {uptime()}")
        runs: dict[str, list[Timings]] = {"alone": [], "shared": []}
        for _ in range(args.repeat):
            runs["alone"].append(alone(task, cfg, mounts))
            runs["shared"].append(shared(task, cfg, mounts, args.cells))
        print(f"load after:  {uptime()}")
    names = ["container start", "venv", "install", "pick", "smoke:import", "smoke:profiler"]
    names += ["cell cleanup", "container removal"]
    print(f"\nwall seconds per cell, median of {args.repeat} (shared: {args.cells} cells in one)")
    print(f"  {'step':<18} {'alone':>8} {'shared':>8}")
    totals = {}
    for variant, rs in runs.items():
        totals[variant] = statistics.median(sum(r.values()) for r in rs)
    for name in names:
        row = [statistics.median(r.get(name, 0.0) for r in runs[v]) for v in runs]
        print(f"  {name:<18} {row[0]:8.2f} {row[1]:8.2f}")
    print(f"  {'cell':<18} {totals['alone']:8.2f} {totals['shared']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
