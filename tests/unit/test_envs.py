"""Environment layer without a daemon: recipes, hashes, probe labels, the no-daemon error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.__main__ import main
from harness.envs import environment, images
from harness.envs.base import EnvKind, EnvSpec, Probe
from harness.errors import ExitCode, InputError

REPO = Path(__file__).resolve().parents[2]
CONTAINERS = REPO / "containers"

PROBE = Probe(
    python_version="3.11.2",
    implementation="cpython",
    executable="/usr/bin/python3",
    libc="glibc",
    libc_version="2.36",
    machine="i686",
    pip_version="23.0.1",
    tags=("cp311-cp311-manylinux_2_36_i686", "py3-none-any"),
)


def test_shipped_recipes_are_valid() -> None:
    recipes = {r.name: r for r in images.all_recipes(CONTAINERS)}
    assert {
        "debian-bullseye-amd64",
        "debian-bookworm-amd64",
        "debian-trixie-amd64",
        "debian-bookworm-i386",
        "debian-bookworm-arm64",
        "musl-cpython3.13-amd64",
    } <= set(recipes)
    assert recipes["debian-bookworm-arm64"].platform == "linux/arm64"
    assert recipes["debian-bookworm-i386"].platform == "linux/386"
    for recipe in recipes.values():
        assert recipe.user != "root"
        assert recipe.tag == f"wheel-harness/{recipe.name}:{recipe.digest[:16]}"


def test_recipe_hash_changes_with_recipe_and_lib(tmp_path: Path) -> None:
    tree = tmp_path / "containers"
    shutil.copytree(CONTAINERS, tree)
    before = {r.name: r.digest for r in images.all_recipes(tree)}
    assert before == {r.name: r.digest for r in images.all_recipes(CONTAINERS)}
    (tree / "debian-bookworm-amd64" / "build.sh").write_text("#!/bin/sh\n# changed\n")
    after = {r.name: r.digest for r in images.all_recipes(tree)}
    assert after["debian-bookworm-amd64"] != before["debian-bookworm-amd64"]
    assert after["debian-trixie-amd64"] == before["debian-trixie-amd64"]
    with (tree / "_lib" / "debian.sh").open("a") as handle:
        handle.write("# shared change\n")
    changed = {r.name: r.digest for r in images.all_recipes(tree)}
    uses = {r.name: r.uses for r in images.all_recipes(tree)}
    assert {n for n, u in uses.items() if "cpython.sh" in u} >= {"musl-cpython3.13-amd64"}
    for name, digest in changed.items():
        uses_debian = "debian.sh" in uses[name]
        assert (digest != after[name]) is uses_debian, name


def test_bad_recipe_toml(tmp_path: Path) -> None:
    recipe = tmp_path / "x"
    recipe.mkdir()
    (recipe / "build.sh").write_text("true\n")
    (recipe / "recipe.toml").write_text(
        'description = "d"\nplatform = "linux/amd64"\npython = "3.11"\n'
        'interpreter = "python3"\nuser = "root"\n'
    )
    with pytest.raises(InputError, match=r"recipe.toml: user: must be a non-root"):
        images.load_recipe("x", base=tmp_path)
    (recipe / "recipe.toml").write_text('colour = "red"\n')
    with pytest.raises(InputError, match=r"recipe.toml: colour: unknown key"):
        images.load_recipe("x", base=tmp_path)
    with pytest.raises(InputError, match=r"no recipe 'nope'.*known: x"):
        images.load_recipe("nope", base=tmp_path)


def test_probe_label_round_trip() -> None:
    text = images.encode_probe(PROBE)
    assert text.startswith("zb64:")
    assert "\n" not in text
    assert " " not in text
    assert images.decode_probe(text) == PROBE
    assert PROBE.platform == "linux-i686-glibc2.36"
    assert PROBE.python_short == "3.11"


def test_no_daemon_is_one_line_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/wheel-harness-test.sock")
    code = main(["envs", "list", "--matrix", str(REPO / "matrices" / "linux.toml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.INFRA
    assert len(err) == 1
    assert "DOCKER_HOST" in err[0] or "docker" in err[0]
    assert "Traceback" not in err[0]


def test_host_env_is_the_running_interpreter() -> None:
    env = environment(EnvSpec(name="host", kind=EnvKind.HOST))
    assert env.is_ready()
    assert env.image is None
    missing = environment(EnvSpec(name="h", kind=EnvKind.HOST, interpreter="/nonexistent/python9"))
    assert not missing.is_ready()


def test_preflight_names_every_missing_tool_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipes = [
        images.load_recipe(n, base=CONTAINERS)
        for n in (
            "debian-sid-ppc64el",
            "debian-sid-s390x",
            "debian-sid-riscv64",
            "musl-cpython3.13-arm64",
        )
    ]
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no host tool at all
    monkeypatch.setattr(images, "BINFMT_DIR", tmp_path / "no-binfmt")
    with pytest.raises(images.InfraError) as info:
        images.preflight(recipes)
    text = str(info.value)
    assert "\n" not in text
    for tool in ("mmdebstrap", "tclsh", "aarch64-linux-gnu-gcc", "qemu-ppc64le-static"):
        assert tool in text
    assert (
        "apt-get install -y --no-install-recommends binfmt-support bzip2 dpkg gcc "
        "gcc-aarch64-linux-gnu gzip make mmdebstrap perl qemu-user-static tcl xz-utils" in text
    )
    assert "update-binfmts --enable qemu-aarch64 qemu-ppc64le qemu-riscv64 qemu-s390x" in text
    assert images.InfraError.exit_code == ExitCode.INFRA


def _binfmt_entry(directory: Path, arch: str, flags: str, state: str = "enabled") -> None:
    (directory / f"qemu-{arch}").write_text(
        f"{state}\ninterpreter /usr/bin/qemu-{arch}-static\nflags: {flags}\noffset 0\n"
    )


def test_preflight_wants_each_foreign_arch_registered_with_flag_f(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every tool present, binfmt entries as a host may have them: only the arches whose
    entry is missing, disabled or lacks F (it would not run inside a container) are named."""
    recipes = [
        images.load_recipe(f"debian-sid-{a}", base=CONTAINERS)
        for a in ("arm64", "ppc64el", "s390x", "riscv64")
    ]
    assert {images.host_needs(r)[1].pop() for r in recipes} == {
        "aarch64", "ppc64le", "s390x", "riscv64"
    }  # fmt: skip
    tools = tmp_path / "bin"
    tools.mkdir()
    qemus = [f"qemu-{a}-static" for a in ("aarch64", "ppc64le", "s390x", "riscv64")]
    for name in ("mmdebstrap", "update-binfmts", *qemus):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tools))
    binfmt = tmp_path / "binfmt_misc"
    binfmt.mkdir()
    monkeypatch.setattr(images, "BINFMT_DIR", binfmt)
    _binfmt_entry(binfmt, "aarch64", "OCF")
    _binfmt_entry(binfmt, "s390x", "OCF")
    _binfmt_entry(binfmt, "ppc64le", "OC")  # registered without F (binfmt-support's old way)
    _binfmt_entry(binfmt, "riscv64", "OCF", state="disabled")
    with pytest.raises(images.InfraError) as info:
        images.preflight(recipes)
    text = str(info.value)
    assert text.startswith("cannot build debian-sid-ppc64el, debian-sid-riscv64: ")
    assert "binfmt_misc entry qemu-ppc64le with flag F" in text
    assert "binfmt_misc entry qemu-riscv64 with flag F" in text
    assert "aarch64" not in text
    assert "s390x" not in text
    # update-binfmts is there: only qemu-user-static to (re)install, then the registration
    assert text.endswith(
        "apt-get install -y --no-install-recommends qemu-user-static && "
        "update-binfmts --enable qemu-ppc64le qemu-riscv64"
    )
    _binfmt_entry(binfmt, "ppc64le", "OCF")
    _binfmt_entry(binfmt, "riscv64", "POCF")
    images.preflight(recipes)  # all registered: nothing to say


def test_host_cells_get_an_allow_listed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from harness.envs.host import sealed_environ

    for key, value in {
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_INDEX_URL": "https://user:pw@example.invalid/simple",
        "TWINE_PASSWORD": "pw",
        "AWS_SECRET_ACCESS_KEY": "k",
        "PYTHONPATH": "/x",
        "VIRTUAL_ENV": "/v",
        "LANG": "C.UTF-8",
    }.items():
        monkeypatch.setenv(key, value)
    env = sealed_environ(tmp_path / "home", {"PYTHONDONTWRITEBYTECODE": "1"})
    assert env["HOME"] == str(tmp_path / "home")
    assert env["TMPDIR"] == str(tmp_path / "home" / "tmp")
    assert (tmp_path / "home" / "tmp").is_dir()
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["PYTHONNOUSERSITE"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["LANG"] == "C.UTF-8"
    assert env["PATH"] == os.environ["PATH"]
    leaked = {k for k in env if k.startswith(("PIP_", "TWINE", "AWS", "VIRTUAL"))}
    assert leaked == {"PIP_CONFIG_FILE"}
    assert "PYTHONPATH" not in env


def test_docker_style_sizes() -> None:
    from harness.envs.host import _bytes

    assert _bytes("2g") == 2 << 30
    assert _bytes("512m") == 512 << 20
    assert _bytes("64K") == 64 << 10
    assert _bytes("1.5gb") == 3 << 29
    assert _bytes("4096") == 4096


def test_build_runs_a_snapshot_of_the_recipe(tmp_path: Path) -> None:
    recipe = images.load_recipe("musl-cpython3.13-arm64", base=CONTAINERS)
    snap = images._snapshot(recipe, tmp_path)
    assert (snap / "_lib" / "cpython.sh").read_bytes() == (
        CONTAINERS / "_lib" / "cpython.sh"
    ).read_bytes()
    assert images.recipe_digest(snap / recipe.name, recipe.uses) == recipe.digest
    assert not (snap / "_lib" / "debian.sh").exists()  # only what the recipe uses


def test_host_probe_cache_reports_the_callers_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe cache is shared by every path to one interpreter (venvs, symlinks): a hit
    must report the caller's executable, not the one of whoever probed first."""
    import sys

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    other = tmp_path / "elsewhere-python"
    other.symlink_to(Path(sys.executable).resolve())
    first = environment(EnvSpec(name="host", kind=EnvKind.HOST, interpreter=str(other)))
    assert first.probe().executable == str(other)
    second = environment(EnvSpec(name="host", kind=EnvKind.HOST))
    assert len(list((tmp_path / "cache" / "probes").glob("host-*.json"))) == 1  # one probe
    assert second.probe().executable == sys.executable


def test_image_age_from_dockers_created_field() -> None:
    """`envs prune --older-than` reads docker's RFC 3339 Created (nanoseconds, Z)."""
    from datetime import UTC, datetime, timedelta

    from harness.envs.images import _age

    two_days = datetime.now(UTC) - timedelta(days=2)
    text = two_days.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as docker
    assert 2 * 86400 - 60 < _age(text) < 2 * 86400 + 60
    assert _age(two_days.isoformat()) > 86400
    assert _age("not a date") == 0.0
    assert _age(None) == 0.0


def test_engines_binfmt_entries_match_their_arch_only() -> None:
    """tests/engines.d/10-docker.sh's magic/mask per qemu arch, applied as the kernel does
    (header & mask == magic) to the first bytes of real extension modules of each arch
    (tests/data/real): each entry takes its own arch's ELF files and no other's (x86_64
    included, which must keep running natively)."""
    import re
    import zipfile

    script = (REPO / "tests" / "engines.d" / "10-docker.sh").read_text()
    entries = {
        name: (bytes.fromhex(magic.replace("\\x", "").replace("ELF", "454c46")),
               bytes.fromhex(mask.replace("\\x", "")))
        for name, magic, mask in re.findall(
            r"register_qemu (\w+) \\\n\s+'([^']+)' \\\n\s+'([^']+)'", script
        )
    }  # fmt: skip
    assert set(entries) == {"aarch64", "ppc64le", "s390x", "riscv64"}
    real = REPO / "tests" / "data" / "real"
    wheels = {
        "aarch64": "yappi-1.7.6-cp314-cp314-manylinux2014_aarch64.*.whl",
        "ppc64le": "greenlet-3.5.6-cp314-cp314-*_ppc64le.whl",
        "s390x": "greenlet-3.5.6-cp314-cp314-*_s390x.whl",
        "riscv64": "greenlet-3.5.6-cp314-cp314-*_riscv64.whl",
        "x86_64": "yappi-1.7.6-cp314-cp314-manylinux2014_x86_64.*.whl",
    }
    for arch, pattern in wheels.items():
        (wheel,) = real.glob(pattern)
        with zipfile.ZipFile(wheel) as archive:
            so = next(n for n in archive.namelist() if n.endswith(".so"))
            header = archive.read(so)[:20]
        assert header[:4] == b"\x7fELF"
        taken = {
            name
            for name, (magic, mask) in entries.items()
            if len(magic) == len(mask) == 20
            and bytes(h & m for h, m in zip(header, mask, strict=True))
            == bytes(g & m for g, m in zip(magic, mask, strict=True))
        }
        assert taken == ({arch} if arch in entries else set()), (arch, taken)


def test_prune_build_cache_old_unlocked_entries_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`envs prune` also clears $HARNESS_BUILD_CACHE: entries older than --older-than whose
    lock no build holds (clibs.sh holds ENTRY.lock while it makes or reads one)."""
    import fcntl
    import os
    import time

    from harness.envs import images

    cache = tmp_path / "bcache"
    monkeypatch.setenv("HARNESS_BUILD_CACHE", str(cache))
    old = time.time() - 2 * 86400
    for name in ("cpython-3.9-aaaa-musl-x86_64", "clibs-musl-x86_64-bbbb", "clibs-busy", "new"):
        (cache / name / "lib").mkdir(parents=True)
        (cache / name / "lib" / "libx.a").write_bytes(b"x" * 1000)
        if name != "new":
            os.utime(cache / name, (old, old))
    for name in ("clibs-musl-x86_64-bbbb", "clibs-busy"):
        (cache / f"{name}.lock").touch()
    with open(cache / "clibs-busy.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a build is using it
        dry = images.prune_build_cache(dry_run=True, older_than_s=86400)
        assert sorted(p.name for p, _ in dry) == [
            "clibs-musl-x86_64-bbbb",
            "cpython-3.9-aaaa-musl-x86_64",
        ]
        assert all(size == 1000 for _, size in dry)
        assert (cache / "clibs-musl-x86_64-bbbb").is_dir()  # dry run: nothing goes
        done = images.prune_build_cache(older_than_s=86400)
    assert [p.name for p, _ in done] == [p.name for p, _ in dry]
    assert sorted(p.name for p in cache.iterdir()) == ["clibs-busy", "clibs-busy.lock", "new"]
