"""What the index needs to know about a wheel, and what PyPI would refuse.

Reads only the wheel's central directory and METADATA (one bounded zip read). PyPI's upload
endpoint (warehouse/forklift/legacy.py and metadata.py) refuses platform tags outside its
allow-list (linux_x86_64 and friends), files whose METADATA name/version differ from the
file name, members compressed other than stored/deflate, more than 64 MiB decompressing at
over 50:1, a Metadata-Version it does not support, and local versions; refusing those here
means a promotion never stops half-way on a file PyPI was always going to reject. (What
makes a file broken anywhere, such as entry_points.txt or PEP 639 license files, is an
inspect finding, and promote re-inspects every file.)
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

MAX_METADATA_BYTES = 16 * 1024 * 1024
PYPI_MAX_FILE_BYTES = 100 * 1024 * 1024  # PyPI's default per-file limit
# warehouse/forklift/metadata.py SUPPORTED_METADATA_VERSIONS (2.0 was never a standard;
# packaging 26 also reads 2.6, which PyPI does not take yet)
PYPI_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
# warehouse/forklift/legacy.py: a file decompressing to more than 64 MiB at more than
# 50 times its size is refused as a zip bomb
PYPI_RATIO_MIN_SIZE = 64 * 1024 * 1024
PYPI_RATIO = 50

# The platform tags PyPI accepts on upload (warehouse/utils/wheel.py, _parse_platform_tag,
# as of its 2026 version): a static list, then patterns.
_ALLOWED = frozenset(
    {
        "any", "win32", "win_arm64", "win_amd64", "win_ia64",
        "manylinux1_x86_64", "manylinux1_i686", "manylinux2010_x86_64", "manylinux2010_i686",
        "manylinux2014_x86_64", "manylinux2014_i686", "manylinux2014_aarch64",
        "manylinux2014_armv7l", "manylinux2014_ppc64", "manylinux2014_ppc64le",
        "manylinux2014_s390x", "linux_armv6l", "linux_armv7l",
    }
)  # fmt: skip
_MACOS = re.compile(r"^macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")
_MACOS_ARCHES = frozenset(
    {"ppc", "ppc64", "i386", "x86_64", "arm64", "intel", "fat", "fat3", "fat64", "universal",
     "universal2"}
)  # fmt: skip
# macOS 10.x by minor version; from 11 on only X_0 (pip has no other tags), and only the
# majors that exist: 11-15, then 26 (the year-based numbering). Later majors are taken as
# they come (warehouse adds each release; refusing them here would outlive the list).
_MACOS_MAJORS = frozenset({11, 12, 13, 14, 15, 26})
_LINUX = re.compile(r"^(?P<libc>many|musl)linux_\d+_\d+_(?P<arch>.+)$")
_MUSLLINUX_ARCHES = frozenset(
    {"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"}
)
_MANYLINUX_ARCHES = _MUSLLINUX_ARCHES | {"ppc64"}
_IOS = re.compile(r"^ios_\d+_\d+_(?:arm64|x86_64)_(?:iphoneos|iphonesimulator)$")
_ANDROID = re.compile(r"^android_\d+_(?:armeabi_v7a|arm64_v8a|x86|x86_64)$")
_PYEMSCRIPTEN = re.compile(r"^pyemscripten_\d+_\d+_wasm32$")


@dataclass(frozen=True, kw_only=True)
class WheelMeta:
    name: str  # as written in METADATA
    version: str
    requires_python: str | None
    metadata_version: str = ""


def project_name(filename: str) -> str:
    """The PEP 503 normalized project name of a wheel file name."""
    name, _, _, _ = parse_wheel_filename(filename)
    return str(name)


def read_meta(path: Path) -> WheelMeta:
    """METADATA of the wheel at path. Raises ValueError saying what is wrong."""
    try:
        with zipfile.ZipFile(path) as zf:
            candidates = [
                i
                for i in zf.infolist()
                if i.filename.count("/") == 1 and i.filename.endswith(".dist-info/METADATA")
            ]
            if len(candidates) != 1:
                raise ValueError(f"{len(candidates)} .dist-info/METADATA files, expected 1")
            info = candidates[0]
            if info.file_size > MAX_METADATA_BYTES:
                raise ValueError("METADATA is larger than 16 MiB")
            text = zf.read(info).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"not a readable wheel ({exc})") from None
    headers = HeaderParser().parsestr(text)
    meta_name = headers.get("Name")
    meta_version = headers.get("Version")
    if not meta_name or not meta_version:
        raise ValueError("METADATA has no Name or no Version")
    requires = headers.get("Requires-Python")
    return WheelMeta(
        name=str(meta_name).strip(),
        version=str(meta_version).strip(),
        requires_python=str(requires).strip() if requires else None,
        metadata_version=str(headers.get("Metadata-Version") or "").strip(),
    )


def platform_refusal(tag: str) -> str | None:
    """Why PyPI would refuse this platform tag, or None."""
    if tag in _ALLOWED:
        return None
    if m := _MACOS.match(tag):
        major, minor = int(m["major"]), int(m["minor"])
        if m["arch"] not in _MACOS_ARCHES:
            return f"platform tag {tag}: PyPI does not accept the macOS architecture {m['arch']}"
        if major == 10 or (minor == 0 and (major in _MACOS_MAJORS or major > 26)):
            return None
        if major > 10 and minor != 0:
            return f"platform tag {tag}: PyPI takes macOS {major} only as macosx_{major}_0"
        return f"platform tag {tag}: PyPI does not accept macOS {major}"
    if m := _LINUX.match(tag):
        arches = _MUSLLINUX_ARCHES if m["libc"] == "musl" else _MANYLINUX_ARCHES
        if m["arch"] in arches:
            return None
        return f"platform tag {tag} has an architecture PyPI does not accept"
    if _IOS.match(tag) or _ANDROID.match(tag) or _PYEMSCRIPTEN.match(tag):
        return None
    return f"platform tag {tag} is not accepted by PyPI (only manylinux/musllinux/macosx/win…)"


_PYPI_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def compression_refusals(path: Path) -> list[str]:
    """PyPI takes members stored or deflated only (bzip2, lzma, zstd... are refused), and
    refuses a file that declares more than 64 MiB uncompressed at over 50 times its size."""
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []  # read_meta says it
    reasons = []
    odd = sorted({i.compress_type for i in infos} - set(_PYPI_COMPRESSION))
    if odd:
        reasons.append(
            f"members compressed with method(s) {', '.join(map(str, odd))}: PyPI accepts "
            "only stored or deflate"
        )
    total = sum(i.file_size for i in infos)
    if total > PYPI_RATIO_MIN_SIZE and total > PYPI_RATIO * max(size, 1):
        reasons.append(
            f"decompresses to {total} bytes, {total / max(size, 1):.0f} times its size: PyPI "
            f"refuses more than {PYPI_RATIO_MIN_SIZE // 1024**2} MiB at over {PYPI_RATIO}:1 "
            "(a zip bomb to it)"
        )
    return reasons


def pypi_refusals(path: Path) -> list[str]:
    """Every reason PyPI would refuse this file (empty: it would take it)."""
    reasons: list[str] = []
    try:
        name, version, _, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        return [f"invalid wheel file name ({exc})"]
    for platform in sorted({t.platform for t in tags}):
        if why := platform_refusal(platform):
            reasons.append(why)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return [*reasons, f"cannot read ({exc.strerror or exc})"]
    if size > PYPI_MAX_FILE_BYTES:
        reasons.append(f"{size} bytes, over PyPI's default limit of {PYPI_MAX_FILE_BYTES}")
    reasons += compression_refusals(path)
    try:
        meta = read_meta(path)
    except ValueError as exc:
        return [*reasons, str(exc)]
    if canonicalize_name(meta.name) != name:
        reasons.append(f"METADATA Name {meta.name!r} does not match the file name ({name})")
    try:
        parsed = Version(meta.version)
    except InvalidVersion:
        reasons.append(f"METADATA Version {meta.version!r} is not a valid version")
    else:
        if parsed != version:
            reasons.append(
                f"METADATA Version {meta.version!r} does not match the file name ({version})"
            )
        if parsed.local is not None:
            reasons.append(
                f"version {parsed} has a local version label (+{parsed.local}): PyPI refuses "
                "local versions"
            )
    if meta.metadata_version not in PYPI_METADATA_VERSIONS:
        reasons.append(
            f"Metadata-Version {meta.metadata_version!r} is not one PyPI accepts "
            f"({', '.join(PYPI_METADATA_VERSIONS)})"
        )
    return reasons
