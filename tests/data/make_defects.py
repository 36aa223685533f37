#!/usr/bin/env python3
"""Generate the defective (and the compiled good) wheels under tests/data/defects/.

    python tests/data/make_defects.py            # (re)write tests/data/defects/
    python tests/data/make_defects.py --check    # regenerate into a temp dir, compare bytes

Each case is a real wheel with ONE thing wrong: mostly a real yappi 1.7.6 wheel from
tests/data/real/ (verified against real/MANIFEST.json first), or a small CPython extension
compiled here from tests/data/src/.  Everything else about it is right: RECORD is rebuilt
(sha256, urlsafe base64 without padding, sizes) except where RECORD is the defect.
Output: tests/data/defects/<case-id>/<wheel-filename> and tests/data/defects/manifest.json:

    {"cases": [{"id", "file", "expect": [codes that MUST be reported], "why"}],
     "good":  [{"id", "file", "why"}]}          # good: no error finding allowed

Deterministic: fixed zip timestamps (2020-01-01), members sorted (.dist-info last, RECORD
last of all), fixed modes, no build paths in binaries.  The compiled parts are byte-identical
only with the same compilers, so the reference machine is Debian bookworm (gcc 12.2,
musl 1.2.3, mingw-w64 gcc 12) with CPython 3.9, 3.11 and 3.13 headers (pyenv's, or any
`python3.X` on PATH).  It needs these Debian packages:

    apt-get install gcc g++ musl-tools gcc-mingw-w64-x86-64 patchelf libffi-dev

and uses only the standard library in Python (zipfile, hashlib, struct); no harness code.
Tools used to verify the output independently: tests/data/verify_defects.py.
"""

from __future__ import annotations

import argparse
import base64
import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REAL = HERE / "real"
SRC = HERE / "src"
OUT = HERE / "defects"

DATE = (2020, 1, 1, 0, 0, 0)
GENERATOR = "wheel-harness tests/data/make_defects.py"
Y = "yappi-1.7.6"
YDI = "yappi-1.7.6.dist-info"
ML_X86 = "manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64"
ML_ARM = "manylinux2014_aarch64.manylinux_2_17_aarch64.manylinux_2_28_aarch64"

# --------------------------------------------------------------------------------------
# small helpers


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@dataclasses.dataclass
class Member:
    name: str
    data: bytes
    mode: int = 0o644
    compress: int = zipfile.ZIP_DEFLATED
    # for huge synthetic members: (chunk, repeat) instead of data
    stream: tuple[bytes, int] | None = None
    file_type: int = 0o100000  # S_IFREG; 0o120000 = symlink

    @property
    def size(self) -> int:
        return len(self.stream[0]) * self.stream[1] if self.stream else len(self.data)

    def digest(self) -> str:
        if self.stream is None:
            return record_hash(self.data)
        h = hashlib.sha256()
        for _ in range(self.stream[1]):
            h.update(self.stream[0])
        return "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


class Files:
    """The members of a wheel, by name, in insertion order (duplicates allowed via extra)."""

    def __init__(self, members: Iterable[Member] = ()) -> None:
        self.m: dict[str, Member] = {}
        for mem in members:
            self.m[mem.name] = mem
        self.extra: list[Member] = []  # appended verbatim after the sorted members

    def copy(self) -> Files:
        f = Files(dataclasses.replace(x) for x in self.m.values())
        f.extra = [dataclasses.replace(x) for x in self.extra]
        return f

    def __getitem__(self, name: str) -> bytes:
        return self.m[name].data

    def __setitem__(self, name: str, data: bytes) -> None:
        if name in self.m:
            self.m[name].data = data
        else:
            self.m[name] = Member(name, data, 0o755 if is_binary_name(name) else 0o644)

    def __delitem__(self, name: str) -> None:
        del self.m[name]

    def __contains__(self, name: str) -> bool:
        return name in self.m

    def names(self) -> list[str]:
        return list(self.m)

    def rename(self, old: str, new: str) -> None:
        mem = self.m.pop(old)
        mem.name = new
        self.m[new] = mem

    def find(self, suffix: str) -> str:
        hits = [n for n in self.m if n.endswith(suffix)]
        if len(hits) != 1:
            raise SystemExit(f"expected one member ending {suffix!r}, got {hits}")
        return hits[0]

    def ordered(self) -> list[Member]:
        def key(mem: Member) -> tuple[int, int, str]:
            in_di = ".dist-info/" in mem.name
            is_record = in_di and mem.name.endswith(".dist-info/RECORD")
            return (int(in_di), int(is_record), mem.name)

        return sorted(self.m.values(), key=key) + self.extra


def is_binary_name(name: str) -> bool:
    return name.endswith((".so", ".pyd", ".dll", ".dylib")) or ".so." in name


def load_real(filename: str) -> Files:
    path = REAL / filename
    with zipfile.ZipFile(path) as z:
        out = Files()
        for info in z.infolist():
            if info.is_dir():
                continue
            data = z.read(info)
            mode = (info.external_attr >> 16) & 0o777 or (
                0o755 if is_binary_name(info.filename) else 0o644
            )
            out.m[info.filename] = Member(info.filename, data, mode)
    return out


def make_record(files: Files, dist_info: str, skip: Iterable[str] = ()) -> bytes:
    rec_name = f"{dist_info}/RECORD"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    skip = set(skip)
    for mem in files.ordered():
        if mem.name == rec_name or mem.name in skip or mem in files.extra:
            continue
        w.writerow([mem.name, mem.digest(), mem.size])
    w.writerow([rec_name, "", ""])
    return buf.getvalue().encode()


def wheel_file(tags: Iterable[str], purelib: bool = False) -> bytes:
    lines = [
        "Wheel-Version: 1.0",
        f"Generator: {GENERATOR}",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
    ]
    lines += [f"Tag: {t}" for t in tags]
    return ("\n".join(lines) + "\n\n").encode()


def expand_tags(filename: str) -> list[str]:
    """All tags of a wheel file name (compressed tag sets expanded), in name order."""
    parts = filename[: -len(".whl")].split("-")
    py, abi, plat = parts[-3:]
    return [f"{x}-{a}-{p}" for x in py.split(".") for a in abi.split(".") for p in plat.split(".")]


def finalize(files: Files, dist_info: str, record: bool = True) -> Files:
    if record:
        files[f"{dist_info}/RECORD"] = make_record(files, dist_info)
    return files


def retag(files: Files, dist_info: str, filename: str, purelib: bool = False) -> Files:
    files[f"{dist_info}/WHEEL"] = wheel_file(expand_tags(filename), purelib)
    return files


def zip_bytes(members: list[Member]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for mem in members:
            zi = zipfile.ZipInfo(mem.name, DATE)
            zi.create_system = 3
            zi.external_attr = ((mem.file_type | mem.mode) & 0xFFFF) << 16
            zi.compress_type = mem.compress
            if mem.stream is not None:
                zi.file_size = mem.size
                with z.open(zi, "w") as fh:
                    for _ in range(mem.stream[1]):
                        fh.write(mem.stream[0])
            else:
                # zipfile warns on duplicate names; the duplicate case wants exactly that
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    z.writestr(
                        zi,
                        mem.data,
                        compresslevel=9 if mem.compress == zipfile.ZIP_DEFLATED else None,
                    )
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# raw zip surgery (for the archive.* cases)


def central_directory(data: bytes) -> tuple[int, int, list[tuple[int, str, int]]]:
    """(cd_offset, cd_size, [(cd_entry_offset, name, local_header_offset)])"""
    eocd = data.rfind(b"PK\x05\x06")
    _, _, _, _, count, cd_size, cd_off, _ = struct.unpack_from("<IHHHHIIH", data, eocd)
    entries = []
    pos = cd_off
    for _ in range(count):
        sig, *_rest = struct.unpack_from("<I", data, pos)
        assert sig == 0x02014B50
        n_len, x_len, c_len = struct.unpack_from("<HHH", data, pos + 28)
        lho = struct.unpack_from("<I", data, pos + 42)[0]
        name = data[pos + 46 : pos + 46 + n_len].decode()
        entries.append((pos, name, lho))
        pos += 46 + n_len + x_len + c_len
    return cd_off, cd_size, entries


def patch_member_header(
    data: bytes, name: str, *, crc: int | None = None, size: int | None = None
) -> bytes:
    """Rewrite the CRC and/or uncompressed size of `name` in both its local and central header."""
    buf = bytearray(data)
    _, _, entries = central_directory(data)
    for cd, n, lho in entries:
        if n != name:
            continue
        if crc is not None:
            struct.pack_into("<I", buf, cd + 16, crc)
            struct.pack_into("<I", buf, lho + 14, crc)
        if size is not None:
            struct.pack_into("<I", buf, cd + 24, size)
            struct.pack_into("<I", buf, lho + 22, size)
        return bytes(buf)
    raise SystemExit(f"no member {name}")


# --------------------------------------------------------------------------------------
# binary surgery: Mach-O load commands, PE import names, Mach-O fat files

LC_LOAD_DYLIB = 0xC
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32


def macho_commands(data: bytes) -> list[tuple[int, int, int]]:
    """[(offset, cmd, cmdsize)] of a thin little-endian 64-bit Mach-O."""
    magic, _cpu, _sub, _ftype, ncmds, _sizeofcmds, _flags, _res = struct.unpack_from(
        "<IiiIIIII", data, 0
    )
    if magic != 0xFEEDFACF:
        raise SystemExit(f"not a thin 64-bit Mach-O (magic {magic:#x})")
    out = []
    pos = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, pos)
        out.append((pos, cmd, size))
        pos += size
    return out


def macho_version(v: str) -> int:
    major, minor = (int(x) for x in v.split("."))
    return (major << 16) | (minor << 8)


def macho_set_minos(data: bytes, version: str) -> bytes:
    buf = bytearray(data)
    hit = 0
    for pos, cmd, _size in macho_commands(data):
        if cmd == LC_BUILD_VERSION:
            struct.pack_into(
                "<I", buf, pos + 12, macho_version(version)
            )  # platform at +8, minos at +12
            hit += 1
        elif cmd == LC_VERSION_MIN_MACOSX:
            struct.pack_into("<I", buf, pos + 8, macho_version(version))
            hit += 1
    if hit != 1:
        raise SystemExit(f"expected one minimum-version load command, found {hit}")
    return bytes(buf)


def macho_replace_dylib(data: bytes, old: str, new: str) -> bytes:
    buf = bytearray(data)
    for pos, cmd, size in macho_commands(data):
        if cmd != LC_LOAD_DYLIB:
            continue
        name_off = struct.unpack_from("<I", data, pos + 8)[0]
        start, room = pos + name_off, size - name_off
        name = data[start : start + room].split(b"\0", 1)[0].decode()
        if name != old:
            continue
        if len(new) + 1 > room:
            raise SystemExit(f"{new!r} does not fit in {room} bytes")
        buf[start : start + room] = new.encode().ljust(room, b"\0")
        return bytes(buf)
    raise SystemExit(f"no LC_LOAD_DYLIB {old}")


def macho_fat(thin: list[bytes]) -> bytes:
    """A fat (universal) Mach-O of thin 64-bit slices, each 2**14 aligned as lipo does."""
    align = 14
    step = 1 << align
    offsets, pos = [], step
    for t in thin:
        offsets.append(pos)
        pos = (pos + len(t) + step - 1) // step * step
    out = bytearray(struct.pack(">II", 0xCAFEBABE, len(thin)))
    for t, off in zip(thin, offsets):
        cputype, cpusub = struct.unpack_from("<ii", t, 4)
        out += struct.pack(">iiIII", cputype, cpusub & 0x00FFFFFF, off, len(t), align)
    for t, off in zip(thin, offsets):
        out += b"\0" * (off - len(out))
        out += t
    return bytes(out)


def pe_import_names(data: bytes) -> list[tuple[int, str]]:
    """[(file offset of the name, DLL name)] from a PE's import directory."""
    e_lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[e_lfanew : e_lfanew + 4] == b"PE\0\0"
    coff = e_lfanew + 4
    nsect = struct.unpack_from("<H", data, coff + 2)[0]
    opt_size = struct.unpack_from("<H", data, coff + 16)[0]
    opt = coff + 20
    magic = struct.unpack_from("<H", data, opt)[0]
    dd = opt + (96 if magic == 0x10B else 112)
    imp_rva = struct.unpack_from("<I", data, dd + 8)[0]
    sections = []
    for i in range(nsect):
        s = opt + opt_size + 40 * i
        vsize, va, rawsize, rawptr = struct.unpack_from("<IIII", data, s + 8)
        sections.append((va, max(vsize, rawsize), rawptr))

    def off(rva: int) -> int:
        for va, size, raw in sections:
            if va <= rva < va + size:
                return rva - va + raw
        raise SystemExit(f"rva {rva:#x} not in a section")

    out = []
    pos = off(imp_rva)
    while True:
        desc = struct.unpack_from("<IIIII", data, pos)
        if not any(desc):
            break
        noff = off(desc[3])
        out.append((noff, data[noff : data.index(b"\0", noff)].decode()))
        pos += 20
    return out


def pe_replace_import(data: bytes, old: str, new: str) -> bytes:
    for noff, name in pe_import_names(data):
        if name == old:
            if len(new) > len(old):
                raise SystemExit(f"{new!r} longer than {old!r}")
            buf = bytearray(data)
            buf[noff : noff + len(old)] = new.encode().ljust(len(old), b"\0")
            return bytes(buf)
    raise SystemExit(f"no import {old}")


# --------------------------------------------------------------------------------------
# compiling the small extensions


def python_include(ver: str) -> tuple[str, str]:
    """(include dir, EXT_SUFFIX) of CPython `ver` (e.g. '3.11') found on this machine."""
    cands = [shutil.which(f"python{ver}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        cands += [str(p / "bin" / f"python{ver}") for p in sorted(pyenv.glob(f"{ver}.*"))]
    for c in cands:
        if c and Path(c).exists():
            out = subprocess.run(
                [
                    c,
                    "-c",
                    "import sysconfig as s;print(s.get_path('include'));print(s.get_config_var('EXT_SUFFIX'))",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode == 0:
                inc, suffix = out.stdout.split()
                if (Path(inc) / "Python.h").exists():
                    return inc, suffix
    raise SystemExit(f"no CPython {ver} with headers found (python{ver} on PATH or under pyenv)")


CFLAGS = ["-O2", "-fPIC", "-shared", "-s", "-Wall", "-fno-ident"]


class Builder:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cache: dict[str, bytes] = {}

    def cc(
        self,
        key: str,
        compiler: str,
        src: str,
        out: str,
        args: list[str],
        libs: dict[str, bytes] | None = None,
    ) -> bytes:
        if key in self.cache:
            return self.cache[key]
        # compile from a fixed relative path so no absolute path ends up in the binary
        work = self.tmp / key
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(SRC / src, work / src)
        for lib_name, lib_data in (libs or {}).items():
            (work / lib_name).write_bytes(lib_data)
        # libraries after the source: gcc here links with --as-needed
        run([compiler, *CFLAGS, "-o", out, src, *args], cwd=work)
        if compiler == "musl-gcc":
            # Debian's musl names itself libc.so; Alpine's (where musllinux wheels are built)
            # is libc.musl-x86_64.so.1, which is what real musllinux extensions need
            run(["patchelf", "--replace-needed", "libc.so", "libc.musl-x86_64.so.1", out], cwd=work)
        self.cache[key] = (work / out).read_bytes()
        return self.cache[key]

    def ext(
        self,
        mod: str,
        ver: str,
        extra: list[str] | None = None,
        key: str | None = None,
        libs: dict[str, bytes] | None = None,
        cxx: bool = False,
    ) -> tuple[str, bytes]:
        inc, suffix = python_include(ver)
        name = mod + suffix
        src, compiler = (f"{mod}.cpp", "g++") if cxx else (f"{mod}.c", "gcc")
        data = self.cc(
            key or f"{mod}-{ver}", compiler, src, name, [f"-I{inc}", *(extra or [])], libs
        )
        return name, data

    def musl_ext(
        self,
        mod: str,
        ver: str,
        extra: list[str] | None = None,
        key: str | None = None,
        libs: dict[str, bytes] | None = None,
    ) -> tuple[str, bytes]:
        inc, _ = python_include(ver)
        name = f"{mod}.cpython-{ver.replace('.', '')}-x86_64-linux-musl.so"
        # musl-gcc replaces the system include path; Python.h still needs pyconfig.h, found in inc
        data = self.cc(
            key or f"musl-{mod}-{ver}",
            "musl-gcc",
            f"{mod}.c",
            name,
            [f"-I{inc}", *(extra or [])],
            libs,
        )
        return name, data

    def helper_so(self, compiler: str, key: str) -> bytes:
        return self.cc(
            key, compiler, "whhelper.c", "libwhhelper.so.1", ["-Wl,-soname,libwhhelper.so.1"]
        )

    def helper_dll(self) -> bytes:
        # the PE header's TimeDateStamp would change every build
        return self.cc(
            "whhelper-dll",
            "x86_64-w64-mingw32-gcc",
            "whhelper.c",
            "whhelper.dll",
            ["-Wl,--no-insert-timestamp"],
        )

    def patchelf_add_needed(self, key: str, data: bytes, lib: str) -> bytes:
        work = self.tmp / key
        work.mkdir(parents=True, exist_ok=True)
        f = work / "x.so"
        f.write_bytes(data)
        run(["patchelf", "--add-needed", lib, str(f)])
        return f.read_bytes()


# --------------------------------------------------------------------------------------
# metadata for the compiled packages


def simple_metadata(name: str, version: str, summary: str) -> bytes:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: {summary}\n"
        "License: MIT\n"
        "Requires-Python: >=3.8\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        f"# {name}\n\n{summary}. A test subject of wheel-harness, built by tests/data/make_defects.py.\n"
    ).encode()


def compiled_wheel(
    dist: str, version: str, summary: str, filename: str, members: dict[str, bytes]
) -> tuple[str, Files]:
    norm = dist.replace("-", "_")
    di = f"{norm}-{version}.dist-info"
    files = Files()
    for n, d in members.items():
        files[n] = d
    files[f"{di}/METADATA"] = simple_metadata(dist, version, summary)
    files[f"{di}/top_level.txt"] = f"{norm}\n".encode()
    retag(files, di, filename)
    finalize(files, di)
    return filename, files


# --------------------------------------------------------------------------------------
# the cases


@dataclasses.dataclass
class Case:
    id: str
    filename: str
    expect: list[str]  # empty for good cases
    why: str
    data: bytes


CASES: list[Case] = []
GOOD: list[Case] = []


def add(
    case_id: str, filename: str, expect: list[str] | None, why: str, content: Files | bytes
) -> None:
    data = content if isinstance(content, bytes) else zip_bytes(content.ordered())
    c = Case(case_id, filename, expect or [], why, data)
    (GOOD if expect is None else CASES).append(c)


def yappi(py: str, plat: str) -> tuple[str, Files]:
    fn = f"{Y}-{py}-{py}-{plat}.whl"
    return fn, load_real(fn)


def ywheel(
    filename: str,
    files: Files,
    *,
    tags_from: str | None = None,
    record: bool = True,
    purelib: bool = False,
) -> Files:
    """Rewrite WHEEL for `filename` (or `tags_from`) and RECORD, for a yappi-derived wheel."""
    retag(files, YDI, tags_from or filename, purelib)
    return finalize(files, YDI, record)


def build_all(b: Builder) -> None:
    base_fn, base = yappi("cp311", ML_X86)
    so311 = base.find(".so")

    # ---------------- archive.corrupt
    good_bytes = zip_bytes(ywheel(base_fn, base.copy()).ordered())
    add(
        "archive-corrupt-truncated",
        base_fn,
        ["archive.corrupt"],
        "the wheel cut off at 60% of its length: no end-of-central-directory record",
        good_bytes[: len(good_bytes) * 6 // 10],
    )
    with zipfile.ZipFile(io.BytesIO(good_bytes)) as z:
        crc = z.getinfo("yappi.py").CRC
    add(
        "archive-corrupt-bad-crc",
        base_fn,
        ["archive.corrupt"],
        "yappi.py's CRC-32 in the local and central headers is wrong (its bytes and RECORD hash are right)",
        patch_member_header(good_bytes, "yappi.py", crc=crc ^ 0xFFFFFFFF),
    )
    cd_off, cd_size, _ = central_directory(good_bytes)
    garbage = bytes((i * 131 + 7) & 0xFF for i in range(cd_size))
    add(
        "archive-corrupt-garbage-central-directory",
        base_fn,
        ["archive.corrupt"],
        "the central directory is overwritten with garbage; the end record still points at it",
        good_bytes[:cd_off] + garbage + good_bytes[cd_off + cd_size :],
    )
    add(
        "archive-corrupt-not-a-zip",
        base_fn,
        ["archive.corrupt"],
        "a text file with a .whl name",
        b"<html><body>404 Not Found</body></html>\n",
    )
    add(
        "archive-corrupt-empty",
        base_fn,
        ["archive.corrupt"],
        "a zero-byte file with a .whl name",
        b"",
    )

    # ---------------- archive.unsafe-path
    for cid, member, why in [
        (
            "archive-unsafe-path-dotdot",
            "../evil.py",
            "a member named ../evil.py (escapes site-packages)",
        ),
        (
            "archive-unsafe-path-dotdot-nested",
            "yappi_extra/../../evil.py",
            "a member whose path climbs out through a subdirectory",
        ),
        (
            "archive-unsafe-path-absolute",
            "/tmp/evil.py",
            "a member with an absolute path /tmp/evil.py",
        ),
        (
            "archive-unsafe-path-drive-letter",
            "C:/Windows/evil.py",
            "a member with a Windows drive letter C:/",
        ),
        (
            "archive-unsafe-path-drive-letter-backslash",
            "C:\\evil.py",
            "a member named C:\\evil.py (drive letter, Windows separator)",
        ),
        (
            "archive-unsafe-path-backslash",
            "..\\evil.py",
            "a member named ..\\evil.py (a traversal on Windows)",
        ),
    ]:
        f = base.copy()
        f[member] = b"print('pwned')\n"
        add(cid, base_fn, ["archive.unsafe-path"], why + "; listed in RECORD", ywheel(base_fn, f))
    f = base.copy()
    f["yappi_link.py"] = b"/etc/passwd"
    f.m["yappi_link.py"].file_type = 0o120000
    f.m["yappi_link.py"].mode = 0o777
    add(
        "archive-unsafe-path-symlink",
        base_fn,
        ["archive.unsafe-path"],
        "a member yappi_link.py whose external_attr says symlink (S_IFLNK) -> /etc/passwd; listed in RECORD",
        ywheel(base_fn, f),
    )

    # ---------------- archive.bomb
    f = base.copy()
    f.m["yappi_zeros.bin"] = Member(
        "yappi_zeros.bin", b"", 0o644, zipfile.ZIP_DEFLATED, stream=(bytes(1 << 20), 256)
    )
    add(
        "archive-bomb-ratio",
        base_fn,
        ["archive.bomb"],
        "a deflated member of 256 MiB of zeros (~255 KB compressed, ratio ~1000:1); listed in RECORD",
        ywheel(base_fn, f),
    )
    f = base.copy()
    f.m["yappi_zeros.bin"] = Member(
        "yappi_zeros.bin", b"", 0o644, zipfile.ZIP_BZIP2, stream=(bytes(1 << 20), 1024)
    )
    add(
        "archive-bomb-bzip2-1gib",
        base_fn,
        ["archive.bomb"],
        "a bzip2 member of 1 GiB of zeros in under 1 KB (ratio ~1,000,000:1); listed in RECORD",
        ywheel(base_fn, f),
    )
    add(
        "archive-bomb-declared-size",
        base_fn,
        ["archive.bomb"],
        "yappi.py's declared uncompressed size is 3.5 GB in both headers (its data is 46 KB)",
        patch_member_header(good_bytes, "yappi.py", size=3_500_000_000),
    )

    # ---------------- archive.duplicate-name
    f = ywheel(base_fn, base.copy())
    f.extra.append(dataclasses.replace(f.m["yappi.py"]))
    add(
        "archive-duplicate-name",
        base_fn,
        ["archive.duplicate-name"],
        "yappi.py appears twice (identical bytes, so RECORD matches either)",
        f,
    )
    f = ywheel(base_fn, base.copy())
    other = dataclasses.replace(f.m[so311])
    other.data = load_real(f"{Y}-cp311-cp311-{ML_ARM}.whl")[
        "_yappi.cpython-311-aarch64-linux-gnu.so"
    ]
    f.extra.append(other)
    add(
        "archive-duplicate-name-different-bytes",
        base_fn,
        ["archive.duplicate-name"],
        "the extension appears twice, the second copy with other bytes (which one installs depends on the tool)",
        f,
    )

    # ---------------- filename.invalid
    for cid, fn, why in [
        (
            "filename-invalid-no-tags",
            f"{Y}-cp311.whl",
            "name has only a python tag, no abi/platform",
        ),
        (
            "filename-invalid-version",
            f"yappi-1.7.six-cp311-cp311-{ML_X86}.whl",
            "version 1.7.six is not PEP 440",
        ),
        (
            "filename-invalid-build-tag",
            f"{Y}-abc-cp311-cp311-{ML_X86}.whl",
            "build tag 'abc' does not start with a digit",
        ),
        (
            "filename-invalid-name-chars",
            f"yap!pi-1.7.6-cp311-cp311-{ML_X86}.whl",
            "distribution name with '!'",
        ),
    ]:
        add(
            cid,
            fn,
            ["filename.invalid"],
            why + "; contents are the real cp311 manylinux wheel",
            ywheel(base_fn, base.copy()),
        )

    # ---------------- wheel.missing / wheel.invalid
    f = base.copy()
    del f[f"{YDI}/WHEEL"]
    add(
        "wheel-missing",
        base_fn,
        ["wheel.missing"],
        "no .dist-info/WHEEL (RECORD rebuilt without it)",
        finalize(f, YDI),
    )
    f = base.copy()
    f[f"{YDI}/WHEEL"] = bytes(range(256)) * 2
    add(
        "wheel-invalid-garbage",
        base_fn,
        ["wheel.invalid"],
        "WHEEL is 512 bytes of binary garbage",
        finalize(f, YDI),
    )
    f = ywheel(base_fn, base.copy(), record=False)
    f[f"{YDI}/WHEEL"] = f[f"{YDI}/WHEEL"].replace(b"Wheel-Version: 1.0\n", b"")
    add(
        "wheel-invalid-no-wheel-version",
        base_fn,
        ["wheel.invalid"],
        "WHEEL has no Wheel-Version",
        finalize(f, YDI),
    )
    f = ywheel(base_fn, base.copy(), record=False)
    f[f"{YDI}/WHEEL"] = f[f"{YDI}/WHEEL"].replace(b"Wheel-Version: 1.0", b"Wheel-Version: 2.0")
    add(
        "wheel-invalid-version-2",
        base_fn,
        ["wheel.invalid"],
        "Wheel-Version: 2.0, a major version installers must refuse",
        finalize(f, YDI),
    )

    # ---------------- wheel.tag-mismatch
    f = base.copy()
    add(
        "wheel-tag-mismatch-python",
        base_fn,
        ["wheel.tag-mismatch"],
        "WHEEL Tag lines say cp310-cp310-* while the file name says cp311",
        ywheel(base_fn, f, tags_from=f"{Y}-cp310-cp310-{ML_X86}.whl"),
    )
    f = base.copy()
    add(
        "wheel-tag-mismatch-subset",
        base_fn,
        ["wheel.tag-mismatch"],
        "WHEEL has only cp311-cp311-manylinux_2_17_x86_64; the file name also claims manylinux2014 and manylinux_2_28",
        ywheel(base_fn, f, tags_from=f"{Y}-cp311-cp311-manylinux_2_17_x86_64.whl"),
    )

    # ---------------- wheel.root-is-purelib (warning)
    add(
        "wheel-root-is-purelib",
        base_fn,
        ["wheel.root-is-purelib"],
        "Root-Is-Purelib: true in a wheel with a compiled extension (a warning)",
        ywheel(base_fn, base.copy(), purelib=True),
    )

    # ---------------- record.*
    f = ywheel(base_fn, base.copy(), record=False)
    del f[f"{YDI}/RECORD"]
    add("record-missing", base_fn, ["record.missing"], "no .dist-info/RECORD", f)
    f = ywheel(base_fn, base.copy())
    f["yappi.py"] = f["yappi.py"] + b"\n# patched after the build\n"
    add(
        "record-hash-mismatch-content",
        base_fn,
        ["record.hash-mismatch"],
        "yappi.py changed after RECORD was written (hash and size no longer match)",
        f,
    )
    f = ywheel(base_fn, base.copy())
    data = bytearray(f[so311])
    data[-100] ^= 0xFF
    f[so311] = bytes(data)
    add(
        "record-hash-mismatch-binary",
        base_fn,
        ["record.hash-mismatch"],
        "one byte of the extension flipped after RECORD was written (same size, other hash)",
        f,
    )
    f = ywheel(base_fn, base.copy())
    rec = (
        f[f"{YDI}/RECORD"]
        .decode()
        .replace(
            f"yappi.py,{record_hash(f['yappi.py'])},46606",
            f"yappi.py,{record_hash(f['yappi.py'])},46607",
        )
    )
    assert ",46607" in rec
    f[f"{YDI}/RECORD"] = rec.encode()
    add(
        "record-hash-mismatch-size",
        base_fn,
        ["record.hash-mismatch"],
        "RECORD gives yappi.py's size as 46607; the hash is right",
        f,
    )
    f = ywheel(base_fn, base.copy())
    f["yappi_unlisted.py"] = b"# not in RECORD\n"
    add(
        "record-unlisted-member",
        base_fn,
        ["record.unlisted"],
        "member yappi_unlisted.py is not in RECORD",
        f,
    )
    f = ywheel(base_fn, base.copy())
    f[f"{YDI}/RECORD"] = f[f"{YDI}/RECORD"] + f"yappi_gone.py,{record_hash(b'x')},1\n".encode()
    add(
        "record-unlisted-absent-file",
        base_fn,
        ["record.unlisted"],
        "RECORD lists yappi_gone.py, which is not in the wheel",
        f,
    )

    # ---------------- metadata.*
    f = base.copy()
    del f[f"{YDI}/METADATA"]
    add(
        "metadata-missing",
        base_fn,
        ["metadata.missing"],
        "no .dist-info/METADATA (RECORD rebuilt without it)",
        ywheel(base_fn, f),
    )
    meta = base[f"{YDI}/METADATA"]
    for cid, new, why in [
        (
            "metadata-invalid-no-name",
            meta.replace(b"Name: yappi\n", b""),
            "METADATA has no Name field",
        ),
        (
            "metadata-invalid-no-version",
            meta.replace(b"Version: 1.7.6\n", b"", 1).replace(
                b"Metadata-Version: 2.4\n", b"Metadata-Version: 2.4\n", 1
            ),
            "METADATA has no Version field",
        ),
        (
            "metadata-invalid-metadata-version",
            meta.replace(b"Metadata-Version: 2.4", b"Metadata-Version: banana"),
            "Metadata-Version: banana",
        ),
    ]:
        assert new != meta, cid
        f = base.copy()
        f[f"{YDI}/METADATA"] = new
        add(cid, base_fn, ["metadata.invalid"], why, ywheel(base_fn, f))
    f = base.copy()
    f[f"{YDI}/METADATA"] = meta.replace(b"Name: yappi\n", b"Name: yappy\n")
    add(
        "metadata-mismatch-name",
        base_fn,
        ["metadata.mismatch"],
        "METADATA Name: yappy in yappi's wheel",
        ywheel(base_fn, f),
    )
    f = base.copy()
    f[f"{YDI}/METADATA"] = meta.replace(b"\nVersion: 1.7.6\n", b"\nVersion: 1.7.5\n")
    add(
        "metadata-mismatch-version",
        base_fn,
        ["metadata.mismatch"],
        "METADATA Version: 1.7.5 in a 1.7.6 wheel",
        ywheel(base_fn, f),
    )
    f = Files()
    di5 = "yappi-1.7.5.dist-info"
    for mem in base.copy().ordered():
        mem.name = mem.name.replace(YDI, di5)
        f.m[mem.name] = mem
    retag(f, di5, base_fn)
    add(
        "metadata-mismatch-dist-info-dir",
        base_fn,
        ["metadata.mismatch"],
        "the .dist-info directory is yappi-1.7.5.dist-info in a 1.7.6 wheel (METADATA itself says 1.7.6)",
        finalize(f, di5),
    )
    head, _, _body = meta.partition(b"\n\n")
    broken_rst = (
        b"yappi\n=====\n\nYet another profiler, documented in reStructuredText that does not render:\n\n"
        b".. this-directive-does-not-exist:: boom\n\n"
        b"An unterminated *emphasis and a `broken link <https://example.invalid\n\n"
        b"Title too long\n===\n"
    )
    f = base.copy()
    f[f"{YDI}/METADATA"] = (
        head.replace(
            b"Description-Content-Type: text/markdown", b"Description-Content-Type: text/x-rst"
        )
        + b"\n\n"
        + broken_rst
    )
    add(
        "metadata-render-rst",
        base_fn,
        ["metadata.render"],
        "long description declared text/x-rst with an unknown directive and broken markup: readme_renderer (twine check) fails",
        ywheel(base_fn, f),
    )

    # ---------------- abi.extension-suffix
    fn = f"{Y}-cp312-cp312-{ML_X86}.whl"
    f = base.copy()
    add(
        "abi-extension-suffix-linux",
        fn,
        ["abi.extension-suffix"],
        "_yappi.cpython-311-x86_64-linux-gnu.so (the real cp311 extension) in a cp312-cp312 wheel",
        ywheel(fn, f),
    )
    wfn, wf = yappi("cp311", "win_amd64")
    fn = f"{Y}-cp312-cp312-win_amd64.whl"
    add(
        "abi-extension-suffix-windows",
        fn,
        ["abi.extension-suffix"],
        "_yappi.cp311-win_amd64.pyd (the real cp311 extension) in a cp312-cp312 wheel",
        ywheel(fn, wf.copy()),
    )
    mfn, mf = yappi("cp311", "macosx_10_9_x86_64")
    fn = f"{Y}-cp312-cp312-macosx_10_9_x86_64.whl"
    add(
        "abi-extension-suffix-macos",
        fn,
        ["abi.extension-suffix"],
        "_yappi.cpython-311-darwin.so (the real cp311 extension) in a cp312-cp312 wheel",
        ywheel(fn, mf.copy()),
    )

    # ---------------- abi.abi3
    name, so = b.ext("not_limited", "3.11")
    fn = "not_limited-1.0-cp311-abi3-manylinux_2_17_x86_64.whl"
    _, f = compiled_wheel(
        "not-limited",
        "1.0",
        "an extension built without Py_LIMITED_API",
        fn,
        {"not_limited.abi3.so": so},
    )
    add(
        "abi-abi3-not-limited",
        fn,
        ["abi.abi3"],
        "not_limited.abi3.so compiled without Py_LIMITED_API, calling PyUnicode_New/_PyBytes_Resize/PyCode_Addr2Line/_PyObject_GetDictPtr, tagged cp311-abi3",
        f,
    )

    # ---------------- platform.untagged
    for cid, plat, why in [
        (
            "platform-untagged-linux-x86_64",
            "linux_x86_64",
            "the real cp311 x86_64 wheel tagged linux_x86_64, which PyPI refuses",
        ),
    ]:
        fn = f"{Y}-cp311-cp311-{plat}.whl"
        add(cid, fn, ["platform.untagged"], why, ywheel(fn, base.copy()))
    afn, af = yappi("cp311", ML_ARM)
    fn = f"{Y}-cp311-cp311-linux_aarch64.whl"
    add(
        "platform-untagged-linux-aarch64",
        fn,
        ["platform.untagged"],
        "the real cp311 aarch64 wheel tagged linux_aarch64, which PyPI refuses",
        ywheel(fn, af.copy()),
    )

    # ---------------- platform.arch
    arm_so = af[af.find(".so")]
    f = base.copy()
    f[so311] = arm_so
    add(
        "platform-arch-aarch64-in-x86_64",
        base_fn,
        ["platform.arch"],
        "the aarch64 ELF extension (from yappi's aarch64 wheel) under the x86_64 name in the x86_64 wheel",
        ywheel(base_fn, f),
    )
    f = af.copy()
    f[af.find(".so")] = base[so311]
    add(
        "platform-arch-x86_64-in-aarch64",
        afn,
        ["platform.arch"],
        "the x86_64 ELF extension under the aarch64 name in the aarch64 manylinux wheel",
        ywheel(afn, f),
    )
    mufn, muf = yappi("cp311", "musllinux_1_2_x86_64")
    _, muaf = yappi("cp311", "musllinux_1_2_aarch64")
    f = muf.copy()
    f[muf.find(".so")] = muaf[muaf.find(".so")]
    add(
        "platform-arch-musl-aarch64-in-x86_64",
        mufn,
        ["platform.arch"],
        "yappi's musl aarch64 extension in the musllinux_1_2_x86_64 wheel",
        ywheel(mufn, f),
    )
    _, maf = yappi("cp311", "macosx_11_0_arm64")
    mac_arm_so = maf[maf.find(".so")]
    mac_x86_so = mf[mf.find(".so")]
    fn = f"{Y}-cp311-cp311-macosx_11_0_x86_64.whl"
    f = mf.copy()
    f[mf.find(".so")] = mac_arm_so
    add(
        "platform-arch-arm64-in-macos-x86_64",
        fn,
        ["platform.arch"],
        "yappi's arm64 Mach-O (minos 11.0) in a macosx_11_0_x86_64 wheel",
        ywheel(fn, f),
    )
    fn = f"{Y}-cp311-cp311-macosx_11_0_universal2.whl"
    add(
        "platform-arch-universal2-one-slice",
        fn,
        ["platform.arch"],
        "yappi's thin arm64 Mach-O in a macosx_11_0_universal2 wheel (universal2 needs x86_64 and arm64 slices)",
        ywheel(fn, maf.copy()),
    )
    w32fn, w32f = yappi("cp311", "win32")
    f = w32f.copy()
    f[w32f.find(".pyd")] = wf[wf.find(".pyd")]
    add(
        "platform-arch-amd64-in-win32",
        w32fn,
        ["platform.arch"],
        "yappi's PE32+ x64 .pyd (Machine 0x8664) as _yappi.cp311-win32.pyd in the win32 wheel",
        ywheel(w32fn, f),
    )
    wafn, waf = yappi("cp311", "win_arm64")
    f = waf.copy()
    f[waf.find(".pyd")] = wf[wf.find(".pyd")]
    add(
        "platform-arch-amd64-in-win-arm64",
        wafn,
        ["platform.arch"],
        "yappi's x64 .pyd as _yappi.cp311-win_arm64.pyd in the win_arm64 wheel",
        ywheel(wafn, f),
    )

    # ---------------- platform.libc
    musl_so = muf[muf.find(".so")]
    f = muf.copy()
    f[muf.find(".so")] = base[so311]
    add(
        "platform-libc-glibc-in-musllinux",
        mufn,
        ["platform.libc"],
        "yappi's glibc extension (NEEDED libc.so.6, GLIBC_2.x versions) under the musl name in the musllinux_1_2_x86_64 wheel",
        ywheel(mufn, f),
    )
    f = base.copy()
    f[so311] = musl_so
    add(
        "platform-libc-musl-in-manylinux",
        base_fn,
        ["platform.libc"],
        "yappi's musl extension (NEEDED libc.musl-x86_64.so.1) under the glibc name in the manylinux wheel",
        ywheel(base_fn, f),
    )

    # ---------------- manylinux.symbol-too-new, and the honest twins (good)
    for ver in ("3.9", "3.11", "3.13"):
        py = "cp" + ver.replace(".", "")
        name, so = b.ext("needs_glibc234", ver)
        for plat, bad in (("manylinux_2_17_x86_64", True), ("manylinux_2_35_x86_64", False)):
            fn = f"needs_glibc234-1.0-{py}-{py}-{plat}.whl"
            _, f = compiled_wheel(
                "needs-glibc234", "1.0", "calls close_range(), GLIBC_2.34", fn, {name: so}
            )
            if bad:
                add(
                    f"manylinux-symbol-too-new-glibc234-{py}",
                    fn,
                    ["manylinux.symbol-too-new"],
                    f"{name} needs close_range@GLIBC_2.34 but the wheel says manylinux_2_17 (fails to import on glibc < 2.34)",
                    f,
                )
            else:
                add(
                    f"good-needs-glibc234-{py}-manylinux_2_35",
                    fn,
                    None,
                    f"the same {name} (close_range@GLIBC_2.34) honestly tagged manylinux_2_35",
                    f,
                )
    name, so = b.ext("needs_glibc234", "3.11")
    fn = "needs_glibc234-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    _, f = compiled_wheel(
        "needs-glibc234", "1.0", "calls close_range(), GLIBC_2.34", fn, {name: so}
    )
    add(
        "manylinux-symbol-too-new-glibc234-manylinux_2_28",
        fn,
        ["manylinux.symbol-too-new"],
        f"{name} needs GLIBC_2.34 but the wheel says manylinux_2_28",
        f,
    )

    name, so = b.ext("cxx_string", "3.11", cxx=True)
    for plat, bad in (("manylinux_2_17_x86_64", True), ("manylinux_2_28_x86_64", False)):
        fn = f"cxx_string-1.0-cp311-cp311-{plat}.whl"
        _, f = compiled_wheel(
            "cxx-string", "1.0", "a C++ extension using std::string", fn, {name: so}
        )
        if bad:
            add(
                "manylinux-symbol-too-new-glibcxx",
                fn,
                ["manylinux.symbol-too-new"],
                f"{name} (g++ 12, std::string) needs GLIBCXX_3.4.21 and CXXABI_1.3.9; manylinux_2_17 allows GLIBCXX <= 3.4.19",
                f,
            )
        else:
            add(
                "good-cxx-string-manylinux_2_28",
                fn,
                None,
                f"the same {name} (GLIBCXX_3.4.21, CXXABI_1.3.9, GLIBC_2.14) honestly tagged manylinux_2_28",
                f,
            )

    # ---------------- manylinux.library
    name, so = b.ext("links_ffi", "3.11", ["-lffi"])
    fn = "links_ffi-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    _, f = compiled_wheel("links-ffi", "1.0", "links the system libffi", fn, {name: so})
    add(
        "manylinux-library-libffi",
        fn,
        ["manylinux.library"],
        f"{name} has NEEDED libffi.so.8, not in the manylinux_2_17 policy and not in the wheel",
        f,
    )
    f = base.copy()
    f[so311] = b.patchelf_add_needed("yappi-ssl", base[so311], "libssl.so.3")
    add(
        "manylinux-library-yappi-libssl",
        base_fn,
        ["manylinux.library"],
        "yappi's real extension with an added NEEDED libssl.so.3 (patchelf --add-needed), not allowed, not vendored",
        ywheel(base_fn, f),
    )
    helper = b.helper_so("gcc", "whhelper-glibc")
    link_helper = ["-L.", "-l:libwhhelper.so.1", "-Wl,-rpath,$ORIGIN/uses_helper.libs"]
    name, so = b.ext(
        "uses_helper",
        "3.11",
        link_helper,
        key="uses_helper-glibc",
        libs={"libwhhelper.so.1": helper},
    )
    fn = "uses_helper-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    _, f = compiled_wheel(
        "uses-helper", "1.0", "an extension with a vendored helper library", fn, {name: so}
    )
    add(
        "manylinux-library-helper-not-vendored",
        fn,
        ["manylinux.library"],
        f"{name} has NEEDED libwhhelper.so.1 (RUNPATH $ORIGIN/uses_helper.libs) but the wheel does not carry it",
        f,
    )
    _, f = compiled_wheel(
        "uses-helper",
        "1.0",
        "an extension with a vendored helper library",
        fn,
        {name: so, "uses_helper.libs/libwhhelper.so.1": helper},
    )
    add(
        "good-uses-helper-vendored",
        fn,
        None,
        f"{name} with NEEDED libwhhelper.so.1, vendored as uses_helper.libs/libwhhelper.so.1 (RUNPATH $ORIGIN/uses_helper.libs)",
        f,
    )

    # ---------------- musllinux.library
    f = muf.copy()
    f[muf.find(".so")] = b.patchelf_add_needed("yappi-musl-ssl", musl_so, "libssl.so.3")
    add(
        "musllinux-library-yappi-libssl",
        mufn,
        ["musllinux.library"],
        "yappi's real musl extension with an added NEEDED libssl.so.3 (patchelf --add-needed), not vendored",
        ywheel(mufn, f),
    )
    mhelper = b.helper_so("musl-gcc", "whhelper-musl")
    name, so = b.musl_ext(
        "uses_helper",
        "3.11",
        link_helper,
        key="uses_helper-musl",
        libs={"libwhhelper.so.1": mhelper},
    )
    fn = "uses_helper-1.0-cp311-cp311-musllinux_1_2_x86_64.whl"
    _, f = compiled_wheel(
        "uses-helper", "1.0", "an extension with a vendored helper library", fn, {name: so}
    )
    add(
        "musllinux-library-helper-not-vendored",
        fn,
        ["musllinux.library"],
        f"{name} (musl-gcc) has NEEDED libwhhelper.so.1 but the wheel does not carry it",
        f,
    )
    _, f = compiled_wheel(
        "uses-helper",
        "1.0",
        "an extension with a vendored helper library",
        fn,
        {name: so, "uses_helper.libs/libwhhelper.so.1": mhelper},
    )
    add(
        "good-uses-helper-vendored-musl",
        fn,
        None,
        f"{name} (musl-gcc) with its NEEDED libwhhelper.so.1 vendored in uses_helper.libs/",
        f,
    )

    # ---------------- macos.minos
    f = mf.copy()
    f[mf.find(".so")] = macho_set_minos(mac_x86_so, "12.0")
    add(
        "macos-minos-version-min-patched",
        mfn,
        ["macos.minos"],
        "yappi's x86_64 .so with LC_VERSION_MIN_MACOSX patched from 10.9 to 12.0 in a macosx_10_9 wheel",
        ywheel(mfn, f),
    )
    m14fn, m14f = yappi("cp314", "macosx_10_15_x86_64")
    f = m14f.copy()
    f[m14f.find(".so")] = macho_set_minos(m14f[m14f.find(".so")], "13.0")
    add(
        "macos-minos-build-version-patched",
        m14fn,
        ["macos.minos"],
        "yappi's cp314 x86_64 .so with LC_BUILD_VERSION minos patched from 10.15 to 13.0 in a macosx_10_15 wheel",
        ywheel(m14fn, f),
    )
    _, m12f = yappi("cp312", "macosx_10_13_x86_64")
    fn = f"{Y}-cp312-cp312-macosx_10_9_x86_64.whl"
    add(
        "macos-minos-retagged-older",
        fn,
        ["macos.minos"],
        "yappi's real cp312 x86_64 wheel (its .so needs macOS 10.13) retagged macosx_10_9",
        ywheel(fn, m12f.copy()),
    )

    # ---------------- macos.library
    f = mf.copy()
    f[mf.find(".so")] = macho_replace_dylib(
        mac_x86_so, "/usr/lib/libSystem.B.dylib", "/opt/local/lib/libintl.8.dylib"
    )
    add(
        "macos-library-opt-local",
        mfn,
        ["macos.library"],
        "yappi's x86_64 .so with its LC_LOAD_DYLIB patched to /opt/local/lib/libintl.8.dylib (MacPorts, not in the wheel)",
        ywheel(mfn, f),
    )
    maffn = f"{Y}-cp311-cp311-macosx_11_0_arm64.whl"
    f = maf.copy()
    f[maf.find(".so")] = macho_replace_dylib(
        mac_arm_so, "/usr/lib/libSystem.B.dylib", "@rpath/libwhhelper.1.dylib"
    )
    add(
        "macos-library-rpath-not-vendored",
        maffn,
        ["macos.library"],
        "yappi's arm64 .so with its LC_LOAD_DYLIB patched to @rpath/libwhhelper.1.dylib, which the wheel lacks",
        ywheel(maffn, f),
    )

    # ---------------- windows.dll
    f = wf.copy()
    pyd = wf.find(".pyd")
    f[pyd] = pe_replace_import(wf[pyd], "api-ms-win-crt-time-l1-1-0.dll", "libwinpthread-1.dll")
    add(
        "windows-dll-not-vendored",
        wfn,
        ["windows.dll"],
        "yappi's x64 .pyd with the import api-ms-win-crt-time-l1-1-0.dll renamed to libwinpthread-1.dll, not in the wheel",
        ywheel(wfn, f),
    )
    f = wf.copy()
    f[pyd] = pe_replace_import(wf[pyd], "api-ms-win-crt-time-l1-1-0.dll", "whhelper.dll")
    f["whhelper.dll"] = b.helper_dll()
    add(
        "good-windows-dll-vendored",
        wfn,
        None,
        "yappi's x64 .pyd importing whhelper.dll (patched import name), with whhelper.dll (mingw-w64) next to it in the wheel; static check only",
        ywheel(wfn, f),
    )

    # ---------------- more good ones
    name, so = b.ext("tiny_ok", "3.11")
    fn = "tiny_ok-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    _, f = compiled_wheel(
        "tiny-ok", "1.0", "a minimal extension using only old glibc symbols", fn, {name: so}
    )
    add(
        "good-tiny-ok-manylinux_2_17",
        fn,
        None,
        f"{name}: only GLIBC_2.2.5-era symbols, tagged manylinux_2_17",
        f,
    )
    name, so = b.musl_ext("tiny_ok", "3.11")
    fn = "tiny_ok-1.0-cp311-cp311-musllinux_1_2_x86_64.whl"
    _, f = compiled_wheel(
        "tiny-ok", "1.0", "a minimal extension using only old glibc symbols", fn, {name: so}
    )
    add(
        "good-tiny-ok-musllinux_1_2",
        fn,
        None,
        f"{name} built with musl-gcc, NEEDED libc.so only, tagged musllinux_1_2",
        f,
    )
    _, so = b.ext("limited_ok", "3.11")
    fn = "limited_ok-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"
    _, f = compiled_wheel(
        "limited-ok", "1.0", "a proper Py_LIMITED_API extension", fn, {"limited_ok.abi3.so": so}
    )
    add(
        "good-limited-ok-abi3",
        fn,
        None,
        "limited_ok.abi3.so built with Py_LIMITED_API=3.8, stable-ABI calls only, tagged cp38-abi3",
        f,
    )
    fn = f"{Y}-cp311-cp311-macosx_10_9_universal2.whl"
    f = mf.copy()
    f[mf.find(".so")] = macho_fat([mac_x86_so, mac_arm_so])
    add(
        "good-macos-universal2-fat",
        fn,
        None,
        "yappi's real x86_64 (minos 10.9) and arm64 (minos 11.0) slices joined in one fat Mach-O, tagged macosx_10_9_universal2",
        ywheel(fn, f),
    )


# --------------------------------------------------------------------------------------


def verify_real() -> None:
    manifest = json.loads((REAL / "MANIFEST.json").read_text())
    for name, digest in manifest.items():
        path = REAL / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{path} missing or changed: run tests/data/fetch_real.py")


def write(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ids = [c.id for c in CASES + GOOD]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise SystemExit(f"duplicate case ids: {sorted(dupes)}")
    manifest: dict[str, list[dict[str, object]]] = {"cases": [], "good": []}
    for c in CASES + GOOD:
        (out / c.id).mkdir()
        (out / c.id / c.filename).write_bytes(c.data)
        entry: dict[str, object] = {"id": c.id, "file": f"{c.id}/{c.filename}"}
        if c in CASES:
            entry["expect"] = c.expect
        entry["why"] = c.why
        entry["sha256"] = hashlib.sha256(c.data).hexdigest()
        manifest["cases" if c in CASES else "good"].append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temp dir and compare with tests/data/defects",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    verify_real()
    with tempfile.TemporaryDirectory(prefix="make_defects-") as tmp:
        build_all(Builder(Path(tmp)))
        if args.check:
            target = Path(tmp) / "out"
            write(target)
            old = json.loads((OUT / "manifest.json").read_text())
            new = json.loads((target / "manifest.json").read_text())
            if old != new:
                print("manifest.json differs from a fresh generation")
                return 1
            print(f"identical: {len(new['cases'])} cases, {len(new['good'])} good")
            return 0
        write(args.out)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(CASES)} defective + {len(GOOD)} good wheels, {total} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
