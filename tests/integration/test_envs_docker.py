"""Real images from containers/ recipes, probed and used through the Environment protocol."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness import matrix
from harness.__main__ import main
from harness.envs import Environment, Limits, Mount, images
from harness.envs.daemon import docker, image_inspect
from harness.envs.paths import cache_dir
from harness.errors import InfraError
from tests.integration.children import default_sigint

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# What each env must really be (DESIGN.md): python X.Y, libc, libc version prefix, arch
# (musl 1.2.5: 1.2.3 cannot load the DT_RELR objects of musllinux wheels, containers/README)
EXPECTED = {
    "bullseye": ("3.9", "glibc", "2.31", "x86_64"),
    "bookworm": ("3.11", "glibc", "2.36", "x86_64"),
    "trixie": ("3.13", "glibc", "2.41", "x86_64"),
    "i686": ("3.11", "glibc", "2.36", "i686"),
    "arm64": ("3.11", "glibc", "2.36", "aarch64"),
    # the CPU-model envs (baseline matrix) are the bookworm images, probed as they are
    "baseline-x86-64": ("3.11", "glibc", "2.36", "x86_64"),
    "baseline-armv8": ("3.11", "glibc", "2.36", "aarch64"),
    "musl": ("3.13", "musl", "1.2.5", "x86_64"),
    "sid": ("3.14", "glibc", "2.4", "x86_64"),
    "trixie-ft": ("3.13", "glibc", "2.41", "x86_64"),
    "arm64-bullseye": ("3.9", "glibc", "2.31", "aarch64"),
    "arm64-trixie": ("3.13", "glibc", "2.41", "aarch64"),
    "arm64-sid": ("3.14", "glibc", "2.4", "aarch64"),
    "musl-arm64-cp313": ("3.13", "musl", "1.2.5", "aarch64"),
    "musl-cp39": ("3.9", "musl", "1.2.5", "x86_64"),
    "musl-cp311": ("3.11", "musl", "1.2.5", "x86_64"),
    "musl-arm64-cp39": ("3.9", "musl", "1.2.5", "aarch64"),
    "musl-arm64-cp311": ("3.11", "musl", "1.2.5", "aarch64"),
    "ppc64le-sid": ("3.14", "glibc", "2.4", "ppc64le"),
    "s390x-sid": ("3.14", "glibc", "2.4", "s390x"),
    "riscv64-sid": ("3.14", "glibc", "2.4", "riscv64"),
}
FREE_THREADED = {"trixie-ft"}  # pip's tags there: cp313-cp313t-*, and no abi3


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_real_probed_tags(
    docker_envs: dict[str, Environment],
    test_matrix: matrix.Matrix,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(
        ["envs", "list", "--matrix", str(test_matrix.path), "--format", "json"], capsys
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["schema"] == "harness-envs/1"
    rows = {row["name"]: row for row in payload["envs"] if row["kind"] != "host"}
    assert set(rows) == set(docker_envs)
    for name, row in rows.items():
        assert row["built"] is True
        assert row["image"].startswith("wheel-harness/")
        py, libc, libc_version, arch = EXPECTED[name]
        assert row["python"].startswith(py + "."), row
        assert (row["libc"], row["arch"]) == (libc, arch), row
        assert row["libc_version"].startswith(libc_version), row
        cp = "cp" + py.replace(".", "")
        abi = cp + "t" if name in FREE_THREADED else cp
        assert row["tags"][0].startswith(f"{cp}-{abi}-"), row["tags"][:3]
        assert any("-abi3-" in t for t in row["tags"]) is (name not in FREE_THREADED)
        if libc == "glibc":
            glibc = row["libc_version"].replace(".", "_")
            assert f"{cp}-{abi}-manylinux_{glibc}_{arch}" in row["tags"]
            assert f"{cp}-{abi}-manylinux2014_{arch}" in row["tags"]
            assert not any("musllinux" in t for t in row["tags"])
        else:
            assert f"{cp}-{abi}-musllinux_1_2_{arch}" in row["tags"]
            assert not any("manylinux" in t for t in row["tags"])
        assert "py3-none-any" in row["tags"]


def test_warm_build_builds_nothing(
    docker_envs: dict[str, Environment],
    test_matrix: matrix.Matrix,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = {name: image_inspect(str(env.image)) for name, env in docker_envs.items()}
    code, _, err = run_cli(["envs", "build", "--matrix", str(test_matrix.path)], capsys)
    assert code == 0
    assert ", 0 built," in err
    for name, env in docker_envs.items():
        after = image_inspect(str(env.image))
        assert after is not None
        before = ids[name]
        assert before is not None
        assert after["Id"] == before["Id"]


def pip_pick(env: Environment, wheels: Path) -> str | None:
    """What pip itself installs from ``wheels`` inside a fresh venv of the env."""
    mount = Mount(source=wheels, target="/wheels")
    with env.session([mount]) as s:
        venv = f"{s.workdir}/venv"
        made = s.exec([s.python, "-m", "venv", venv], timeout=600)
        assert made.ok, made.stderr
        pip = [f"{venv}/bin/python", "-m", "pip", "--disable-pip-version-check"]
        source = ["--no-index", "--find-links", s.path(mount), "--no-deps", "yappi==1.7.6"]
        report = f"{s.workdir}/report.json"
        done = s.exec([*pip, "install", "--dry-run", "--report", report, *source], timeout=600)
        if "no such option: --" in done.stderr:
            # pip < 22.2 (bullseye's 20.3): the same finder picks what `pip download` copies.
            dest = f"{s.workdir}/dl"
            done = s.exec([*pip, "download", "--dest", dest, *source], timeout=600)
            if done.returncode != 0:
                assert "No matching distribution" in done.stderr, done.stderr
                return None
            return s.exec(["ls", dest], timeout=60).stdout.strip() or None
        if done.returncode != 0:
            assert "No matching distribution" in done.stderr, done.stderr
            return None
        data = json.loads(s.exec(["cat", report], timeout=60).stdout)
        (item,) = data["install"]
        url: str = item["download_info"]["url"]
        return url.rsplit("/", 1)[-1]


def test_coverage_agrees_with_pip_in_every_env(
    docker_envs: dict[str, Environment],
    test_matrix: matrix.Matrix,
    yappi_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(
        ["coverage", str(yappi_dir), "--matrix", str(test_matrix.path), "--format", "json"],
        capsys,
    )
    assert code == 0
    cov = json.loads(out)
    assert cov["schema"] == "harness-coverage/1"
    picked = {row["name"]: row["picked"] for row in cov["envs"]}
    assert set(docker_envs) <= set(picked)
    for name, env in docker_envs.items():
        assert pip_pick(env, yappi_dir) == picked[name], name
    # yappi 1.7.6 has no i686 Linux wheel: a real gap, and pip agrees (above).
    if "i686" in picked:
        assert picked["i686"] is None
    untested = set(cov["untested"])
    assert all(name.endswith(".whl") for name in untested)
    assert not untested & {p for p in picked.values() if p}
    assert any("win_amd64" in name for name in untested)


@pytest.fixture
def trixie(docker_envs: dict[str, Environment]) -> Environment:
    if "trixie" not in docker_envs:
        pytest.skip("the test matrix has no trixie env")
    return docker_envs["trixie"]


def container_exists(name: str) -> bool:
    return docker(["container", "inspect", name], check=False, timeout=60).returncode == 0


def test_session_is_isolated_and_removed(trixie: Environment, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello")
    tmp_path.chmod(0o755)  # the session's uid 1000 must be able to read the mount
    mount = Mount(source=tmp_path, target="/data")
    with trixie.session([mount]) as s:
        name = s.container  # type: ignore[attr-defined]
        assert container_exists(name)
        assert s.exec(["id", "-u"], timeout=60).stdout.strip() == "1000"
        assert s.exec(["ls", "/sys/class/net"], timeout=60).stdout.split() == ["lo"]
        assert s.exec(["cat", f"{s.path(mount)}/in.txt"], timeout=60).stdout == "hello"
        denied = s.exec(["touch", f"{s.path(mount)}/new"], timeout=60)
        assert denied.returncode != 0
        assert "Read-only" in denied.stderr
        wrote = s.exec(["sh", "-c", 'echo "$GREETING" > out && cat out'], timeout=60,
                       env={"GREETING": "hi there"})  # fmt: skip
        assert wrote.ok
        assert wrote.stdout == "hi there\n"
        failed = s.exec([s.python, "-c", "raise SystemExit(7)"], timeout=60)
        assert (failed.returncode, failed.ok, failed.timed_out) == (7, False, False)
    assert not container_exists(name)
    assert not (tmp_path / "new").exists()

    names: list[str] = []

    def fail_inside() -> None:
        with trixie.session() as s:
            names.append(s.container)  # type: ignore[attr-defined]
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert names
    assert not container_exists(names[0])


def test_timeout_and_oom_are_reported(trixie: Environment) -> None:
    with trixie.session(limits=Limits(memory="96m", pids=64)) as s:
        name = s.container  # type: ignore[attr-defined]
        hog = s.exec([s.python, "-c", "b = bytearray(400 * 1024 * 1024); print(len(b))"],
                     timeout=120)  # fmt: skip
        assert hog.oom, (hog.returncode, hog.stderr)
        assert not hog.ok
        slow = s.exec(["sleep", "60"], timeout=3)
        assert slow.timed_out
        assert not slow.ok
        assert not container_exists(name)  # a timeout ends the session
        with pytest.raises(InfraError, match="gone"):
            s.exec(["true"], timeout=10)


def tiny_recipe(tree: Path, name: str, base_image: str, script_tail: str = "") -> None:
    """A recipe that exports an already-built image: a real build, in seconds."""
    recipe = tree / name
    recipe.mkdir()
    (recipe / "recipe.toml").write_text(
        'description = "integration test recipe"\nplatform = "linux/amd64"\n'
        'python = "3.13"\ninterpreter = "python3"\nuser = "harness"\n'
    )
    (recipe / "build.sh").write_text(
        "set -euo pipefail\n"
        f"# {uuid.uuid4().hex}: a fresh hash, so this is a cold build\n"
        f"cid=$(docker create {base_image})\n"
        'docker export "$cid" > "$1/rootfs.tar"\n'
        'docker rm "$cid" >/dev/null\n'
        'echo "rootfs exported"\n' + script_tail
    )


def harness_proc(
    args: list[str], tree: Path, matrices: Path, **kwargs: object
) -> subprocess.Popen[str]:
    env = dict(os.environ, HARNESS_CONTAINERS_DIR=str(tree), HARNESS_MATRICES_DIR=str(matrices))
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "harness", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def recipe_tree(tmp_path: Path, env: str, recipe: str) -> tuple[Path, Path]:
    """A copy of containers/ and a matrix dir with one env ``env`` of recipe ``recipe``."""
    import shutil

    tree = tmp_path / "containers"
    shutil.copytree(REPO / "containers", tree)
    matrices = tmp_path / "matrices"
    matrices.mkdir()
    (matrices / "t.toml").write_text(
        f'[env.{env}]\nkind = "docker-recipe"\nrecipe = "{recipe}"\npython = "3.13"\n'
    )
    return tree, matrices


def test_concurrent_builds_interrupt_and_prune(trixie: Environment, tmp_path: Path) -> None:
    import shutil

    tree, matrices = recipe_tree(tmp_path, "zz", "zz-itest")
    tiny_recipe(tree, "zz-itest", str(trixie.image))
    recipe = images.load_recipe("zz-itest", base=tree)

    # Two builds of one recipe at once: one builds, the other waits and finds the image.
    procs = [harness_proc(["envs", "build", "--matrix", "t"], tree, matrices) for _ in range(2)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum(f"built {recipe.tag}" in out for out in outputs) == 1, outputs
    assert image_inspect(recipe.tag) is not None

    # An interrupted build leaves nothing under the final tag, nor temporary images.
    shutil.rmtree(tree / "zz-itest")
    tiny_recipe(tree, "zz-itest", str(trixie.image), 'echo "sleeping"\nsleep 120\n')
    slow = images.load_recipe("zz-itest", base=tree)
    log = cache_dir() / "logs" / f"zz-itest-{slow.digest[:12]}.log"
    log.unlink(missing_ok=True)
    p = harness_proc(
        ["envs", "build", "zz"], tree, matrices, start_new_session=True, preexec_fn=default_sigint
    )
    deadline = time.monotonic() + 300
    while "sleeping" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the slow recipe never started"
        assert p.poll() is None, p.communicate()[0]
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out = p.communicate(timeout=120)[0]
    assert p.returncode == 130, out
    assert "interrupted" in out
    assert image_inspect(slow.tag) is None
    leftovers = docker(["image", "ls", "-q", "wheel-harness-tmp/zz-itest"], timeout=60)
    assert leftovers.stdout.strip() == ""

    # Prune: the first zz image's recipe version is no longer in the tree; then no recipe.
    # Made seconds ago, it is kept by default (another checkout sharing the daemon may use
    # it: the images of every other test session and branch, which a copy of this tree
    # does not have); --older-than 0 takes it. Only zz-itest's images are pruned here: the
    # other images of this daemon belong to other runs.
    shutil.rmtree(tree / "zz-itest")
    p = harness_proc(["envs", "prune", "zz-itest", "--dry-run"], tree, matrices)
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 0, out
    assert recipe.tag not in out
    p = harness_proc(["envs", "prune", "--dry-run", "--older-than", "0"], tree, matrices)
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 0, out
    assert f"would remove {recipe.tag}" in out
    assert str(trixie.image) not in out  # a current recipe's image never goes
    assert image_inspect(recipe.tag) is not None
    p = harness_proc(["envs", "prune", "zz-itest", "--older-than", "0"], tree, matrices)
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 0, out
    assert image_inspect(recipe.tag) is None
    assert image_inspect(str(trixie.image)) is not None


def _processes_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def test_sigterm_to_a_build_stops_its_script(trixie: Environment, tmp_path: Path) -> None:
    """SIGTERM to the harness process alone (a cancelled CI job, `timeout`): the recipe's
    script, which runs in a process group of its own, is killed too, not orphaned; exit 143,
    and nothing under the final tag."""
    tree, matrices = recipe_tree(tmp_path, "zt", "zt-itest")
    marker = f"{uuid.uuid4().int % 100000 + 1000}.5"  # a sleep no other process runs
    tiny_recipe(tree, "zt-itest", str(trixie.image), f'echo "sleeping"\nsleep {marker}\n')
    recipe = images.load_recipe("zt-itest", base=tree)
    log = cache_dir() / "logs" / f"zt-itest-{recipe.digest[:12]}.log"
    log.unlink(missing_ok=True)
    p = harness_proc(["envs", "build", "zt"], tree, matrices, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while "sleeping" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the slow recipe never started"
            assert p.poll() is None, p.communicate()[0]
            time.sleep(0.5)
        while not _processes_with(marker):  # "sleeping" is logged just before
            assert time.monotonic() < deadline, "the recipe's sleep never ran"
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=120)[0]
    finally:  # a failed assertion above leaves no harness (nor its script) behind
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
        for pid in _processes_with(marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    assert p.returncode == 143, out
    assert "terminated" in out
    assert image_inspect(recipe.tag) is None
    for _ in range(50):
        left = _processes_with(marker)
        if not left:
            break
        time.sleep(0.2)
    assert not left, "the recipe's script outlived the harness"


def test_registry_pull_failure_is_exit_3(
    docker_daemon: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "reg.toml"
    # A registry on loopback port 1: refused at once, no traffic leaves the machine.
    path.write_text('[env.reg]\nkind = "docker-image"\nimage = "127.0.0.1:1/nope/none:1"\n')
    code, _, err = run_cli(["envs", "build", "--matrix", str(path)], capsys)
    assert code == 3
    lines = err.strip().splitlines()
    assert "cannot pull 127.0.0.1:1/nope/none:1" in lines[-1]
    assert "Traceback" not in err


def test_registry_env_uses_a_local_image_without_pulling(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """A docker-image env (registry.toml's kind) whose image is already here: no pull (the
    name points at a registry that refuses), probed as uid 1000, and verify runs in it."""
    from harness import config
    from harness.verify import verify

    source = docker_envs["bookworm" if "bookworm" in docker_envs else "trixie"]
    py = source.probe().python_short
    local = f"127.0.0.1:1/python:{py}-slim-{uuid.uuid4().hex[:8]}"
    docker(["tag", source.image, local])
    try:
        path = tmp_path / "registry.toml"
        path.write_text(
            f'[env.slim]\nkind = "docker-image"\nimage = "{local}"\npython = "{py}"\n'
            'platform = "linux/amd64"\n'
        )
        spec = matrix.load(str(path)).get("slim")
        cp = "cp" + py.replace(".", "")
        wheels = sorted(REPO.glob(f"tests/data/real/yappi-1.7.6-{cp}-{cp}-manylinux*x86_64*.whl"))
        outcome = verify(wheels, [spec], config.Config(jobs=1), tmp_path / "r", matrix_name="reg")
        runs = [r for r in outcome.report.runs if r.env == "slim"]
        assert [r.status for r in runs] == ["passed"], [r.reason for r in runs]
        assert outcome.report.verdict_line == "PASS (1 of 1 wheels ran)"
    finally:
        docker(["rmi", local], check=False)
