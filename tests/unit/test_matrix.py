"""matrices/*.toml validation: every bad value is an InputError naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import matrix
from harness.__main__ import main
from harness.envs.base import EnvKind
from harness.errors import ExitCode, InputError, UsageError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_matrices_load() -> None:
    base = REPO / "matrices"
    names = {p.stem for p in base.glob("*.toml")}
    assert {"linux", "arm64", "host", "nightly"} <= names
    for name in names:
        m = matrix.load(name, base)
        assert m.envs, name
    linux = {e.name for e in matrix.load("linux", base).envs}
    assert {"bullseye", "trixie", "musl", "i686"} <= linux
    nightly = matrix.load("nightly", base)
    everything = {e.name for e in matrix.load_all(base).envs}
    # nightly: every env buildable here; registry images need a pull, py314-source a
    # mirror with python3.14's source (this project's answers 404 for it)
    elsewhere = {
        e.name for name in ("registry", "py314-source") for e in matrix.load(name, base).envs
    }
    assert {e.name for e in nightly.envs} == everything - elsewhere
    assert {"sid", "trixie-ft", "arm64-sid", "arm64-trixie"} <= {e.name for e in nightly.envs}
    registry = matrix.load("registry", base)
    assert {e.kind for e in registry.envs} == {EnvKind.DOCKER_IMAGE}
    assert {e.python for e in registry.envs} >= {"3.8", "3.10", "3.12"}


def test_recipes_of_shipped_matrices_exist() -> None:
    for env in matrix.load_all(REPO / "matrices").envs:
        if env.kind is EnvKind.DOCKER_RECIPE:
            assert env.recipe is not None
            assert (REPO / "containers" / env.recipe / "recipe.toml").is_file(), env.recipe


def test_valid_matrix_with_all_kinds(tmp_path: Path) -> None:
    write(tmp_path, "base", '[env.h]\nkind = "host"\ninterpreter = "/usr/bin/python3"\n')
    path = write(
        tmp_path,
        "m",
        """
description = "d"
include = ["base"]
[env.a]
kind = "docker-recipe"
recipe = "debian-bookworm-amd64"
python = "3.11"
[env.b]
kind = "docker-image"
image = "quay.io/pypa/manylinux2014_x86_64"
platform = "linux/amd64"
interpreter = "/opt/python/cp311-cp311/bin/python"
""",
    )
    m = matrix.load(str(path))
    assert [e.name for e in m.envs] == ["h", "a", "b"]
    assert m.get("b").kind is EnvKind.DOCKER_IMAGE
    assert m.get("a").python == "3.11"
    assert m.get("h").source == tmp_path / "base.toml"
    with pytest.raises(UsageError, match="no env named 'zz'"):
        m.get("zz")


@pytest.mark.parametrize(
    ("text", "key", "what"),
    [
        ('colour = "red"\n', "colour", "unknown key"),
        ("include = 3\n", "include", "list of matrix names"),
        ('include = ["nope"]\n', r"include\[0\]", "no such matrix"),
        ('include = ["../x"]\n', r"include\[0\]", "not a matrix name"),
        ("env = 1\n", "env", "table"),
        ("[env.a]\n", "env.a.kind", "missing"),
        ('[env.a]\nkind = "vm"\n', "env.a.kind", "'vm' is not one of"),
        ('[env.a]\nkind = "host"\nflavour = "x"\n', "env.a.flavour", "unknown key"),
        ('[env.a]\nkind = "host"\npython = 3.11\n', "env.a.python", "non-empty string"),
        ('[env.a]\nkind = "host"\npython = "three"\n', "env.a.python", "not a Python version"),
        ('[env.a]\nkind = "docker-recipe"\n', "env.a.recipe", "missing"),
        ('[env.a]\nkind = "docker-recipe"\nrecipe = "A B"\n', "env.a.recipe", "not a recipe"),
        ('[env.a]\nkind = "docker-image"\n', "env.a.image", "missing"),
        ('[env.a]\nkind = "host"\nimage = "x"\n', "env.a.image", "not allowed for kind host"),
        (
            '[env.a]\nkind = "docker-image"\nimage = "x"\nplatform = "arm"\n',
            "env.a.platform",
            "not like",
        ),
        ('[env.Bad]\nkind = "host"\n', "env.Bad", "lower-case"),
        ("[env]\na = 1\n", "env.a", "must be a table"),
        ("this is = not toml = \n", "", "not valid TOML"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, key: str, what: str) -> None:
    path = write(tmp_path, "bad", text)
    with pytest.raises(InputError, match=f"{path}: {key}.*{what}" if key else what) as info:
        matrix.load(str(path))
    assert "\n" not in str(info.value)


def test_include_cycle_and_conflict(tmp_path: Path) -> None:
    write(tmp_path, "a", 'include = ["b"]\n')
    write(tmp_path, "b", 'include = ["a"]\n')
    with pytest.raises(InputError, match="cycle"):
        matrix.load(str(tmp_path / "a.toml"))
    write(tmp_path, "c", '[env.x]\nkind = "host"\n')
    write(tmp_path, "d", 'include = ["c"]\n[env.x]\nkind = "host"\npython = "3.12"\n')
    with pytest.raises(InputError, match=r"env\.x: already defined differently"):
        matrix.load(str(tmp_path / "d.toml"))
    # The same env reached twice (diamond) is fine.
    write(tmp_path, "e", 'include = ["c", "f"]\n')
    write(tmp_path, "f", 'include = ["c"]\n')
    assert [e.name for e in matrix.load(str(tmp_path / "e.toml")).envs] == ["x"]


def test_unknown_matrix_and_embedded_default(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no matrix 'nope'"):
        matrix.load("nope", tmp_path)
    m = matrix.load("host", tmp_path)
    assert m.path is None
    assert m.envs[0].kind is EnvKind.HOST
    assert matrix.load_all(tmp_path).name == "host"


def test_cli_bad_matrix_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad", '[env.a]\nkind = "vm"\n')
    assert main(["envs", "list", "--matrix", str(path)]) == ExitCode.USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(path) in err[0]
    assert "env.a.kind" in err[0]


def test_same_env_in_two_files_is_one_env_a_different_one_is_an_error(tmp_path: Path) -> None:
    env = '[env.a]\nkind = "docker-recipe"\nrecipe = "r"\npython = "3.11"\n'
    (tmp_path / "one.toml").write_text(env)
    (tmp_path / "two.toml").write_text('include = ["one"]\n' + env)
    assert [e.name for e in matrix.load("two", tmp_path).envs] == ["a"]
    assert [e.name for e in matrix.load_all(tmp_path).envs] == ["a"]
    (tmp_path / "three.toml").write_text(env.replace("3.11", "3.12"))
    with pytest.raises(InputError, match="already defined differently"):
        matrix.load_all(tmp_path)
