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
    tree = tmp_path / "containers"
    shutil.copytree(CONTAINERS, tree)
    ppc = tree / "debian-sid-ppc64le"
    ppc.mkdir()
    (ppc / "build.sh").write_text('exec bash "$HARNESS_LIB/debian.sh" sid ppc64el "$1"\n')
    (ppc / "recipe.toml").write_text(
        'description = "d"\nplatform = "linux/ppc64le"\npython = "3.14"\n'
        'interpreter = "python3"\nuser = "harness"\nuses = ["debian.sh"]\n'
    )
    recipes = [
        images.load_recipe(n, base=tree) for n in ("debian-sid-ppc64le", "musl-cpython3.13-arm64")
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
        "apt-get install -y --no-install-recommends bzip2 dpkg gcc gcc-aarch64-linux-gnu "
        "gzip make mmdebstrap perl qemu-user-static tcl xz-utils" in text
    )
    assert "update-binfmts --enable qemu-aarch64 qemu-ppc64le" in text
    assert images.InfraError.exit_code == ExitCode.INFRA


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
