"""Wheel: one bounded, safe read of a .whl, entirely in memory.

The archive is read once: every member is decompressed in bounded chunks (never more than
the limits below, whatever the headers claim), hashed for RECORD, and kept in memory only
if a later check needs its bytes (the .dist-info files and binaries recognised by magic).
Nothing is ever extracted to disk. Problems with the archive itself become ``archive.*``
findings on the Wheel; they never raise.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from harness.findings import Finding, error


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds that keep a hostile archive from exhausting memory or time."""

    max_members: int = 100_000
    max_member_size: int = 2 * 1024**3  # 2 GiB uncompressed, per member
    max_total_size: int = 8 * 1024**3  # 8 GiB uncompressed, whole wheel
    # ratio only matters for members big enough to hurt
    max_ratio: float = 1000.0
    ratio_floor: int = 64 * 1024**2
    max_kept_size: int = 512 * 1024**2  # bytes kept in memory for checks
    max_seconds: float = 120.0  # wall time for reading and checking one wheel


DEFAULT_LIMITS = Limits()
_CHUNK = 1024 * 1024


class BinaryKind(StrEnum):
    ELF = "elf"
    MACHO = "macho"
    PE = "pe"


_MACHO_MAGICS = {
    b"\xfe\xed\xfa\xce",
    b"\xce\xfa\xed\xfe",
    b"\xfe\xed\xfa\xcf",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # fat (also Java class files: disambiguated below)
    b"\xca\xfe\xba\xbf",
}


def binary_kind(head: bytes) -> BinaryKind | None:
    if head.startswith(b"\x7fELF"):
        return BinaryKind.ELF
    if head[:4] in _MACHO_MAGICS:
        # Java class files share 0xCAFEBABE; their next word is a version >= 45,
        # a fat Mach-O's is an arch count (< 45 in practice).
        if head[:4] == b"\xca\xfe\xba\xbe" and int.from_bytes(head[4:8], "big") >= 45:
            return None
        return BinaryKind.MACHO
    if head.startswith(b"MZ"):
        return BinaryKind.PE
    return None


@dataclass(frozen=True, kw_only=True)
class Member:
    name: str
    size: int  # declared uncompressed size (central directory)
    compressed_size: int
    is_dir: bool
    is_symlink: bool
    sha256: str | None  # urlsafe b64 without padding, as in RECORD; None if unreadable
    actual_size: int | None  # bytes actually read; None if unreadable
    binary: BinaryKind | None = None


@dataclass(frozen=True, kw_only=True)
class Wheel:
    path: Path
    filename: str
    sha256: str  # hex digest of the whole file
    size: int
    # parsed from the file name; None when the name is not a valid wheel name
    name: NormalizedName | None
    version: Version | None
    build: BuildTag | None
    tags: frozenset[Tag]
    members: tuple[Member, ...]
    contents: dict[str, bytes] = field(repr=False)
    # archive-level findings discovered while reading (archive.*, filename.invalid)
    load_findings: tuple[Finding, ...]
    readable: bool  # False when the zip could not be opened at all

    @property
    def tag_strings(self) -> list[str]:
        return sorted(str(t) for t in self.tags)

    def member(self, name: str) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        return None

    @property
    def dist_info_dirs(self) -> list[str]:
        dirs = {
            m.name.split("/", 1)[0]
            for m in self.members
            if "/" in m.name and m.name.split("/", 1)[0].endswith(".dist-info")
        }
        return sorted(dirs)

    @property
    def dist_info(self) -> str | None:
        """The one .dist-info directory, matching the file name when several exist."""
        dirs = self.dist_info_dirs
        if len(dirs) == 1:
            return dirs[0]
        if self.name is not None:
            for d in dirs:
                stem = d[: -len(".dist-info")]
                dname = stem.rsplit("-", 1)[0]
                if canonicalize_name(dname) == self.name:
                    return d
        return dirs[0] if dirs else None

    def dist_info_file(self, name: str) -> bytes | None:
        d = self.dist_info
        if d is None:
            return None
        return self.contents.get(f"{d}/{name}")

    def binaries(self) -> list[tuple[Member, bytes]]:
        return [
            (m, self.contents[m.name])
            for m in self.members
            if m.binary is not None and m.name in self.contents
        ]

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(t.platform for t in self.tags)


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_reason(name: str, external_attr: int) -> str | None:
    """Why a member name would escape the install root, or None."""
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return "contains a '..' component"
    mode = external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    return None


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def read_wheel(path: Path, limits: Limits = DEFAULT_LIMITS) -> Wheel:
    """Read ``path`` once, safely. Never raises for a bad archive: see ``load_findings``."""
    findings: list[Finding] = []
    filename = path.name
    name: NormalizedName | None = None
    version: Version | None = None
    build: BuildTag | None = None
    tags: frozenset[Tag] = frozenset()
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        findings.append(error("filename.invalid", f"not a valid wheel file name: {exc}"))

    file_hash = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            file_hash.update(chunk)
            size += len(chunk)

    members: list[Member] = []
    contents: dict[str, bytes] = {}

    def result(readable: bool) -> Wheel:
        return Wheel(
            path=path,
            filename=filename,
            sha256=file_hash.hexdigest(),
            size=size,
            name=name,
            version=version,
            build=build,
            tags=tags,
            members=tuple(members),
            contents=contents,
            load_findings=tuple(findings),
            readable=readable,
        )

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        findings.append(error("archive.corrupt", f"not a readable zip archive: {exc}"))
        return result(False)

    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            findings.append(
                error(
                    "archive.bomb",
                    f"{len(infos)} members, more than the limit of {limits.max_members}",
                    members=len(infos),
                )
            )
            return result(False)

        counts = Counter(i.filename for i in infos)
        for dup, n in sorted(counts.items()):
            if n > 1:
                findings.append(
                    error("archive.duplicate-name", f"member appears {n} times", path=dup, count=n)
                )

        _check_declared_sizes(infos, size, limits, findings)
        if any(f.code == "archive.bomb" for f in findings):
            # Do not decompress anything from an archive that declares a bomb.
            members.extend(_member(info, None, None, None) for info in infos if info.filename)
            return result(True)

        dist_info_prefixes = tuple(
            {i.filename.split("/", 1)[0] + "/" for i in infos if ".dist-info/" in i.filename}
        )
        kept_total = 0
        total_read = 0
        seen: set[str] = set()
        for info in infos:
            mname = info.filename
            if not mname:
                findings.append(error("archive.corrupt", "a member has an empty name"))
                continue
            reason = unsafe_reason(mname, info.external_attr)
            if reason is not None:
                findings.append(error("archive.unsafe-path", f"member {reason}", path=mname))
            if mname.endswith("/"):
                members.append(_member(info, None, None, None))
                continue
            if info.flag_bits & 0x1:
                findings.append(
                    error("archive.corrupt", "member is encrypted (wheels cannot be)", path=mname)
                )
                members.append(_member(info, None, None, None))
                continue
            # .dist-info files are kept; binaries too, by magic (read_member sees the head)
            wanted = mname not in seen and mname.startswith(dist_info_prefixes)
            budget = limits.max_kept_size - kept_total
            if mname in seen:
                budget = 0
            digest, nread, data, kind, problem = _read_member(zf, info, limits, wanted, budget)
            if problem is not None:
                code, msg = problem
                findings.append(error(code, msg, path=mname))
            if data is not None:
                contents[mname] = data
                kept_total += len(data)
            elif kind is not None and nread is not None and mname not in seen:
                # a binary the checks cannot see: say so, never pass it silently
                findings.append(
                    error(
                        "harness.budget",
                        f"{kind} binary of {nread} bytes not checked: the wheel's kept-bytes "
                        f"budget ({limits.max_kept_size}) is used up",
                        path=mname,
                        size=nread,
                    )
                )
            seen.add(mname)
            members.append(_member(info, digest, nread, kind))
            total_read += nread or 0
            if total_read > limits.max_total_size:
                findings.append(
                    error(
                        "archive.bomb",
                        f"decompresses to more than {limits.max_total_size} bytes in all",
                        total=total_read,
                    )
                )
                break
    return result(True)


def _member(
    info: zipfile.ZipInfo, digest: str | None, nread: int | None, kind: BinaryKind | None
) -> Member:
    return Member(
        name=info.filename,
        size=info.file_size,
        compressed_size=info.compress_size,
        is_dir=info.filename.endswith("/"),
        is_symlink=stat.S_ISLNK(info.external_attr >> 16),
        sha256=digest,
        actual_size=nread,
        binary=kind,
    )


def _check_declared_sizes(
    infos: list[zipfile.ZipInfo], archive_size: int, limits: Limits, findings: list[Finding]
) -> None:
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > limits.max_member_size:
            findings.append(
                error(
                    "archive.bomb",
                    f"declares {info.file_size} bytes uncompressed, "
                    f"more than the limit of {limits.max_member_size}",
                    path=info.filename,
                    size=info.file_size,
                )
            )
        elif info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            findings.append(
                error(
                    "archive.bomb",
                    f"compression ratio {ratio:.0f}:1 beyond the limit of {limits.max_ratio:.0f}:1",
                    path=info.filename,
                    ratio=round(ratio),
                )
            )
    if total > limits.ratio_floor and total > limits.max_ratio * max(archive_size, 1):
        # many members each under the per-member floor: the ratio holds across members
        findings.append(
            error(
                "archive.bomb",
                f"declares {total} bytes uncompressed from a {archive_size}-byte archive, "
                f"a ratio beyond {limits.max_ratio:.0f}:1",
                total=total,
            )
        )
    if total > limits.max_total_size:
        findings.append(
            error(
                "archive.bomb",
                f"declares {total} bytes uncompressed in all, "
                f"more than the limit of {limits.max_total_size}",
                total=total,
            )
        )
    # Overlapping members (one compressed stream referenced by many entries) are the
    # classic non-recursive zip bomb; real wheels never share data between members.
    spans = sorted((i.header_offset, i.compress_size, i.filename) for i in infos)
    for (off_a, csize_a, name_a), (off_b, _, name_b) in itertools.pairwise(spans):
        if off_b < off_a + 30 + csize_a and csize_a > 0:
            findings.append(
                error(
                    "archive.bomb",
                    f"member data overlaps member {name_a!r} (overlapping-entry zip bomb)",
                    path=name_b,
                )
            )
            break
    if archive_size and infos and spans[-1][0] > archive_size:
        findings.append(error("archive.corrupt", "central directory points past end of file"))


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, wanted: bool, budget: int
) -> tuple[str | None, int | None, bytes | None, BinaryKind | None, tuple[str, str] | None]:
    """Decompress one member in chunks, bounded; keep its bytes only when a check needs
    them (``wanted``, or a binary by magic) and they fit ``budget``.

    Returns (b64 sha256, size, kept bytes or None, binary kind, problem)."""
    h = hashlib.sha256()
    chunks: list[bytes] | None = [] if budget > 0 else None
    kind: BinaryKind | None = None
    n = 0
    bound = min(info.file_size, limits.max_member_size)
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                if n == 0:
                    kind = binary_kind(chunk[:8])
                    if kind is None and not wanted:
                        chunks = None  # hashed only, never held
                n += len(chunk)
                if n > bound + _CHUNK:
                    return None, None, None, kind, ("archive.bomb", "decompresses beyond its size")
                h.update(chunk)
                if chunks is not None:
                    if n > budget:
                        chunks = None  # over the kept-bytes budget: hash on, keep nothing
                    else:
                        chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        return None, None, None, None, ("archive.corrupt", f"cannot be read: {exc}")
    except NotImplementedError as exc:
        return None, None, None, None, ("archive.corrupt", f"unsupported compression: {exc}")
    except RuntimeError as exc:  # zipfile: encrypted, or a password needed
        return None, None, None, None, ("archive.corrupt", f"cannot be read: {exc}")
    if n == 0 and not wanted:
        chunks = None
    data = b"".join(chunks) if chunks is not None else None
    return _b64(h.digest()), n, data, kind, None
