"""Engines for the integration tests: the real Docker daemon (started by tests/engines.sh).

Without a daemon the docker tests skip and say why; under CI (CI=true) they fail instead,
because CI's engines.sh must have started one. The images they need are built once per
session through the harness itself (cached by recipe hash, so only a cold machine pays):
the `linux` matrix by default, or the matrix named by $HARNESS_TEST_MATRIX (`nightly`
adds arm64 under qemu and bookworm).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness import matrix
from harness.envs import Environment, environment
from harness.envs.base import EnvKind
from harness.envs.daemon import ensure_daemon
from harness.errors import InfraError

REPO = Path(__file__).resolve().parents[2]
DATA_REAL = REPO / "tests" / "data" / "real"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    try:
        ensure_daemon()
    except InfraError as exc:
        if _in_ci():
            pytest.fail(f"CI must have a Docker daemon (tests/engines.sh): {exc}")
        pytest.skip(f"no Docker daemon, run `bash tests/engines.sh` as root: {exc}")


@pytest.fixture(scope="session")
def test_matrix() -> matrix.Matrix:
    return matrix.load(os.environ.get("HARNESS_TEST_MATRIX", "linux"), REPO / "matrices")


@pytest.fixture(scope="session")
def docker_envs(docker_daemon: None, test_matrix: matrix.Matrix) -> dict[str, Environment]:
    """Every docker env of the test matrix, built (cold: minutes; warm: a second)."""
    from harness import console

    envs: dict[str, Environment] = {}
    for spec in test_matrix.envs:
        if spec.kind is EnvKind.HOST:
            continue
        env = environment(spec)
        env.prepare(log=console.info)
        envs[spec.name] = env
    return envs


@pytest.fixture(scope="session")
def yappi_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """yappi 1.7.6's real wheels (tests/data/real), alone in a directory to mount."""
    wheels = sorted(DATA_REAL.glob("yappi-1.7.6-*.whl"))
    if not wheels:
        pytest.fail("tests/data/real has no yappi 1.7.6 wheels (tests/data/fetch_real.py)")
    target = tmp_path_factory.mktemp("yappi")
    for wheel in wheels:
        shutil.copy2(wheel, target / wheel.name)
    os.chmod(target, 0o755)
    return target
