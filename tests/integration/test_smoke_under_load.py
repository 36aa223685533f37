"""Steady under load: the smoke suites judge work done and CPU consumed, never a wall-clock
window, so they pass on a machine saturated with more busy processes than it has cores,
natively and under qemu (arm64). Regression test for "cpu clock charged only 0.025s to a
0.1s busy loop" on a busy 2-core machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import config, matrix
from harness.envs import environment
from harness.verify import verify

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "tests" / "data" / "real"
SMOKE = REPO / "harness" / "smoke"
PY = f"cp{sys.version_info.major}{sys.version_info.minor}"


@pytest.fixture
def saturated() -> Iterator[int]:
    """2 x cores + 1 processes spinning for the whole test."""
    n = 2 * (os.cpu_count() or 1) + 1
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield n
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()


def _profiler_checks(report_dir: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((report_dir / "report.json").read_text())
    (run,) = [r for r in doc["runs"] if r["status"] != "skipped"]
    assert run["status"] == "passed", run["reason"]
    steps = {s["name"]: s for s in run["steps"]}
    return {c["name"]: c for c in steps["smoke:profiler"]["detail"]["checks"]}


def test_cprofile_suite_passes_on_a_saturated_machine(saturated: int) -> None:
    done = subprocess.run(
        [sys.executable, str(SMOKE / "run.py"), "profiler", "--adapter", "cprofile"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1].removeprefix("HARNESS-RESULT "))
    assert result["failed"] == 0
    cpu = next(c for c in result["checks"] if c["name"] == "cpu clock")
    assert cpu["detail"]["consumed_cpu_s"] >= 0.1  # the loop got its CPU, however slowly


def test_yappi_cell_passes_on_a_saturated_machine(saturated: int, tmp_path: Path) -> None:
    wheel = next(
        p for p in REAL.glob(f"yappi-1.7.6-{PY}-{PY}-manylinux*.whl") if "x86_64" in p.name
    )
    verify(
        [wheel],
        [matrix.embedded_default().envs[0]],
        config.Config(jobs=1),
        tmp_path / "reports",
        matrix_name="host",
    )
    checks = _profiler_checks(tmp_path / "reports")
    for name in ("cpu clock", "wall clock", "threads before start", "threads after start"):
        assert checks[name]["ok"], checks[name]


def test_yappi_cell_passes_under_qemu_on_a_saturated_machine(
    docker_daemon: None, saturated: int, tmp_path: Path
) -> None:
    spec = matrix.load("arm64", REPO / "matrices").get("arm64")  # bookworm arm64
    environment(spec).prepare()  # built once, cached by recipe hash
    wheels = [p for p in REAL.glob("yappi-1.7.6-cp311-cp311-*.whl") if "aarch64" in p.name]
    verify(wheels, [spec], config.Config(jobs=1), tmp_path / "reports", matrix_name="arm64")
    checks = _profiler_checks(tmp_path / "reports")
    for name in ("cpu clock", "wall clock", "threads before start", "threads after start"):
        assert checks[name]["ok"], checks[name]
