"""`harness verify` in real containers (the `linux` matrix images, built offline here).

The proof a static check cannot give: an extension that needs GLIBC_2.34 but is tagged
manylinux_2_17 installs in Debian bullseye (glibc 2.31) and fails at import there, while
the same code passes in trixie (glibc 2.41). And real yappi wheels pass every Linux env
with the import and profiler suites.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness import config, matrix
from harness.envs import Environment
from harness.verify import verify

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
DEFECTS = DATA / "defects"


def specs(envs: dict[str, Environment], *names: str) -> list[matrix.EnvSpec]:
    missing = [n for n in names if n not in envs]
    assert not missing, f"test matrix lacks {missing}"
    return [envs[n].spec for n in names]


def test_glibc234_extension_fails_in_bullseye_passes_in_trixie(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for case in (
        "manylinux-symbol-too-new-glibc234-cp39",
        "manylinux-symbol-too-new-glibc234-cp313",
    ):
        for whl in (DEFECTS / case).glob("*.whl"):
            shutil.copy(whl, dist / whl.name)
    outcome = verify(
        sorted(dist.glob("*.whl")),
        specs(docker_envs, "bullseye", "trixie"),
        config.Config(jobs=2),
        tmp_path / "reports",
        matrix_name="linux",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    runs = {r["env"]: r for r in doc["runs"]}
    assert runs["bullseye"]["wheel"]["filename"].endswith("cp39-cp39-manylinux_2_17_x86_64.whl")
    assert runs["bullseye"]["status"] == "failed"
    assert "GLIBC_2.34" in runs["bullseye"]["reason"]
    install = next(s for s in runs["bullseye"]["steps"] if s["name"] == "install")
    assert install["status"] == "passed"  # pip believed the tag; only the import tells
    assert runs["trixie"]["wheel"]["filename"].endswith("cp313-cp313-manylinux_2_17_x86_64.whl")
    assert runs["trixie"]["status"] == "passed", runs["trixie"]["reason"]
    # the static check saw it too, so the verdict fails twice over
    codes = {f["code"] for w in doc["inspect"]["wheels"] for f in w["findings"]}
    assert "manylinux.symbol-too-new" in codes
    assert outcome.report.verdict == "fail"


# env -> the yappi 1.7.6 wheel only that env can install (each one's _yappi C extension is
# imported and profiled there): one env per CPython x libc x arch of the nightly matrix
ONLY_HERE = {
    "bullseye": "cp39-cp39-manylinux2014_x86_64",
    "arm64-bullseye": "cp39-cp39-manylinux2014_aarch64",
    "bookworm": "cp311-cp311-manylinux2014_x86_64",
    "arm64": "cp311-cp311-manylinux2014_aarch64",
    "trixie": "cp313-cp313-manylinux2014_x86_64",
    "musl": "cp313-cp313-musllinux_1_2_x86_64",
    "arm64-trixie": "cp313-cp313-manylinux2014_aarch64",
    "musl-arm64-cp313": "cp313-cp313-musllinux_1_2_aarch64",
    "musl-cp39": "cp39-cp39-musllinux_1_2_x86_64",
    "musl-cp311": "cp311-cp311-musllinux_1_2_x86_64",
    "musl-arm64-cp39": "cp39-cp39-musllinux_1_2_aarch64",
    "musl-arm64-cp311": "cp311-cp311-musllinux_1_2_aarch64",
    "sid": "cp314-cp314-manylinux2014_x86_64",
    "arm64-sid": "cp314-cp314-manylinux2014_aarch64",
}


def test_yappi_passes_every_linux_env(docker_envs: dict[str, Environment], tmp_path: Path) -> None:
    wheels = sorted((DATA / "real").glob("yappi-1.7.6-*.whl"))
    names = list(docker_envs)
    outcome = verify(
        wheels,
        specs(docker_envs, *names),
        config.Config(jobs=2),
        tmp_path / "reports",
        matrix_name="test",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    ran = {r["env"]: r for r in doc["runs"] if r["status"] != "skipped"}
    picks = {e["name"]: e["picked"] for e in doc["envs"]}
    for env in names:
        if picks[env] is None:
            assert env not in ran  # a gap (e.g. yappi ships no i686 wheel) is not a run
            continue
        run = ran[env]
        assert run["status"] == "passed", (env, run["reason"])
        steps = {s["name"]: s for s in run["steps"]}
        assert steps["pick"]["detail"]["picked"] == picks[env]
        assert all(c["ok"] for c in steps["smoke:profiler"]["detail"]["checks"])
    if picks.get("musl"):
        assert "musllinux_1_2_x86_64" in picks["musl"]
    # every env of the matrix with a wheel of its own ran that wheel, and no other env did
    rows = {w["filename"]: w for w in doc["coverage"]["wheels"]}
    for env, tag in ONLY_HERE.items():
        if env not in docker_envs:
            continue
        assert picks[env] is not None, env
        assert picks[env].startswith(f"yappi-1.7.6-{tag}"), (env, picks[env])
        # (a CPU-model env of the same image, e.g. baseline-x86-64 for bookworm, runs it too)
        models = {e for e, environment in docker_envs.items() if environment.spec.cpu}
        assert set(rows[picks[env]]["ran_in"]) - models == {env}
        steps = {s["name"]: s for s in ran[env]["steps"]}
        assert steps["smoke:import"]["status"] == "passed"
    if "trixie-ft" in docker_envs:
        assert picks["trixie-ft"] is None  # yappi ships no cp313t wheel: a GIL one is no fit
    ran_count = sum(1 for w in rows.values() if w["ran_in"])
    assert doc["coverage"]["ran"] == ran_count
    assert f"PASS ({ran_count} of {len(wheels)} wheels ran)" == outcome.report.verdict_line
    assert outcome.report.verdict == "pass"


# matrices/arches.toml (in nightly, not in ci: README "Performance"): env -> the greenlet
# 3.5.6 wheel only that env installs. _greenlet's stack switching is per-arch assembly
# (and s390x is big-endian): the test command switches into a greenlet and back there.
GREENLET_HERE = {
    "ppc64le-sid": ("ppc64le", "greenlet-3.5.6-cp314-cp314-manylinux_2_24_ppc64le."),
    "s390x-sid": ("s390x", "greenlet-3.5.6-cp314-cp314-manylinux_2_24_s390x."),
    "riscv64-sid": ("riscv64", "greenlet-3.5.6-cp314-cp314-manylinux_2_39_riscv64."),
}
GREENLET_SWITCH = (
    'python -c "import sys, greenlet; '
    "g = greenlet.greenlet(lambda x: greenlet.getcurrent().parent.switch(x * 2) + 1); "
    "assert g.switch(21) == 42; assert g.switch(1) == 2 and g.dead; "
    "print('greenlet-switch', sys.byteorder)\""
)


def test_greenlet_runs_in_the_ppc64le_s390x_riscv64_envs_only(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """greenlet 3.5.6's cp313 and cp314 ppc64le/s390x wheels and its cp314 riscv64 one, over
    every docker env of the test matrix: each arches env (CPython 3.14 under qemu) installs
    its own cp314 wheel, imports _greenlet, profiles (cProfile) and switches greenlets there;
    no x86_64/aarch64 env installs any, and each wheel no env ran is untested with its
    arch in the reason. Under HARNESS_TEST_MATRIX=ci (no arches env) only the second half
    can be checked: the matrix choice, not a skip."""
    wheels = sorted((DATA / "real").glob("greenlet-3.5.6-*.whl"))
    assert len(wheels) == 5, [w.name for w in wheels]
    names = list(docker_envs)
    outcome = verify(
        wheels,
        specs(docker_envs, *names),
        config.Config(
            jobs=2,
            suites=("import", "profiler", "test-command"),
            profiler_adapter="cprofile",
            test_command=GREENLET_SWITCH,
        ),
        tmp_path / "reports",
        matrix_name="test",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    runs = {r["env"]: r for r in doc["runs"] if r["status"] != "skipped"}
    picks = {e["name"]: e["picked"] for e in doc["envs"]}
    rows = {w["filename"]: w for w in doc["coverage"]["wheels"]}
    ran_here = [env for env in GREENLET_HERE if env in docker_envs]
    for env, (arch, prefix) in GREENLET_HERE.items():
        (wheel,) = [w.name for w in wheels if w.name.startswith(prefix)]
        if env not in docker_envs:
            assert rows[wheel]["ran_in"] == [], env
            assert arch in rows[wheel]["reason"], rows[wheel]
            continue
        probe = docker_envs[env].probe()
        assert (probe.machine, probe.libc, probe.python_short) == (arch, "glibc", "3.14")
        assert picks[env] == wheel, (env, picks[env])
        run = runs[env]
        assert run["status"] == "passed", (env, run["reason"])
        steps = {s["name"]: s for s in run["steps"]}
        for step in ("install", "smoke:import", "smoke:profiler", "smoke:test-command"):
            assert steps[step]["status"] == "passed", (env, step)
        assert "greenlet._greenlet" in json.dumps(steps["smoke:import"]["detail"]["checks"])
        byteorder = "big" if arch == "s390x" else "little"
        assert f"greenlet-switch {byteorder}" in steps["smoke:test-command"]["output_tail"]
        assert rows[wheel]["ran_in"] == [env]
    for env in names:
        if env not in GREENLET_HERE:
            assert picks[env] is None, (env, picks[env])  # x86_64/aarch64: no greenlet wheel
            assert env not in runs
    has_cp313 = any(
        t.startswith("cp313-cp313-") for e in docker_envs.values() for t in e.probe().tags
    )
    cp313 = {
        w.name.rsplit("_", 1)[-1][: -len(".whl")]: w.name for w in wheels if "-cp313-" in w.name
    }
    assert sorted(cp313) == ["ppc64le", "s390x"]
    for env, (arch, _) in GREENLET_HERE.items():
        if arch not in cp313:
            continue
        name = cp313[arch]
        assert rows[name]["ran_in"] == []  # no CPython 3.13 on these arches
        reason = rows[name]["reason"]
        if not has_cp313:
            assert reason.startswith("no interpreter here for CPython 3.13 (cp313)"), reason
        elif env in docker_envs:  # the arch is here: CPython 3.13 on it is what is missing
            assert f"CPython 3.13 (cp313) on manylinux {arch}" in reason, reason
        else:
            assert reason.startswith(f"no env of matrix test is manylinux {arch}"), reason
    assert outcome.report.verdict_line == f"PASS ({len(ran_here)} of 5 wheels ran)"
    assert outcome.report.verdict == "pass"


def test_free_threaded_env_runs_only_the_cp313t_wheel(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """trixie-ft (CPython 3.13 --disable-gil): pip's tags are cp313t, there is no abi3, and
    markupsafe's cp313t wheel (a C extension) is the one installed and imported there."""
    if "trixie-ft" not in docker_envs:
        pytest.skip("the test matrix has no free-threaded env (HARNESS_TEST_MATRIX=nightly has)")
    tags = docker_envs["trixie-ft"].probe().tags
    assert tags[0].startswith("cp313-cp313t-")
    assert not [t for t in tags if "-abi3-" in t or "-cp313-" in t]
    wheels = sorted((DATA / "real").glob("markupsafe-3.0.3-cp313-*.whl"))
    outcome = verify(
        wheels,
        specs(docker_envs, "trixie", "trixie-ft"),
        config.Config(jobs=2, import_modules=("markupsafe._speedups",)),
        tmp_path / "reports",
        matrix_name="test",
    )
    doc = json.loads((tmp_path / "reports" / "report.json").read_text())
    runs = {r["env"]: r for r in doc["runs"]}
    assert "-cp313t-" in runs["trixie-ft"]["wheel"]["filename"]
    assert "-cp313t-" not in runs["trixie"]["wheel"]["filename"]
    for env in ("trixie", "trixie-ft"):
        assert runs[env]["status"] == "passed", runs[env]["reason"]
    assert outcome.report.verdict_line == "PASS (2 of 2 wheels ran)"


@pytest.mark.parametrize(
    ("signame", "code", "said"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")]
)
def test_ctrl_c_removes_containers_and_writes_no_report(
    docker_envs: dict[str, Environment], tmp_path: Path, signame: str, code: int, said: str
) -> None:
    """Ctrl-C, or SIGTERM to the harness process alone (a cancelled CI job, `timeout`):
    the live containers go at once and no report is written."""
    import signal
    import subprocess
    import sys
    import time

    dist = tmp_path / "dist"
    dist.mkdir()
    for whl in (DATA / "real").glob("yappi-1.7.6-cp3*-manylinux2014_x86_64*.whl"):
        shutil.copy(whl, dist / whl.name)
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "verify",
            str(dist),
            "--matrix",
            "linux",
            "--env",
            "bullseye",
            "--env",
            "trixie",
            "--report-dir",
            str(reports),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    assert proc.stdout is not None
    # wait (bounded) until the cells are running, then interrupt
    for line in proc.stdout:
        if line.startswith("running "):
            break
    # this run's containers (other harness processes may share the daemon)
    mine = ["--filter", f"label=org.wheel-harness.pid={proc.pid}", "--format", "{{.Names}}"]
    for _ in range(100):
        names = subprocess.run(
            ["docker", "ps", *mine], capture_output=True, text=True, check=True
        ).stdout.split()
        if names:
            break
        time.sleep(0.1)
    assert names, "no session container ever started"
    proc.send_signal(getattr(signal, signame))
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, rest
    assert said in rest
    # `docker rm -f` of a --rm container may still be finishing: allow it a few seconds
    for _ in range(50):
        left = subprocess.run(
            ["docker", "ps", "-a", *mine], capture_output=True, text=True, check=True
        ).stdout.split()
        if not left:
            break
        time.sleep(0.2)
    assert not left  # those seen running, and any the run started after
    assert not (reports / "report.json").exists()


def test_container_cell_sees_only_its_wheelhouse(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """An image that sets PIP_FIND_LINKS and a global pip.conf at a decoy of the same name
    and version: the cell still installs the wheelhouse's file (pip --isolated, and
    PIP_CONFIG_FILE=/dev/null)."""
    import subprocess
    import zipfile

    from harness.envs.base import EnvKind, EnvSpec

    base = docker_envs["trixie"]
    wheel = next((DATA / "real").glob("yappi-1.7.6-cp313-cp313-manylinux*x86_64*.whl"))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(ctx / wheel.name, "w") as zout:
        for item in zin.infolist():  # same name, same version, broken on import
            data = b"raise ImportError('DECOY taken')\n" if item.filename == "yappi.py" else None
            zout.writestr(item, data if data is not None else zin.read(item))
    (ctx / "pip.conf").write_text("[global]\nfind-links = /decoys\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {base.image}\n"
        "USER root\n"
        f"COPY {wheel.name} /decoys/{wheel.name}\n"
        "COPY pip.conf /etc/pip.conf\n"
        "ENV PIP_FIND_LINKS=/decoys PIP_PREFER_BINARY=1\n"
    )
    tag = "wheel-harness-test/decoy-trixie:latest"
    built = subprocess.run(
        ["docker", "build", "--quiet", "--tag", tag, str(ctx)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        check=False,
    )
    assert built.returncode == 0, built.stderr
    try:
        spec = EnvSpec(name="decoy", kind=EnvKind.DOCKER_IMAGE, image=tag, interpreter="python3")
        dist = tmp_path / "dist"
        dist.mkdir()
        shutil.copy(wheel, dist / wheel.name)
        verify(
            [dist / wheel.name],
            [spec],
            config.Config(jobs=1),
            tmp_path / "reports",
            matrix_name="decoy",
        )
        doc = json.loads((tmp_path / "reports" / "report.json").read_text())
        (run,) = doc["runs"]
        assert run["status"] == "passed", run["reason"]
        steps = {s["name"]: s for s in run["steps"]}
        assert "/decoys" not in steps["install"]["output_tail"]
        assert steps["pick"]["detail"]["path"] == f"/wheelhouse/{wheel.name}"
    finally:
        subprocess.run(["docker", "rmi", "--force", tag], capture_output=True, check=False)


def _wheel_with_requires(dest: Path, name: str, requires: list[str], code: str) -> Path:
    """A pure-Python wheel whose METADATA has ``requires`` and whose package runs ``code``
    at import."""
    import base64
    import hashlib
    import zipfile

    dist_info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": code.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = (
        "".join(
            f"{path},sha256="
            f"{base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
            f"{len(data)}\n"
            for path, data in files.items()
        )
        + f"{dist_info}/RECORD,,\n"
    )
    out = dest / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return out


def test_runtime_dependencies_are_resolved_by_each_envs_own_pip(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """A wheel that needs `six`, and `tomli` only below Python 3.11: each env's own pip
    resolves them (with network, before the sealed install), so bullseye (3.9) gets tomli
    and trixie (3.13) does not. Resolved on the host (3.11) the marker would drop tomli and
    the bullseye cell would fail at import. A dependency no index has is an error cell
    that names it, not a harness crash."""
    dist = tmp_path / "dist"
    dist.mkdir()
    _wheel_with_requires(
        dist,
        "harness_deps_probe",
        ["six>=1.16", 'tomli>=2; python_version < "3.11"', 'pytest; extra == "test"'],
        "import sys, six\nif sys.version_info < (3, 11):\n    import tomli\n",
    )
    outcome = verify(
        sorted(dist.glob("*.whl")),
        specs(docker_envs, "bullseye", "trixie"),
        config.Config(jobs=2, suites=("import",)),
        tmp_path / "reports",
        matrix_name="linux",
    )
    runs = {r.env: r for r in outcome.report.runs}
    assert {e: r.status for e, r in runs.items()} == {"bullseye": "passed", "trixie": "passed"}, {
        e: r.reason for e, r in runs.items()
    }
    installed = {
        e: next(s for s in r.steps if s.name == "install").output_tail for e, r in runs.items()
    }
    assert "tomli" in installed["bullseye"]
    assert "six" in installed["bullseye"]
    assert "tomli" not in installed["trixie"]
    assert "six" in installed["trixie"]
    assert "pytest" not in installed["bullseye"]  # an extra nobody asked for

    missing = tmp_path / "missing"
    missing.mkdir()
    _wheel_with_requires(
        missing, "harness_deps_broken", ["harness-no-such-dependency-7f3a>=1"], "pass\n"
    )
    broken = verify(
        sorted(missing.glob("*.whl")),
        specs(docker_envs, "trixie"),
        config.Config(jobs=1, suites=("import",)),
        tmp_path / "reports2",
        matrix_name="linux",
    )
    (run,) = broken.report.runs
    assert run.status == "error"
    assert "harness-no-such-dependency-7f3a" in run.reason
    assert run.reason.startswith("resolving its dependencies in the env failed")


def _musl_x86_64(envs: dict[str, Environment]) -> dict[str, Environment]:
    found = {
        n: e for n, e in envs.items() if e.probe().libc == "musl" and e.probe().machine == "x86_64"
    }
    assert found, "the test matrix has no musl x86_64 env"
    return found


def _has_dt_relr(data: bytes) -> bool:
    import io

    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            return any(t.entry.d_tag in ("DT_RELR", 36) for t in section.iter_tags())
    return False


def test_musllinux_wheel_with_dt_relr_libs_imports_in_the_musl_envs(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """bcrypt 5.0.0's musllinux_1_2 x86_64 wheel (abi3) vendors a libgcc_s with DT_RELR
    relocations, which musl loads only from 1.2.4 on: with bookworm's musl 1.2.3 the
    import crashed (exit 139) where Alpine imports it. The musl envs run musl 1.2.5 (built
    from trixie's source): its extension is imported and used there."""
    import zipfile

    wheel = DATA / "real" / "bcrypt-5.0.0-cp39-abi3-musllinux_1_2_x86_64.whl"
    with zipfile.ZipFile(wheel) as zf:
        (libgcc,) = [n for n in zf.namelist() if "/libgcc_s-" in n]
        assert _has_dt_relr(zf.read(libgcc)), "the test wheel no longer has DT_RELR"
    musl = _musl_x86_64(docker_envs)
    for name, env in musl.items():
        assert env.probe().libc_version == "1.2.5", name
    outcome = verify(
        [wheel],
        [e.spec for e in musl.values()],
        config.Config(jobs=2, import_modules=("bcrypt._bcrypt",)),
        tmp_path / "reports",
        matrix_name="test",
    )
    runs = {r.env: r for r in outcome.report.runs}
    assert set(runs) == set(musl)
    for name, run in runs.items():
        assert run.status == "passed", (name, run.reason)
        steps = {s.name: s for s in run.steps}
        assert steps["smoke:import"].status == "passed", name
    assert outcome.report.verdict == "pass"


def test_musl_envs_fetch_dependencies_over_tls_and_have_sqlite(
    docker_envs: dict[str, Environment], tmp_path: Path
) -> None:
    """The deps step is the env's own pip talking to the index over TLS, and coverage
    imports sqlite3: both need stdlib modules (_ssl, _sqlite3) that the musl CPython
    builds once left out. Each musl x86_64 env resolves six, coverage and (3.9 only)
    tomli by itself, and the wheel's import of coverage's SQLite data layer passes."""
    musl = _musl_x86_64(docker_envs)
    dist = tmp_path / "dist"
    dist.mkdir()
    _wheel_with_requires(
        dist,
        "harness_musl_deps_probe",
        ["six>=1.16", "coverage", 'tomli>=2; python_version < "3.11"'],
        "import sqlite3, ssl, sys, six, coverage.sqldata\n"
        "sqlite3.connect(':memory:').execute('select 1')\n"
        "if sys.version_info < (3, 11):\n    import tomli\n",
    )
    outcome = verify(
        sorted(dist.glob("*.whl")),
        [e.spec for e in musl.values()],
        config.Config(jobs=2, suites=("import",)),
        tmp_path / "reports",
        matrix_name="test",
    )
    runs = {r.env: r for r in outcome.report.runs}
    assert {e: r.status for e, r in runs.items()} == dict.fromkeys(musl, "passed"), {
        e: r.reason for e, r in runs.items()
    }
    for name, run in runs.items():
        installed = next(s for s in run.steps if s.name == "install").output_tail
        assert "six" in installed, name
        assert "coverage" in installed, name
        assert ("tomli" in installed) == (musl[name].probe().python_short == "3.9"), name
