"""matrices/*.toml -> EnvSpec values, validated at load.

Schema (one file per matrix; every key below is the whole vocabulary, anything else is an
error naming the file and the key)::

    description = "what this matrix is for"        # optional
    include = ["linux", "arm64"]                   # optional: other matrices in the
                                                   # same directory, by name or file name

    [env.bullseye]                                 # the env's name: [a-z0-9][a-z0-9._-]*
    kind = "docker-recipe"                         # docker-recipe | docker-image | host
    recipe = "debian-bullseye-amd64"               # docker-recipe: a directory in containers/
    python = "3.9"                                 # optional "X.Y": checked against the probe
    description = "old glibc (2.31)"               # optional

    [env.manylinux2014]
    kind = "docker-image"
    image = "quay.io/pypa/manylinux2014_x86_64"    # docker-image: pulled (exit 3 if it can't)
    interpreter = "/opt/python/cp311-cp311/bin/python"   # optional, default "python3"
    platform = "linux/amd64"                       # optional docker --platform
    cpu = "x86-64-v1"                              # optional, docker kinds: the smoke steps
                                                   # run under qemu user-mode with this CPU
                                                   # model: x86-64-v1|v2|v3, armv8.0

    [env.host]
    kind = "host"
    interpreter = "/usr/bin/python3.11"            # optional, default: the harness's own

An env defined identically twice (reached through two includes, or repeated in another
file, as ci.toml repeats nightly's) is one env; two different definitions of one name are
an error.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from harness.envs.base import EnvKind, EnvSpec
from harness.envs.cpumodel import CpuModel
from harness.errors import InputError, UsageError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
PYTHON_RE = re.compile(r"^[23]\.[0-9]{1,2}$")
PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")

TOP_KEYS = frozenset({"description", "include", "env"})
ENV_KEYS = frozenset(
    {"kind", "recipe", "image", "python", "interpreter", "platform", "cpu", "description"}
)
EMBEDDED_DEFAULT = "host"
CPU_MODELS = tuple(str(m) for m in CpuModel)


@dataclass(frozen=True, kw_only=True)
class Matrix:
    name: str
    path: Path | None  # None for the embedded default
    description: str
    envs: tuple[EnvSpec, ...]

    def get(self, name: str) -> EnvSpec:
        for env in self.envs:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.envs) or "none"
        raise UsageError(f"no env named {name!r} in matrix {self.name} (known: {known})")


def default_matrices_dir() -> Path:
    """$HARNESS_MATRICES_DIR, else ./matrices, else the one beside this source tree."""
    from harness.envs.paths import project_dir

    return project_dir("matrices", "HARNESS_MATRICES_DIR")


def embedded_default() -> Matrix:
    """The matrix used when none is named: this machine's own interpreter, no docker."""
    return Matrix(
        name=EMBEDDED_DEFAULT,
        path=None,
        description="this machine's interpreter (the harness's own), in a fresh venv",
        envs=(
            EnvSpec(
                name="host",
                kind=EnvKind.HOST,
                interpreter=sys.executable,
                description="embedded default: the interpreter running harness",
            ),
        ),
    )


def resolve(name_or_path: str, matrices_dir: Path | None = None) -> Path:
    """A matrix argument (``linux``, ``linux.toml`` or a path) -> its file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" and candidate.is_file():
        return candidate
    base = matrices_dir if matrices_dir is not None else default_matrices_dir()
    stem = name_or_path[:-5] if name_or_path.endswith(".toml") else name_or_path
    path = base / f"{stem}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in base.glob("*.toml"))) or "none"
        raise UsageError(f"no matrix {name_or_path!r} in {base} (known: {known})")
    return path


def load(name_or_path: str, matrices_dir: Path | None = None) -> Matrix:
    """Load one matrix with its includes. ``host`` with no host.toml is the embedded one."""
    try:
        path = resolve(name_or_path, matrices_dir)
    except UsageError:
        if name_or_path == EMBEDDED_DEFAULT:
            return embedded_default()
        raise
    envs: dict[str, EnvSpec] = {}
    description = _load_into(path, envs, stack=())
    return Matrix(name=path.stem, path=path, description=description, envs=tuple(envs.values()))


def load_all(matrices_dir: Path | None = None) -> Matrix:
    """Every env of every matrix in the directory (deduplicated), for `envs list/build`."""
    base = matrices_dir if matrices_dir is not None else default_matrices_dir()
    files = sorted(base.glob("*.toml")) if base.is_dir() else []
    if not files:
        return embedded_default()
    envs: dict[str, EnvSpec] = {}
    for path in files:
        _load_into(path, envs, stack=())
    return Matrix(name="all", path=base, description=f"all of {base}", envs=tuple(envs.values()))


def _err(path: Path, key: str, message: str) -> InputError:
    return InputError(f"{path}: {key}: {message}")


def _load_into(path: Path, envs: dict[str, EnvSpec], stack: tuple[Path, ...]) -> str:
    real = path.resolve()
    if real in stack:
        chain = " -> ".join(p.name for p in (*stack, real))
        raise InputError(f"{path}: include: cycle ({chain})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc

    for key in data:
        if key not in TOP_KEYS:
            raise _err(path, key, f"unknown key (expected one of: {', '.join(sorted(TOP_KEYS))})")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _err(path, "description", "must be a string")

    include = data.get("include", [])
    if not isinstance(include, list) or not all(isinstance(i, str) and i for i in include):
        raise _err(path, "include", "must be a list of matrix names")
    for i, inc in enumerate(include):
        stem = inc[:-5] if inc.endswith(".toml") else inc
        if "/" in stem or "\\" in stem or not NAME_RE.match(stem):
            raise _err(path, f"include[{i}]", f"{inc!r} is not a matrix name in {path.parent}")
        target = path.parent / f"{stem}.toml"
        if not target.is_file():
            raise _err(path, f"include[{i}]", f"no such matrix: {target}")
        _load_into(target, envs, (*stack, real))

    table = data.get("env", {})
    if not isinstance(table, dict):
        raise _err(path, "env", "must be a table of [env.NAME] tables")
    for name, raw in table.items():
        spec = _parse_env(path, name, raw)
        previous = envs.get(name)
        # the same definition in two files (ci.toml repeats nightly's) is one env
        if previous is not None and replace(previous, source=None) != replace(spec, source=None):
            where = previous.source or "?"
            raise _err(path, f"env.{name}", f"already defined differently in {where}")
        envs[name] = spec
    return description


def _parse_env(path: Path, name: str, raw: object) -> EnvSpec:
    key = f"env.{name}"
    if not NAME_RE.match(name):
        raise _err(path, key, "env names are lower-case [a-z0-9._-], at most 63 characters")
    if not isinstance(raw, dict):
        raise _err(path, key, "must be a table")
    for k in raw:
        if k not in ENV_KEYS:
            raise _err(
                path, f"{key}.{k}", f"unknown key (expected one of: {', '.join(sorted(ENV_KEYS))})"
            )
    for k, v in raw.items():
        if not isinstance(v, str) or not v:
            raise _err(path, f"{key}.{k}", "must be a non-empty string")
    values: dict[str, str] = raw

    if "kind" not in values:
        raise _err(path, f"{key}.kind", f"missing (one of: {', '.join(k.value for k in EnvKind)})")
    try:
        kind = EnvKind(values["kind"])
    except ValueError:
        raise _err(
            path,
            f"{key}.kind",
            f"{values['kind']!r} is not one of: {', '.join(k.value for k in EnvKind)}",
        ) from None

    allowed = {
        EnvKind.DOCKER_RECIPE: {"recipe", "python", "interpreter", "cpu", "description", "kind"},
        EnvKind.DOCKER_IMAGE: {
            "image",
            "python",
            "interpreter",
            "platform",
            "cpu",
            "description",
            "kind",
        },
        EnvKind.HOST: {"python", "interpreter", "description", "kind"},
    }[kind]
    for k in values:
        if k not in allowed:
            raise _err(path, f"{key}.{k}", f"not allowed for kind {kind.value}")

    python = values.get("python")
    if python is not None and not PYTHON_RE.match(python):
        raise _err(path, f"{key}.python", f"{python!r} is not a Python version like '3.11'")
    if kind is EnvKind.DOCKER_RECIPE:
        recipe = values.get("recipe")
        if recipe is None:
            raise _err(path, f"{key}.recipe", "missing (a directory name in containers/)")
        if not NAME_RE.match(recipe):
            raise _err(path, f"{key}.recipe", f"{recipe!r} is not a recipe name")
    if kind is EnvKind.DOCKER_IMAGE:
        if "image" not in values:
            raise _err(path, f"{key}.image", "missing (a registry image reference)")
        if any(c.isspace() for c in values["image"]):
            raise _err(path, f"{key}.image", "must not contain spaces")
    platform = values.get("platform")
    if platform is not None and not PLATFORM_RE.match(platform):
        raise _err(path, f"{key}.platform", f"{platform!r} is not like 'linux/arm64'")
    cpu = values.get("cpu")
    if cpu is not None and cpu not in CPU_MODELS:
        raise _err(path, f"{key}.cpu", f"{cpu!r} is not one of: {', '.join(CPU_MODELS)}")

    return EnvSpec(
        name=name,
        kind=kind,
        python=python,
        recipe=values.get("recipe"),
        image=values.get("image"),
        interpreter=values.get("interpreter"),
        platform=platform,
        cpu=cpu,
        description=values.get("description", ""),
        source=path,
    )


def other_envs(current: Matrix, matrices_dir: Path | None = None) -> list[EnvSpec]:
    """The envs of every other matrix in the directory (coverage names them as where an
    untested wheel could run); a broken sibling matrix only loses that hint."""
    from harness.errors import HarnessError

    try:
        every = load_all(matrices_dir)
    except HarnessError:
        return []
    mine = {e.name for e in current.envs}
    return [e for e in every.envs if e.name not in mine]
