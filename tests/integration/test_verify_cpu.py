"""The CPU-baseline gate with real docker + qemu user-mode (matrices/baseline.toml).

The proof a static scan cannot give: an extension that executes AVX2 at import, tagged
manylinux_2_17_x86_64 (which promises x86-64-v1), installs in bookworm and dies of SIGILL
once its interpreter runs as an x86-64-v1 CPU (qemu64); the same image without the CPU
model imports it. The same pair for aarch64: an LSE atomic in PyInit dies as ARMv8.0
(cortex-a53), and outline atomics (dispatch by AT_HWCAP) pass. Real yappi passes both
baseline envs with the import and profiler suites.

Needs the bookworm amd64 and arm64 images (built here through the harness, cached by
recipe hash) and qemu-user-static (tests/engines.d/10-docker.sh installs both engines).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import config, matrix
from harness.envs import Environment, environment
from harness.envs.base import EnvSpec
from harness.verify import verify

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CPU = DATA / "cpu"
REASON = "the wheel needs a newer CPU than its tag promises"
# runs in every env, emulated or not: which path the dispatching module took
PROBE_PATH = (
    'python -c "import importlib.util as u; '
    "print('DISPATCH', [__import__(n).path for n in ['cpu_dispatch'] if u.find_spec(n)])\""
)


@pytest.fixture(scope="module")
def baseline_envs(docker_daemon: None) -> Callable[[str], dict[str, Environment]]:
    """``get(arch)``: that arch's baseline env, built if missing (cached by recipe hash),
    plus the same image without the CPU model ("native-<name>")."""
    from harness import console

    specs = {s.name: s for s in matrix.load("baseline", REPO / "matrices").envs}

    def get(name: str) -> dict[str, Environment]:
        env = environment(specs[name])
        env.prepare(log=console.info)
        native = dataclasses.replace(specs[name], name=f"native-{name}", cpu=None)
        return {name: env, native.name: environment(native)}

    return get


def run_cells(
    envs: dict[str, Environment], names: list[str], cases: list[str], tmp_path: Path, **cfg: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    dist = tmp_path / "dist"
    dist.mkdir(parents=True)
    for case in cases:
        for whl in (CPU / case).glob("*.whl"):
            shutil.copy(whl, dist / whl.name)
    specs: list[EnvSpec] = [envs[n].spec for n in names]
    verify(
        sorted(dist.glob("*.whl")),
        specs,
        config.Config(jobs=2, **cfg),
        tmp_path / "reports",
        matrix_name="baseline",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    return {(r["env"], r["wheel"]["filename"].split("-")[0]): r for r in doc["runs"]}


def host_has(flag: str) -> bool:
    text = Path("/proc/cpuinfo").read_text()
    return any(
        flag in line.split(":", 1)[1].split()
        for line in text.splitlines()
        if line.startswith("flags")
    )


def test_avx2_at_import_dies_as_x86_64_v1_and_dispatch_passes(
    baseline_envs: Callable[[str], dict[str, Environment]], tmp_path: Path
) -> None:
    runs = run_cells(
        baseline_envs("baseline-x86-64"),
        ["baseline-x86-64", "native-baseline-x86-64"],
        ["avx2-at-import", "avx2-dispatch"],
        tmp_path,
        suites=("import", "test-command"),
        test_command=PROBE_PATH,
    )
    dead = runs[("baseline-x86-64", "cpu_avx2")]
    assert dead["status"] == "failed"
    assert dead["reason"].startswith(f"illegal instruction on x86-64-v1 (qemu64): {REASON}")
    # the in-env hook caught the fault: the instruction (the first VEX-encoded one: qemu64
    # has no AVX at all), the function, the library
    assert f"{REASON}: v" in dead["reason"]
    assert "in sum_x3 (cpu_avx2.cpython-311-x86_64-linux-gnu.so+0x" in dead["reason"]
    steps = {s["name"]: s for s in dead["steps"]}
    assert steps["install"]["status"] == "passed"  # pip believed the tag
    assert steps["cpu"]["status"] == "passed"
    assert steps["smoke:import"]["returncode"] == 132
    assert steps["smoke:import"]["detail"]["sigill"]["function"] == "sum_x3"

    native = runs[("native-baseline-x86-64", "cpu_avx2")]
    if host_has("avx2"):
        assert native["status"] == "passed", native["reason"]
    else:  # a CPU without AVX2 runs this test: the native cell dies the same way
        assert native["reason"].startswith("illegal instruction on this machine's x86_64 CPU")

    # the dispatching module passes both; the test-command ran emulated (scalar path)
    emulated = runs[("baseline-x86-64", "cpu_dispatch")]
    assert emulated["status"] == "passed", emulated["reason"]
    tail = {s["name"]: s for s in emulated["steps"]}["smoke:test-command"]["output_tail"]
    assert "DISPATCH ['scalar']" in tail
    plain = runs[("native-baseline-x86-64", "cpu_dispatch")]
    assert plain["status"] == "passed", plain["reason"]
    tail = {s["name"]: s for s in plain["steps"]}["smoke:test-command"]["output_tail"]
    assert ("DISPATCH ['avx2']" if host_has("avx2") else "DISPATCH ['scalar']") in tail


def test_lse_at_import_dies_as_armv8_0_and_outline_atomics_pass(
    baseline_envs: Callable[[str], dict[str, Environment]], tmp_path: Path
) -> None:
    arm = baseline_envs("baseline-armv8")
    runs = run_cells(
        arm,
        ["baseline-armv8", "native-baseline-armv8"],
        ["lse-at-import"],
        tmp_path / "inline",
    )
    dead = runs[("baseline-armv8", "cpu_lse")]
    assert dead["status"] == "failed"
    assert dead["reason"].startswith(f"illegal instruction on armv8.0 (cortex-a53): {REASON}")
    assert "ldaddal" in dead["reason"]
    assert "in PyInit_cpu_lse (cpu_lse.cpython-311-aarch64-linux-gnu.so+0x" in dead["reason"]
    native = runs[("native-baseline-armv8", "cpu_lse")]
    assert native["status"] == "passed", native["reason"]  # qemu's default CPU has LSE

    runs = run_cells(
        arm,
        ["baseline-armv8", "native-baseline-armv8"],
        ["lse-dispatch"],
        tmp_path / "outline",
    )
    for env in ("baseline-armv8", "native-baseline-armv8"):
        assert runs[(env, "cpu_lse")]["status"] == "passed", runs[(env, "cpu_lse")]["reason"]


def test_yappi_passes_the_baseline_envs(
    baseline_envs: Callable[[str], dict[str, Environment]], tmp_path: Path
) -> None:
    wheels = sorted((DATA / "real").glob("yappi-1.7.6-cp311-*.whl"))
    envs = {**baseline_envs("baseline-x86-64"), **baseline_envs("baseline-armv8")}
    outcome = verify(
        wheels,
        [envs[n].spec for n in ("baseline-x86-64", "baseline-armv8")],
        config.Config(jobs=2),
        tmp_path / "reports",
        matrix_name="baseline",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    ran = {r["env"]: r for r in doc["runs"] if r["status"] != "skipped"}
    assert set(ran) == {"baseline-x86-64", "baseline-armv8"}
    for env, run in ran.items():
        assert run["status"] == "passed", (env, run["reason"])
        steps = {s["name"]: s for s in run["steps"]}
        assert steps["cpu"]["status"] == "passed"
        assert all(c["ok"] for c in steps["smoke:profiler"]["detail"]["checks"])
    assert outcome.report.verdict == "pass"
