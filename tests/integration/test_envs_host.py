"""The host kind (no docker): a fresh venv of this interpreter, and pip agrees with coverage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.__main__ import main
from harness.envs import Mount, environment
from harness.envs.base import EnvKind, EnvSpec

pytestmark = pytest.mark.integration


def test_host_session_and_coverage_agree_with_pip(
    yappi_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["coverage", str(yappi_dir), "--format", "json"]) == 0  # default: host
    cov = json.loads(capsys.readouterr().out)
    (row,) = cov["envs"]
    assert row["name"] == "host"
    assert row["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"

    env = environment(EnvSpec(name="host", kind=EnvKind.HOST))
    probe = env.probe()
    assert probe.python_version.startswith(row["python"])
    mount = Mount(source=yappi_dir, target="/wheels")
    with env.session([mount]) as s:
        workdir = Path(s.workdir)
        assert workdir.is_dir()
        assert s.path(mount) == str(yappi_dir.resolve())
        venv = workdir / "venv"
        assert s.exec([s.python, "-m", "venv", str(venv)], timeout=600).ok
        report = workdir / "report.json"
        done = s.exec(
            [
                str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run",
                "--report", str(report), "--no-index", "--find-links", s.path(mount),
                "--no-deps", "yappi==1.7.6",
            ],
            timeout=600,
        )  # fmt: skip
        if row["picked"] is None:
            assert done.returncode != 0
        else:
            assert done.ok, done.stderr
            (item,) = json.loads(report.read_text())["install"]
            assert item["download_info"]["url"].rsplit("/", 1)[-1] == row["picked"]
        slow = s.exec([s.python, "-c", "import time; time.sleep(30)"], timeout=2)
        assert slow.timed_out
    assert not workdir.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only kernel sealing")
def test_linux_host_session_is_sealed(tmp_path: Path) -> None:
    """No network, rlimits, and a timeout kills the step's whole process tree."""
    from harness.envs.base import Limits
    from harness.envs.host import sealing

    env = environment(EnvSpec(name="host", kind=EnvKind.HOST))
    limits = Limits(memory="1g", pids=200)
    what = sealing(limits)
    assert "no network" in what  # CI (root or unprivileged userns) has unshare
    with env.session(limits=limits) as s:
        probe = (
            "import resource, socket\n"
            "print('DATA', resource.getrlimit(resource.RLIMIT_DATA)[0])\n"
            "print('NPROC', resource.getrlimit(resource.RLIMIT_NPROC)[0])\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 53), timeout=5)\n"
            "    print('NET up')\n"
            "except OSError as exc:\n"
            "    print('NET down', exc)\n"
        )
        done = s.exec([s.python, "-c", probe], timeout=120)
        assert done.ok, done.stderr
        assert f"DATA {1 << 30}" in done.stdout
        assert "NPROC 200" in done.stdout
        assert "NET down" in done.stdout
        # a grandchild that outlives its parent must die with the timed-out step
        marker = tmp_path / "survivor"
        child = f"import time; time.sleep(8); open({str(marker)!r}, 'w').close()"
        tree = (
            "import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
            "time.sleep(600)\n"
        )
        done = s.exec([s.python, "-c", tree], timeout=3)
        assert done.timed_out
    import time

    time.sleep(10)
    assert not marker.exists(), "the step's grandchild survived its timeout"
