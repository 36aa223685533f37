"""One container per env, shared by its cells (harness/envs/containers.py,
harness/verify/share.py), in the real daemon: cells are apart (own uid, private
directory), a timeout kills one cell's processes and no other's, a cell's leftovers go
when it ends, what breaks the container is seen by the cells that ran then, and a cell a
neighbour made fail is run again alone. Plus cleanup when Ctrl-C lands during `docker run`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import uuid
import zipfile
from pathlib import Path

import pytest

from harness import config
from harness.envs import Environment, Limits
from harness.envs.containers import RUN_LABEL, SharedContainer
from harness.envs.daemon import docker
from harness.errors import InfraError
from harness.verify import verify

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def trixie(docker_envs: dict[str, Environment]) -> Environment:
    if "trixie" not in docker_envs:
        pytest.skip("the test matrix has no trixie env")
    return docker_envs["trixie"]


def shared(env: Environment, limits: Limits | None = None) -> SharedContainer:
    started = env.shared([], limits=limits or Limits())
    assert isinstance(started, SharedContainer)
    return started


def as_root(container: str, *argv: str) -> str:
    done = docker(["exec", "--user", "0", container, *argv], check=True, timeout=120)
    return done.stdout


def processes(container: str) -> list[tuple[int, int, str]]:
    """(pid, uid, state) of every process in the container, from /proc."""
    script = (
        "import os\n"
        "for p in os.listdir('/proc'):\n"
        "    if p.isdigit():\n"
        "        try:\n"
        "            st = open('/proc/%s/status' % p).read().splitlines()\n"
        "        except OSError:\n"
        "            continue\n"
        "        f = dict(l.split(':', 1) for l in st if ':' in l)\n"
        "        print(p, f['Uid'].split()[0], f['State'].split()[0])\n"
    )
    out = as_root(container, "python3", "-c", script)
    rows = [line.split() for line in out.splitlines()]
    return [(int(pid), int(uid), state) for pid, uid, state in rows]


def test_cells_of_a_shared_container_are_apart(trixie: Environment) -> None:
    host = shared(trixie)
    try:
        a, b = host.new_cell(), host.new_cell()
        assert a.uid != b.uid
        assert a.workdir != b.workdir
        me = a.exec(["sh", "-c", 'id -u; echo "$HOME $TMPDIR"; pwd; touch mine'], timeout=60)
        assert me.ok, me.stderr
        uid, dirs, cwd = me.stdout.split("\n")[:3]
        assert int(uid) == a.uid
        assert dirs == f"{a.workdir} {a.workdir}"
        assert cwd == a.workdir
        assert as_root(host.container, "stat", "-c", "%a %u", a.workdir).split() == [
            "700",
            str(a.uid),
        ]
        # b can neither read nor write a's directory (its venv lives there)
        b.exec(["true"], timeout=60)
        peek = b.exec(["ls", a.workdir], timeout=60)
        assert peek.returncode != 0
        assert "Permission denied" in peek.stderr
        plant = b.exec(["touch", f"{a.workdir}/planted"], timeout=60)
        assert plant.returncode != 0
        # nor signal its processes
        a_sleep = a.exec(["sh", "-c", "sleep 120 >/dev/null 2>&1 & echo $!"], timeout=60)
        pid = a_sleep.stdout.strip()
        assert not b.exec(["kill", "-9", pid], timeout=60).ok
        assert (int(pid), a.uid, "S") in processes(host.container)
    finally:
        host.close()
    assert docker(["container", "inspect", host.container], check=False).returncode != 0


def test_timeout_kills_one_cell_and_the_others_go_on(trixie: Environment) -> None:
    host = shared(trixie)
    try:
        slow, other = host.new_cell(), host.new_cell()
        other.exec(["true"], timeout=60)
        # the neighbour's background process must survive the slow cell's timeout
        keep = other.exec(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"], timeout=60)
        keep_pid = int(keep.stdout.strip())
        # a process group, a setsid'd escapee and a plain child: all of the cell's uid
        hung = slow.exec(
            ["sh", "-c", "sleep 300 & setsid sleep 300 & (sleep 300 &); sleep 300"], timeout=3
        )
        assert hung.timed_out
        assert not hung.ok
        left = processes(host.container)
        assert not [p for p in left if p[1] == slow.uid], left
        assert (keep_pid, other.uid, "S") in left
        with pytest.raises(InfraError, match="over"):
            slow.exec(["true"], timeout=60)
        # the container and the other cell go on
        assert host.dead is None
        after = other.exec(["python3", "-c", "print('still here')"], timeout=60)
        assert after.ok
        assert after.stdout == "still here\n"
    finally:
        host.close()


def test_a_cell_end_kills_its_leftovers_removes_its_dir_and_orphans_are_reaped(
    trixie: Environment,
) -> None:
    host = shared(trixie)
    try:
        cell, other = host.new_cell(), host.new_cell()
        other.exec(["true"], timeout=60)
        # orphans that exit (zombies unless pid 1 reaps them) and one that lives on
        run = cell.exec(
            ["sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.1 &); done; (sleep 300 &); sleep 1"],
            timeout=60,
        )
        assert run.ok, run.stderr
        procs = processes(host.container)
        assert not [p for p in procs if p[2] == "Z"], procs
        assert [p for p in procs if p[1] == cell.uid]
        cell.close()
        procs = processes(host.container)
        assert not [p for p in procs if p[1] == cell.uid], procs
        assert not [p for p in procs if p[2] == "Z"], procs
        gone = other.exec(["test", "-e", cell.workdir], timeout=60)
        assert gone.returncode == 1
        with pytest.raises(InfraError, match="over"):
            cell.exec(["true"], timeout=60)
    finally:
        host.close()


def test_an_oom_kill_is_an_incident_for_the_cells_running_then(trixie: Environment) -> None:
    host = shared(trixie, Limits(memory="128m", pids=256))
    try:
        hog, bystander = host.new_cell(), host.new_cell()
        bystander.exec(["true"], timeout=60)
        assert bystander.incident() is None
        big = hog.exec(
            ["python3", "-c", "b = bytearray(600 * 1024 * 1024); print(len(b))"], timeout=120
        )
        assert big.oom, (big.returncode, big.stderr)
        assert "OOM kill" in (bystander.incident() or "")
        assert "OOM kill" in (hog.incident() or "")
        later = host.new_cell()  # started after it: nothing happened during this one
        assert later.exec(["true"], timeout=60).ok
        assert later.incident() is None
        assert host.dead is None
    finally:
        host.close()


def _pure_wheel(dest: Path, name: str, module: str) -> Path:
    """A pure wheel NAME 1.0 whose top-level module is ``module``."""
    dist_info = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": module.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: shared-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    lines = []
    for arc, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{arc},sha256={digest},{len(data)}")
    files[f"{dist_info}/RECORD"] = ("\n".join([*lines, f"{dist_info}/RECORD,,"]) + "\n").encode()
    path = dest / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in files.items():
            zf.writestr(arc, data)
    return path


# imported in one cell: forks until the container's pid limit refuses, says so in the
# shared /tmp, holds the pids a while, then lets them go (it passes)
FORKER = textwrap.dedent("""\
    import os, signal, time
    kids = []
    try:
        while len(kids) < 4096:
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            kids.append(pid)
    except OSError:
        pass
    open("/tmp/forker-full", "w").close()
    time.sleep(8)
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
""")

# imported in the other: when another cell shares its container (a process of another
# cell uid shows up within 60 s; cells' directories are not listable), waits until the
# forker holds every pid, then needs a process of its own (fails there; passes alone,
# after waiting out the 60 s: on a loaded machine the forker's import started more than
# 5 s after this one, the window it had, and nothing was retried)
NEEDY = textwrap.dedent("""\
    import glob, os, subprocess, time
    def other_cell():
        for status in glob.glob("/proc/[0-9]*/status"):
            try:
                with open(status) as fh:
                    uid = next(int(ln.split()[1]) for ln in fh if ln.startswith("Uid:"))
            except (OSError, StopIteration, ValueError):
                continue
            if uid >= 20000 and uid != os.getuid():
                return True
        return False
    shared = False
    for _ in range(600):
        if other_cell():
            shared = True
            break
        time.sleep(0.1)
    if shared:
        for _ in range(1200):
            if os.path.exists("/tmp/forker-full"):
                break
            time.sleep(0.1)
    subprocess.run(["true"], check=True)
""")


def test_a_cell_failing_at_the_shared_pid_limit_is_retried_alone(
    trixie: Environment, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    _pure_wheel(dist, "forker", FORKER)
    _pure_wheel(dist, "needy", NEEDY)
    verify(
        sorted(dist.glob("*.whl")),
        [trixie.spec],
        config.Config(jobs=2, suites=("import",)),
        tmp_path / "reports",
        matrix_name="shared",
        limits=Limits(pids=64),
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    runs = {r["wheel"]["filename"].split("-")[0]: r for r in doc["runs"]}
    needy, forker = runs["needy"], runs["forker"]
    assert forker["status"] == "passed", forker["reason"]
    assert needy["status"] == "passed", needy["reason"]
    names = [s["name"] for s in needy["steps"]]
    # the first attempt, in the shared container, is kept, then the whole cell again
    assert "shared container" in names, names
    first = next(s for s in needy["steps"] if s["name"] == "shared container")
    assert first["status"] in ("failed", "error")
    assert "pid limit" in first["detail"]["incident"]
    # whichever step the full container broke, it is there, not passed
    assert first["detail"]["steps"][-1]["status"] != "passed"
    again = names[names.index("shared container") + 1 :]
    assert again[:4] == ["container", "venv", "install", "pick"], again
    assert len(doc["runs"]) == 2


def test_an_interrupted_docker_run_leaves_no_container(trixie: Environment) -> None:
    """Ctrl-C at several points of `docker run` (before, during, after the daemon
    creates the container): whatever the moment, nothing with the run's label is left."""
    env_name = f"ctrlc-{uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(f"""\
        import sys, time
        from harness.envs import containers, Limits
        print(containers.RUN_ID, flush=True)
        containers.start_container(
            image={trixie.image!r}, env_name={env_name!r}, python="python3",
            user="harness", home="/home/harness", mounts=[], limits=Limits(), platform=None,
        )
        time.sleep(60)
    """)
    for delay in (0.05, 0.15, 0.3, 0.5, 0.8, 1.5):
        child = subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
        )
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
        child.communicate(timeout=120)
        left = docker(
            ["ps", "--all", "--quiet", "--filter", f"label={RUN_LABEL}={run_id}"], timeout=60
        ).stdout.split()
        assert not left, (delay, left)


def test_containers_left_created_by_a_lost_race_are_swept_by_label(
    trixie: Environment,
) -> None:
    """What the daemon created after the first `rm` (state Created, never started, so its
    --rm never acts): the run's label finds it on Ctrl-C and at exit."""
    from harness.envs import containers

    name = f"wheel-harness-race-{uuid.uuid4().hex[:8]}"
    label = f"{RUN_LABEL}={containers.RUN_ID}"
    docker(["create", "--name", name, "--label", label, str(trixie.image)], timeout=120)
    state = docker(["inspect", "--format", "{{.State.Status}}", name], timeout=60)
    assert state.stdout.strip() == "created"
    found = containers.labelled_containers()
    assert f"/{name}" in docker(["inspect", "--format", "{{.Name}}", *found]).stdout.split()
    containers.remove_live_sessions()
    assert docker(["container", "inspect", name], check=False, timeout=60).returncode != 0


def test_env_cells_share_one_container_in_verify(trixie: Environment, tmp_path: Path) -> None:
    """Two distributions for one env: two cells, one container start, each cell its own
    uid, venv and proof (file, sha256, interpreter)."""
    dist = tmp_path / "dist"
    dist.mkdir()
    real = REPO / "tests" / "data" / "real"
    for pattern in (
        "yappi-1.7.6-cp313-cp313-manylinux*x86_64*.whl",
        "markupsafe-3.0.3-cp313-cp313-manylinux*.whl",
    ):
        for whl in real.glob(pattern):
            (dist / whl.name).write_bytes(whl.read_bytes())
    verify(
        sorted(dist.glob("*.whl")),
        [trixie.spec],
        config.Config(jobs=2),
        tmp_path / "reports",
        matrix_name="shared",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    runs = doc["runs"]
    assert len(runs) == 2
    assert all(r["status"] == "passed" for r in runs), [r["reason"] for r in runs]
    started = [s for r in runs for s in r["steps"] if s["name"] == "container"]
    assert len(started) == 1
    assert started[0]["detail"]["shared_by"] == 2
    assert started[0]["detail"]["memory"] == "4g"  # two cells at once: twice one cell's
    venvs = set()
    for r in runs:
        pick = next(s for s in r["steps"] if s["name"] == "pick")
        assert pick["detail"]["picked"] == r["wheel"]["filename"]
        assert pick["detail"]["sha256"] == r["wheel"]["sha256"]
        assert pick["detail"]["path"] == f"/wheelhouse/{r['wheel']['filename']}"
        assert pick["detail"]["interpreter"]["version"].startswith("3.13")
        venvs.add(pick["detail"]["interpreter"]["venv"])
    assert len(venvs) == 2
