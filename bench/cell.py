"""Benchmark: where one cell's time and CPU go, stage by stage.

For one docker env of a matrix (default: trixie of `linux`; an arm64 env runs under
qemu) and yappi 1.7.6's wheel pip picks there (the wheelhouse holds all 62, as in
`harness verify`), runs cells through the harness's own code (``EnvContainers``, as
`harness verify` does: the env's container started by its first cell, ``--cells`` cells
one after the other in it, then ``run_stages``) and measures every stage:

- ``wall``: seconds, harness side (each includes its `docker exec` round trips);
- ``env cpu``: CPU seconds inside the container, from its cgroup's counter read on the
  host (cgroup v1 ``cpuacct/docker/ID``, v2 ``docker/ID`` or
  ``system.slice/docker-ID.scope``); under qemu this is the emulator's CPU, i.e. the
  emulated work;
- ``harness cpu``: CPU seconds of the harness itself (this process: host-side work such
  as the install done on the host) and of its children (the docker CLI calls);
- ``daemons cpu``: CPU seconds of dockerd, containerd, the shims and runc (machine-wide:
  other jobs' containers count too, so an upper bound).

A stage is the time between one recorded step and the next (``venv``, ``install``,
``pick``, ``smoke:import``, ``smoke:profiler``), plus ``container start`` and ``end``
(the cell leaving: its cleanup or the container's removal, divided among the cells).

``--baseline REF`` runs the same measurement with the harness of a git revision
(exported to a temp dir) and this tree, alternating, and prints both.

usage: python bench/cell.py [--matrix M] [--env NAME] [--cells N] [--repeat N]
                            [--wheels GLOB] [--baseline REF]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/inspect.py would shadow the stdlib's inspect module for `python bench/cell.py`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

STAGES = ["container start", "venv", "install", "pick", "smoke:import", "smoke:profiler", "end"]
MEASURES = ["wall", "env cpu", "harness cpu", "daemons cpu"]
DAEMONS = ("dockerd", "containerd", "runc")
Sample = dict[str, float]


def daemons_cpu() -> dict[str, float]:
    """CPU seconds of each docker daemon process, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm in DAEMONS or comm.startswith("containerd-shim"):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                found[pid] = sum(int(f) for f in fields[11:15]) / tick
        except (OSError, ValueError):
            continue
    return found


def harness_cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class CgroupCPU:
    """A container's CPU counter, read on the host (0.0 if no known cgroup layout)."""

    def __init__(self, container: str) -> None:
        cid = subprocess.run(
            ["docker", "inspect", "--format", "{{.Id}}", container],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        self.v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        self.v2 = next(
            (
                p
                for p in (
                    Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
                    Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat"),
                )
                if p.exists()
            ),
            None,
        )
        self.last = 0.0

    def read(self) -> float:
        try:
            if self.v1.exists():
                self.last = int(self.v1.read_text()) / 1e9
            elif self.v2 is not None:
                for line in self.v2.read_text().splitlines():
                    if line.startswith("usage_usec "):
                        self.last = int(line.split()[1]) / 1e6
        except (OSError, ValueError):
            pass  # the container is gone: its last reading stands
        return self.last


class Meter:
    def __init__(self) -> None:
        self.cgroup: CgroupCPU | None = None
        self.daemons: dict[str, float] = daemons_cpu()
        self.mark = self.now()
        self.samples: dict[str, Sample] = {}

    def now(self) -> Sample:
        # daemons: what each process present now used since the last reading (a process
        # that ended since is left out: its last slice is lost, never negative)
        daemons = daemons_cpu()
        used = sum(cpu - self.daemons.get(pid, 0.0) for pid, cpu in daemons.items())
        self.daemons = daemons
        return {
            "wall": time.perf_counter(),
            "env cpu": self.cgroup.read() if self.cgroup else 0.0,
            "harness cpu": harness_cpu(),
            "daemons cpu": used,
        }

    def stage(self, name: str) -> None:
        now = self.now()
        into = self.samples.setdefault(name, dict.fromkeys(MEASURES, 0.0))
        for k in MEASURES:
            into[k] += now[k] - (0.0 if k == "daemons cpu" else self.mark[k])
        self.mark = now


class Steps(list):  # type: ignore[type-arg]
    """A cell's step list that closes a stage at each step recorded."""

    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self.meter = meter

    def append(self, step: Any) -> None:
        super().append(step)
        self.meter.stage(step.name)


def measure(
    matrix_name: str, env_name: str, cells: int, wheels_glob: str = "yappi-1.7.6-*.whl"
) -> dict[str, Sample]:
    """``cells`` cells of one wheel (the one pip picks there among tests/data/real's
    ``wheels_glob``, default yappi 1.7.6) in one env container; per-cell means of every
    stage."""
    from harness import config, matrix
    from harness.coverage import compute, parse_wheel
    from harness.envs import Limits, environment
    from harness.fsutil import sha256_file
    from harness.verify import pipcache
    from harness.verify.cell import SMOKE, SMOKE_DIR, CellMounts, CellRun, Task, run_stages
    from harness.verify.share import EnvContainers

    mx = matrix.load(matrix_name)
    spec = next((s for s in mx.envs if s.name == env_name), None)
    if spec is None:
        sys.exit(f"no env {env_name} in matrix {matrix_name}")
    env = environment(spec)
    probe = env.probe()
    cfg = config.Config(jobs=1)
    with tempfile.TemporaryDirectory() as tmp:
        house = Path(tmp) / "wheelhouse"
        house.mkdir()
        os.chmod(tmp, 0o755)
        os.chmod(house, 0o755)
        for w in sorted((ROOT / "tests" / "data" / "real").glob(wheels_glob)):
            shutil.copy(w, house / w.name)
            os.chmod(house / w.name, 0o644)
        wheels = [parse_wheel(p.name) for p in house.iterdir()]
        picked = [p for p in compute(wheels, [(spec, probe)]).envs if p.picked]
        if not picked:
            sys.exit(f"{env_name}: pip picks none of tests/data/real/{wheels_glob}")
        pick = picked[0]
        assert pick.picked is not None
        wheel = house / pick.picked
        task = Task(env=env, probe=probe, wheel=wheel, sha256=sha256_file(wheel))
        cache, _ = pipcache.ensure(
            env, probe, smoke_dir=SMOKE_DIR, smoke_target=SMOKE, timeout=3600
        )
        mounts = CellMounts.of(task, cache, None)
        containers = EnvContainers(1, Limits())
        containers.expect(env, cells)
        meter = Meter()
        try:
            for _ in range(cells):
                meter.mark = meter.now()
                with containers.cell(env, mounts.all()) as leased:
                    assert leased is not None
                    if meter.cgroup is None:
                        meter.cgroup = CgroupCPU(leased.container.container)  # type: ignore[attr-defined]
                    meter.stage("container start")
                    steps = Steps(meter)
                    run = CellRun(
                        task=task, cfg=cfg, session=leased.session, mounts=mounts, steps=steps
                    )
                    run_stages(run)
                    bad = [s for s in steps if s.status.value != "passed"]
                    if bad:
                        sys.exit(f"{bad[0].name}: {bad[0].output_tail[-500:]}")
                    meter.mark = meter.now()
                meter.stage("end")
            meter.mark = meter.now()
            containers.close_all()
            meter.stage("end")
        finally:
            containers.close_all()
    label = f"{spec.name} ({probe.platform}, Python {probe.python_version}): {pick.picked}"
    per_cell = {k: {m: v / cells for m, v in s.items()} for k, s in meter.samples.items()}
    return {"_label": {"text": label}, **per_cell}  # type: ignore[dict-item]


def export(ref: str, dest: Path) -> Path:
    """`git archive REF` into ``dest``: bench/verify.py's (loaded by path: bench/ is off
    sys.path, see above)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_verify", HERE / "verify.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported: Path = module.export(ref, dest)
    return exported


def child(tree: Path, args: argparse.Namespace) -> dict[str, Sample]:
    """One measurement with the harness of ``tree``, in a process of its own."""
    argv = [sys.executable, __file__, "--child", "--matrix", args.matrix, "--env", args.env]
    argv += ["--cells", str(args.cells), "--wheels", args.wheels]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode != 0:
        sys.exit(f"{tree}: {done.stderr[-2000:]}")
    result: dict[str, Sample] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--matrix", default="linux")
    ap.add_argument("--env", default="trixie")
    ap.add_argument("--cells", type=int, default=3, help="cells per env container")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--wheels",
        default="yappi-1.7.6-*.whl",
        metavar="GLOB",
        help="the wheels of tests/data/real in the wheelhouse (default: yappi 1.7.6's 62)",
    )
    ap.add_argument("--baseline", default=None, metavar="REF", help="git revision to compare")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.matrix, args.env, args.cells, args.wheels)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        variants = {"after": ROOT}
        if args.baseline:
            variants = {"before": export(args.baseline, Path(tmp) / "before"), "after": ROOT}
        for tree in variants.values():  # warm-up: each tree's per-env compiled pip
            child(tree, argparse.Namespace(**{**vars(args), "cells": 1}))
        print(f"load before: {uptime()}")
        runs: dict[str, list[dict[str, Sample]]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, tree in variants.items():
                runs[name].append(child(tree, args))
        print(f"load after:  {uptime()}")
    print(runs["after"][0]["_label"]["text"])  # type: ignore[index]
    print(f"per cell, median of {args.repeat} runs of {args.cells} cells in one container")
    print(f"  {'stage':<16} {'variant':<7} " + " ".join(f"{m:>12}" for m in MEASURES))
    for stage in [*STAGES, "total"]:
        for name, rs in runs.items():
            if stage == "total":
                vals = [
                    statistics.median(sum(r[s][m] for s in STAGES if s in r) for r in rs)
                    for m in MEASURES
                ]
            else:
                vals = [
                    statistics.median(r.get(stage, {}).get(m, 0.0) for r in rs) for m in MEASURES
                ]
            print(f"  {stage:<16} {name:<7} " + " ".join(f"{v:12.3f}" for v in vals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
