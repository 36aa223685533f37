"""The tag list pip would have in an environment, predicted from what is *declared* about it.

``harness plan`` must give the same answer on every machine (a CI plan job has no Docker
images and is not a macOS or Windows machine), so it never probes: it predicts each env's
supported tags from declared facts, in pip's order (packaging.tags, which pip vendors):

- container envs: CPython X.Y from the matrix (or the recipe), the architecture from the
  recipe's docker platform, the libc from the recipe: ``musl-*`` recipes are musl 1.2,
  ``debian-<suite>-*`` recipes have the suite's glibc (DEBIAN_GLIBC). Registry images are
  predicted from the pypa image names (manylinux2014, manylinux_2_28, musllinux_1_2).
- host runner kinds: the OS version GitHub's current runners have (macOS 15), the
  architecture of the kind, and the CPython the job sets up.

A prediction can be wrong (a recipe changes suite, a runner moves to a newer macOS); the
shard that runs the cell probes the real env and turns a different pick into an error
cell naming both files, so a wrong prediction is loud, never a silently skipped wheel.
"""

from __future__ import annotations

import re
from enum import StrEnum

from packaging.tags import compatible_tags, cpython_tags, mac_platforms

from harness.envs.base import EnvKind, EnvSpec
from harness.errors import InputError

# glibc of each Debian suite's libc6 (checked 2026-11-25 against the built images' probes)
DEBIAN_GLIBC: dict[str, tuple[int, int]] = {
    "bullseye": (2, 31),
    "bookworm": (2, 36),
    "trixie": (2, 41),
    "sid": (2, 43),  # unstable moves: the sid image built 2026-11-25 probed 2.43
}
MUSL = (1, 2)
# docker --platform -> the architecture in Linux platform tags
DOCKER_ARCH = {
    "linux/amd64": "x86_64",
    "linux/386": "i686",
    "linux/arm64": "aarch64",
    "linux/arm/v7": "armv7l",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
}
# the arch a Linux CI runner runs natively; every other arch runs under qemu (~20x)
NATIVE_ARCHES = frozenset({"x86_64", "i686"})
_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_PYPA_IMAGE = re.compile(r"(manylinux2014|manylinux_(\d+)_(\d+)|musllinux_(\d+)_(\d+))_")
_PYTHON = re.compile(r"^(\d)\.(\d{1,2})(t?)$")


class RunnerKind(StrEnum):
    """Where a job runs. LINUX: container shards; the others run host mode on a runner."""

    LINUX = "linux"
    LINUX_HOST = "linux-x86_64"  # a matrix `host` env, on a Linux x86_64 runner
    MACOS_X86_64 = "macos-x86_64"
    MACOS_ARM64 = "macos-arm64"
    WINDOWS_X64 = "windows-x64"
    WINDOWS_X86 = "windows-x86"
    WINDOWS_ARM64 = "windows-arm64"


HOST_KINDS = (
    RunnerKind.MACOS_X86_64,
    RunnerKind.MACOS_ARM64,
    RunnerKind.WINDOWS_X64,
    RunnerKind.WINDOWS_X86,
    RunnerKind.WINDOWS_ARM64,
)
MACOS_VERSION = (15, 0)  # macos-15 and macos-15-intel, GitHub's current macOS runners
LINUX_RUNNER_GLIBC = (2, 35)  # ubuntu-22.04, the oldest Ubuntu GitHub still offers


def parse_python(text: str, where: str) -> tuple[int, int, bool]:
    """``"3.13"`` / ``"3.13t"`` -> (3, 13, free_threaded)."""
    m = _PYTHON.match(text)
    if m is None:
        raise InputError(f"{where}: python {text!r} is not X.Y (or X.Yt)")
    return int(m[1]), int(m[2]), m[3] == "t"


def manylinux_platforms(glibc: tuple[int, int], arch: str) -> list[str]:
    """pip's manylinux platform tags for a glibc, newest first (packaging._manylinux)."""
    oldest = 4 if arch in ("x86_64", "i686") else 16
    out: list[str] = []
    for minor in range(glibc[1], oldest, -1):
        out.append(f"manylinux_{glibc[0]}_{minor}_{arch}")
        # pip (packaging) adds the legacy alias whatever the arch: manylinux2014_riscv64
        # is in sid riscv64's real tag list, though PyPI takes no such file name
        legacy = _LEGACY.get((glibc[0], minor))
        if legacy:
            out.append(f"{legacy}_{arch}")
    return out


def musllinux_platforms(musl: tuple[int, int], arch: str) -> list[str]:
    return [f"musllinux_{musl[0]}_{minor}_{arch}" for minor in range(musl[1], -1, -1)]


def cpython_tag_list(python: str, platforms: list[str], where: str) -> tuple[str, ...]:
    """pip's tag list for CPython ``python`` on ``platforms`` (packaging.tags.sys_tags order)."""
    major, minor, threaded = parse_python(python, where)
    version = (major, minor)
    abi = f"cp{major}{minor}{'t' if threaded else ''}"
    if version < (3, 8):
        abi += "m"
    tags = [
        *cpython_tags(version, abis=[abi], platforms=platforms),
        *compatible_tags(version, f"cp{major}{minor}", platforms=platforms),
    ]
    # "abi3t" (the free-threaded stable ABI) comes from a packaging newer than the pip that
    # any CPython here bundles (pip 25.x): a free-threaded env's real pip offers no abi3t tag
    return tuple(dict.fromkeys(str(t) for t in tags if t.abi != "abi3t"))


def container_platforms(spec: EnvSpec) -> tuple[str, str, list[str]]:
    """(python X.Y, arch, platform tags) of a docker env, from its declaration alone."""
    where = f"{spec.source or 'matrix'}: env.{spec.name}"
    python = spec.python
    if spec.kind is EnvKind.DOCKER_RECIPE:
        from harness.envs import images

        assert spec.recipe is not None
        recipe = images.load_recipe(spec.recipe, origin=spec)
        python = python or recipe.python
        if python and re.search(r"cpython\d+\.\d+t-", recipe.name):
            python += "t"  # a free-threaded build (containers/_lib/cpython.sh --disable-gil)
        arch = DOCKER_ARCH.get(recipe.platform, "")
        if not arch:
            raise InputError(f"{where}: cannot plan docker platform {recipe.platform!r}")
        if recipe.name.startswith("musl-"):
            plats = musllinux_platforms(MUSL, arch)
        else:
            parts = recipe.name.split("-")
            glibc = DEBIAN_GLIBC.get(parts[1]) if len(parts) > 2 else None
            if parts[0] != "debian" or glibc is None:
                raise InputError(
                    f"{where}: recipe {recipe.name!r}: its glibc cannot be predicted "
                    f"(plannable recipes: musl-*, debian-{{{','.join(DEBIAN_GLIBC)}}}-*)"
                )
            plats = manylinux_platforms(glibc, arch)
        return _need_python(python, where), arch, [*plats, f"linux_{arch}"]
    assert spec.image is not None
    if python and spec.interpreter and re.search(r"/cp\d+-cp\d+t/", spec.interpreter):
        python += "t"  # pypa images: /opt/python/cp314-cp314t/bin/python is free-threaded
    arch = DOCKER_ARCH.get(spec.platform or "linux/amd64", "")
    m = _PYPA_IMAGE.search(spec.image.rsplit("/", 1)[-1] + "_")
    if m is None or not arch:
        raise InputError(
            f"{where}: image {spec.image!r}: its libc cannot be predicted for a plan "
            "(plannable: pypa manylinux*/musllinux_* images, or a docker-recipe env)"
        )
    if m[1].startswith("musllinux"):
        plats = musllinux_platforms((int(m[4]), int(m[5])), arch)
    elif m[1] == "manylinux2014":
        plats = manylinux_platforms((2, 17), arch)
    else:
        plats = manylinux_platforms((int(m[2]), int(m[3])), arch)
    return _need_python(python, where), arch, [*plats, f"linux_{arch}"]


def _need_python(python: str | None, where: str) -> str:
    if not python:
        raise InputError(f'{where}: declare python = "X.Y" so the env can be planned')
    parse_python(python, where)
    return python


def host_platforms(kind: RunnerKind) -> list[str]:
    """Platform tags of a host runner kind, pip's order."""
    match kind:
        case RunnerKind.MACOS_X86_64:
            return list(mac_platforms(MACOS_VERSION, "x86_64"))
        case RunnerKind.MACOS_ARM64:
            return list(mac_platforms(MACOS_VERSION, "arm64"))
        case RunnerKind.WINDOWS_X64:
            return ["win_amd64"]
        case RunnerKind.WINDOWS_X86:
            return ["win32"]
        case RunnerKind.WINDOWS_ARM64:
            return ["win_arm64"]
        case RunnerKind.LINUX_HOST:
            return [*manylinux_platforms(LINUX_RUNNER_GLIBC, "x86_64"), "linux_x86_64"]
        case RunnerKind.LINUX:
            raise ValueError("container shards have per-env platforms")
