"""Platform tags decoded into what a binary must satisfy (PEP 425, 600, 656, 730, 738, 783,
macOS, Windows).

packaging parses and validates tags but has no decoder from a platform tag back to
(libc, version, arch): this is the one place that knowledge lives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class OS(StrEnum):
    ANY = "any"
    MANYLINUX = "manylinux"
    MUSLLINUX = "musllinux"
    LINUX = "linux"  # plain linux_* (not accepted by PyPI, except armv6l/armv7l)
    MACOS = "macos"
    WINDOWS = "windows"
    IOS = "ios"  # PEP 730
    ANDROID = "android"  # PEP 738
    EMSCRIPTEN = "emscripten"  # PEP 783 (pyemscripten)
    OTHER = "other"


@dataclass(frozen=True, kw_only=True)
class Platform:
    tag: str
    os: OS
    arch: str
    # (major, minor): glibc for manylinux, musl for musllinux, macOS for macosx, iOS for ios,
    # (API level, 0) for android, (year, release) for pyemscripten
    version: tuple[int, int] | None = None
    # iOS only: "iphoneos" (devices) or "iphonesimulator"
    sdk: str | None = None


_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(.+)$")
_LEGACY = re.compile(r"^(manylinux1|manylinux2010|manylinux2014)_(.+)$")
_MUSL = re.compile(r"^musllinux_(\d+)_(\d+)_(.+)$")
_MACOS = re.compile(r"^macosx_(\d+)_(\d+)_(.+)$")
_IOS = re.compile(r"^ios_(\d+)_(\d+)_(arm64|x86_64)_(iphoneos|iphonesimulator)$")
_ANDROID = re.compile(r"^android_(\d+)_(.+)$")
_EMSCRIPTEN = re.compile(r"^pyemscripten_(\d+)_(\d+)_wasm32$")
_WINDOWS = {"win32": "x86", "win_amd64": "x86_64", "win_arm64": "arm64", "win_ia64": "ia64"}

# Architectures macOS multi-arch tags require (every listed slice must be present).
MACOS_ARCH_GROUPS: dict[str, tuple[str, ...]] = {
    "universal2": ("x86_64", "arm64"),
    "intel": ("i386", "x86_64"),
    "fat": ("i386", "ppc"),
    "fat3": ("i386", "ppc", "x86_64"),
    "fat64": ("ppc64", "x86_64"),
    "universal": ("i386", "ppc", "ppc64", "x86_64"),
}
MACOS_ARCHES = {"x86_64", "arm64", "i386", "ppc", "ppc64", "arm64e", *MACOS_ARCH_GROUPS}

# Android ABIs (PEP 738: the NDK's ABI names, '-' and '.' as '_') -> the Linux arch of
# their ELF binaries (the keys of elf.ELF_ARCH).
ANDROID_ABIS = {"arm64_v8a": "aarch64", "armeabi_v7a": "armv7l", "x86_64": "x86_64", "x86": "i686"}

# What PyPI accepts for Linux architectures (warehouse's allow-list of platform tags).
LINUX_ARCHES = {
    "x86_64",
    "i686",
    "aarch64",
    "armv7l",
    "ppc64",
    "ppc64le",
    "s390x",
    "riscv64",
    "loongarch64",
}
_LEGACY_ARCHES = {
    "manylinux1": {"x86_64", "i686"},
    "manylinux2010": {"x86_64", "i686"},
    "manylinux2014": {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"},
}


def parse_platform(tag: str) -> Platform:
    if tag == "any":
        return Platform(tag=tag, os=OS.ANY, arch="any")
    if m := _MANYLINUX.match(tag):
        return Platform(tag=tag, os=OS.MANYLINUX, arch=m[3], version=(int(m[1]), int(m[2])))
    if m := _LEGACY.match(tag):
        return Platform(tag=tag, os=OS.MANYLINUX, arch=m[2], version=_LEGACY_MANYLINUX[m[1]])
    if m := _MUSL.match(tag):
        return Platform(tag=tag, os=OS.MUSLLINUX, arch=m[3], version=(int(m[1]), int(m[2])))
    if tag.startswith("linux_"):
        return Platform(tag=tag, os=OS.LINUX, arch=tag[len("linux_") :])
    if m := _MACOS.match(tag):
        return Platform(tag=tag, os=OS.MACOS, arch=m[3], version=(int(m[1]), int(m[2])))
    if tag in _WINDOWS:
        return Platform(tag=tag, os=OS.WINDOWS, arch=_WINDOWS[tag])
    if m := _IOS.match(tag):
        return Platform(tag=tag, os=OS.IOS, arch=m[3], version=(int(m[1]), int(m[2])), sdk=m[4])
    if m := _ANDROID.match(tag):
        return Platform(tag=tag, os=OS.ANDROID, arch=m[2], version=(int(m[1]), 0))
    if m := _EMSCRIPTEN.match(tag):
        return Platform(tag=tag, os=OS.EMSCRIPTEN, arch="wasm32", version=(int(m[1]), int(m[2])))
    return Platform(tag=tag, os=OS.OTHER, arch=tag)


def pypi_refusal(p: Platform) -> str | None:
    """Why PyPI would refuse a wheel with this platform tag, or None if it accepts it."""
    match p.os:
        case OS.ANY | OS.WINDOWS | OS.IOS | OS.EMSCRIPTEN:
            return None
        case OS.ANDROID:
            if p.arch in ANDROID_ABIS:
                return None
            return f"unknown Android ABI {p.arch!r} (PEP 738: {', '.join(ANDROID_ABIS)})"
        case OS.MANYLINUX:
            legacy = p.tag.split("_", 1)[0]
            if legacy in _LEGACY_ARCHES and p.arch not in _LEGACY_ARCHES[legacy]:
                return f"{legacy} has no {p.arch} variant"
            return None if p.arch in LINUX_ARCHES else f"unknown Linux architecture {p.arch!r}"
        case OS.MUSLLINUX:
            return None if p.arch in LINUX_ARCHES else f"unknown Linux architecture {p.arch!r}"
        case OS.LINUX:
            if p.arch in ("armv6l", "armv7l"):
                return None
            return (
                f"{p.tag} is a local build tag: PyPI refuses it; repair the wheel to a "
                "manylinux/musllinux tag (auditwheel repair)"
            )
        case OS.MACOS:
            return None if p.arch in MACOS_ARCHES else f"unknown macOS architecture {p.arch!r}"
        case OS.OTHER:
            if p.tag.startswith("ios_"):
                return (
                    f"malformed iOS tag {p.tag!r} (PEP 730: ios_X_Y_<arm64|x86_64>_"
                    "<iphoneos|iphonesimulator>)"
                )
            return f"unknown platform tag {p.tag!r}"
    return None
