"""The hostile corpus: inputs built on the spot (nothing large is stored in the repository),
each with what the harness must do about it.

Used by tests/unit/test_hostile_corpus.py (the small inputs, asserting findings and exit
codes) and bench/hostile.py (every input, measuring wall time and peak RSS per input in a
child process). ``build(name, directory)`` writes one input and returns its Case.
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

TAG_LINUX = "cp311-cp311-manylinux_2_17_x86_64"


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str
    argv: tuple[str, ...]  # harness arguments (after `python -m harness`)
    exit_codes: tuple[int, ...]  # acceptable exit codes (contract: 0/1/2/3)
    codes: tuple[str, ...] = ()  # finding codes the inspect JSON must contain
    large: bool = False  # heavy to build or run: bench only
    stdout: str | None = None  # a path for stdout ("/dev/full"), or ">&-" for closed
    env: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ building blocks


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(
    directory: Path,
    members: dict[str, bytes],
    *,
    name: str = "hostile",
    version: str = "1.0",
    tag: str = "py3-none-any",
    metadata_extra: str = "",
    record: str | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A wheel with these members plus METADATA/WHEEL/RECORD (RECORD correct unless given)."""
    directory.mkdir(parents=True, exist_ok=True)
    di = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata_extra}"
    purelib = "true" if tag.endswith("-any") else "false"
    all_members = {
        **members,
        f"{di}/METADATA": meta.encode(),
        f"{di}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: hostile\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n"
        ).encode(),
    }
    if record is None:
        lines = [f"{n},sha256={_b64(d)},{len(d)}" for n, d in all_members.items()]
        record = "\n".join([*lines, f"{di}/RECORD,,"]) + "\n"
    all_members[f"{di}/RECORD"] = record.encode()
    path = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression) as zf:
        for n, d in all_members.items():
            zf.writestr(zipfile.ZipInfo(n, date_time=(2024, 1, 1, 0, 0, 0)), d, compression)
    return path


def raw_zip(path: Path, entries: Sequence[tuple[str, bytes, int, int, int]]) -> Path:
    """A zip from pre-compressed entries: (name, compressed, method, crc, size). Lets one
    compressed stream be reused for many members without compressing it again."""
    out = bytearray()
    central = bytearray()
    for name, data, method, crc, size in entries:
        raw = name.encode()
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 46, 0, method, 0, 0x21, crc, len(data), size, len(raw), 0
        )
        out += raw + data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 46, 46, 0, method, 0, 0x21, crc, len(data),
            size, len(raw), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += raw
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0
    )
    path.write_bytes(bytes(out))
    return path


def elf(
    *, needed: Sequence[str] = (), verneed: Sequence[tuple[str, str]] = (),
    verneed_count: int | None = None, dyn_entries: int | None = None,
) -> bytes:  # fmt: skip
    """A minimal x86_64 ELF shared object: .dynamic (DT_NEEDED...) and .gnu.version_r.

    ``verneed_count`` overrides sh_info (entries): with vn_next 0 the one entry repeats
    (a cycle); ``dyn_entries`` adds that many DT_NEEDED entries naming the same string."""
    dynstr = bytearray(b"\0")

    def s(text: str) -> int:
        off = len(dynstr)
        dynstr.extend(text.encode() + b"\0")
        return off

    dyn = bytearray()
    for lib in needed:
        dyn += struct.pack("<qQ", 1, s(lib))
    if dyn_entries:
        name = s("libbomb.so")
        dyn += struct.pack("<qQ", 1, name) * dyn_entries
    dyn += struct.pack("<qQ", 0, 0)
    vr = bytearray()
    libs: dict[str, list[str]] = {}
    for lib, ver in verneed:
        libs.setdefault(lib, []).append(ver)
    items = list(libs.items())
    for i, (lib, vers) in enumerate(items):
        last = i == len(items) - 1
        size = 16 + 16 * len(vers)
        vr += struct.pack("<HHIII", 1, len(vers), s(lib), 16, 0 if last else size)
        for j, ver in enumerate(vers):
            nxt = 0 if j == len(vers) - 1 else 16
            vr += struct.pack("<IHHII", zlib.crc32(ver.encode()), 0, 2 + j, s(ver), nxt)
    shstr = b"\0.shstrtab\0.dynstr\0.dynamic\0.gnu.version_r\0"
    body = bytearray(b"\0" * 64)
    offs = {}
    for key, blob in (("shstr", shstr), ("dynstr", bytes(dynstr)), ("dyn", dyn), ("vr", vr)):
        while len(body) % 8:
            body.append(0)
        offs[key] = len(body)
        body += blob
    while len(body) % 8:
        body.append(0)
    shoff = len(body)

    def sh(name: int, typ: int, off: int, size: int, link: int = 0, info: int = 0,
           entsize: int = 0) -> bytes:  # fmt: skip
        return struct.pack("<IIQQQQIIQQ", name, typ, 0, 0, off, size, link, info, 8, entsize)

    n_vr = verneed_count if verneed_count is not None else len(items)
    sections = [
        sh(0, 0, 0, 0),
        sh(1, 3, offs["shstr"], len(shstr)),
        sh(11, 3, offs["dynstr"], len(dynstr)),
        sh(19, 6, offs["dyn"], len(dyn), link=2, entsize=16),
    ]
    if verneed:
        sections.append(sh(28, 0x6FFFFFFE, offs["vr"], len(vr), link=2, info=n_vr))
    for h in sections:
        body += h
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, len(sections), 1
    )
    body[:64] = header
    return bytes(body)


def macho(ncmds: int) -> bytes:
    """A thin x86_64 Mach-O dylib header declaring ``ncmds`` 8-byte (LC_NOTE-like) commands."""
    cmds = struct.pack("<II", 0x31, 8) * ncmds
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 6, ncmds, len(cmds), 0, 0)
    return header + cmds


# ------------------------------------------------------------------ the cases


def _inspect(path: Path, codes: Sequence[str] = (), exit_codes: tuple[int, ...] = (1,)) -> Case:
    return Case(
        name=path.name,
        argv=("inspect", str(path), "--format", "json"),
        exit_codes=exit_codes,
        codes=tuple(codes),
    )


def _so(name: str) -> str:
    return f"hostile/{name}.cpython-311-x86_64-linux-gnu.so"


def c_elf_needed_200k(d: Path) -> Case:
    w = wheel(d, {_so("m"): elf(dyn_entries=200_000)}, tag=TAG_LINUX)
    return _inspect(w, ["platform.arch"])


def c_elf_verneed_cycle(d: Path) -> Case:
    data = elf(needed=["libc.so.6"], verneed=[("libc.so.6", "GLIBC_2.2.5")], verneed_count=2**31)
    return _inspect(wheel(d, {_so("m"): data}, tag=TAG_LINUX), ["platform.arch"])


def c_macho_2m_commands(d: Path) -> Case:
    w = wheel(d, {"hostile/m.so": macho(2_000_000)}, tag="cp311-cp311-macosx_11_0_x86_64")
    return _inspect(w, ["platform.arch"])


def c_glibc_after_big_member(d: Path) -> Case:
    import random

    # 600 MiB named like an extension (kept whole before: the ELF after it went unchecked);
    # one random byte in 512 keeps the ratio near 100:1, below the bomb limit
    big = bytearray(600 * 1024**2)
    big[511::512] = random.Random(1).randbytes(len(big) // 512)
    data = elf(needed=["libc.so.6"], verneed=[("libc.so.6", "GLIBC_2.34")])
    w = wheel(d, {_so("big"): bytes(big), _so("m"): data}, tag=TAG_LINUX)
    return replace(_inspect(w, ["manylinux.symbol-too-new"]), large=True)


def c_glibc_small(d: Path) -> Case:
    data = elf(needed=["libc.so.6"], verneed=[("libc.so.6", "GLIBC_2.34")])
    return _inspect(wheel(d, {_so("m"): data}, tag=TAG_LINUX), ["manylinux.symbol-too-new"])


def c_rst_10mb(d: Path) -> Case:
    text = "Title\n=====\n\n" + "*emph* and ``literal`` and `link <http://x>`_\n\n" * 220_000
    w = wheel(d, {"hostile/__init__.py": b""}, metadata_extra="\n" + text)
    return replace(_inspect(w, ["metadata.render"], (0, 1)), large=True)


def c_markdown_nested_quotes(d: Path) -> Case:
    extra = "Description-Content-Type: text/markdown\n\n" + ">" * 100_000 + " x\n"
    w = wheel(d, {"hostile/__init__.py": b""}, metadata_extra=extra)
    return replace(_inspect(w, [], (0, 1)), large=True)


def c_markdown_wide_table(d: Path) -> Case:
    cols = 20_000
    table = "|" + " a |" * cols + "\n|" + "---|" * cols + "\n|" + " 1 |" * cols + "\n"
    extra = "Description-Content-Type: text/markdown\n\n" + table
    w = wheel(d, {"hostile/__init__.py": b""}, metadata_extra=extra)
    return replace(_inspect(w, [], (0, 1)), large=True)


def c_record_1m_absent(d: Path) -> Case:
    init = b""
    di = "hostile-1.0.dist-info"
    lines = [f"hostile/__init__.py,sha256={_b64(init)},0"]
    lines += [f"hostile/absent{i}.py,sha256={_b64(init)},0" for i in range(1_000_000)]
    lines += [f"{di}/METADATA,,", f"{di}/WHEEL,,", f"{di}/RECORD,,"]
    w = wheel(d, {"hostile/__init__.py": init}, record="\n".join(lines) + "\n")
    return _inspect(w, ["record.unlisted"])


def c_record_other_algorithms(d: Path) -> Case:
    body = b"x = 1\n"
    di = "hostile-1.0.dist-info"
    wrong512 = base64.urlsafe_b64encode(hashlib.sha512(b"other").digest()).rstrip(b"=").decode()
    lines = [
        f"hostile/a.py,xyz=abc,{len(body)}",
        f"hostile/b.py,sha512={wrong512},{len(body)}",
        f"{di}/METADATA,,", f"{di}/WHEEL,,", f"{di}/RECORD,,",
    ]  # fmt: skip
    w = wheel(d, {"hostile/a.py": body, "hostile/b.py": body}, record="\n".join(lines) + "\n")
    return _inspect(w, ["record.hash-mismatch"])


def c_member_2gib(d: Path) -> Case:
    """One 2 GiB member at ~100:1 (below the bomb ratio): read, hashed, never held."""
    import random

    size = 2 * 1024**3 - 1
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    chunk = bytearray(64 * 1024**2)
    chunk[511::512] = random.Random(2).randbytes(len(chunk) // 512)
    piece_c = bytes(chunk)
    data = bytearray()
    crc = 0
    left = size
    while left:
        piece = piece_c[: min(left, len(piece_c))]
        data += comp.compress(piece)
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    data += comp.flush()
    path = d / "hostile-1.0-py3-none-any.whl"
    d.mkdir(parents=True, exist_ok=True)
    raw_zip(path, [("hostile/big.bin", bytes(data), 8, crc, size)])
    return replace(_inspect(path, ["wheel.missing"]), large=True)


def c_bzip2_bomb_across_members(d: Path) -> Case:
    size = 60 * 1024**2  # each under the per-member ratio floor
    plain = b"\0" * size
    data = bz2.compress(plain, 9)
    crc = zlib.crc32(plain)
    entries = [(f"hostile/m{i}.bin", data, 12, crc, size) for i in range(140)]
    d.mkdir(parents=True, exist_ok=True)
    path = raw_zip(d / "hostile-1.0-py3-none-any.whl", entries)
    return _inspect(path, ["archive.bomb"])


def c_encrypted_member(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b"x = 1\n"})
    data = bytearray(w.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i != -1:
            data[i + off] |= 0x01
            i = data.find(sig, i + 4)
    w.write_bytes(bytes(data))
    return _inspect(w, ["archive.corrupt"])


def c_hostile_names(d: Path) -> Case:
    members = {
        "hostile/\x1b[2J\x1b]0;pwn\x07.py": b"",
        "hostile/::error file=x::pwned.py": b"",
        "hostile/\u202eyp.txt": b"",
    }
    w = wheel(d, members)
    return replace(_inspect(w, [], (0, 1)), argv=("inspect", str(w)))


def c_output_dev_null(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b""})
    return Case(name="output-dev-null", argv=("inspect", str(w), "-o", "/dev/null"),
                exit_codes=(0,))  # fmt: skip


def c_output_directory(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b""})
    return Case(name="output-directory", argv=("inspect", str(w), "-o", str(d)),
                exit_codes=(2,))  # fmt: skip


def c_stdout_full(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b""})
    return Case(name="stdout-dev-full", argv=("inspect", str(w), "--format", "json"),
                exit_codes=(3,), stdout="/dev/full")  # fmt: skip


def c_stdout_closed(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b""})
    return Case(name="stdout-closed", argv=("inspect", str(w), "--format", "json"),
                exit_codes=(3,), stdout=">&-")  # fmt: skip


def c_path_too_long(d: Path) -> Case:
    return Case(name="path-too-long", argv=("inspect", str(d / ("x" * 5000))), exit_codes=(2,))


def c_report_nested(d: Path) -> Case:
    r = d / "report"
    r.mkdir(parents=True, exist_ok=True)
    (r / "report.json").write_text("[" * 500_000 + "]" * 500_000)
    return Case(name="report-nested", argv=("promote", str(r), "--to", "s3://bucket-x/p",
                "--dry-run"), exit_codes=(1,))  # fmt: skip


def c_promote_fifo(d: Path) -> Case:
    import json
    import os

    dist = d / "dist"
    w = wheel(dist, {"hostile/__init__.py": b""})
    os.mkfifo(dist / "zfifo-1.0-py3-none-any.whl")
    (dist / "zzero-1.0-py3-none-any.whl").symlink_to("/dev/zero")
    r = d / "report"
    r.mkdir()
    digest = hashlib.sha256(w.read_bytes()).hexdigest()
    doc = {
        "schema": "harness-report/1", "harness": {"version": "0"},
        "created": "2025-01-01T00:00:00+00:00", "config": {},
        "inspect": {"schema": "harness-inspect/1", "wheels": [
            {"filename": w.name, "sha256": digest, "tags": ["py3-none-any"], "path": str(w),
             "findings": []}]},
        "runs": [{"env": "host", "python": "3.11", "wheel": {"filename": w.name,
                  "sha256": digest}, "status": "passed", "duration_s": 1, "steps": []}],
        "verdict": "pass",
    }  # fmt: skip
    (r / "report.json").write_text(json.dumps(doc))
    return Case(name="promote-fifo-devzero", argv=("promote", str(r), "--dist", str(dist),
                "--to", "s3://bucket-x/p", "--dry-run"), exit_codes=(1,))  # fmt: skip


def c_timeout_zero(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b""})
    return Case(name="timeout-zero", argv=("verify", str(w), "--timeout", "0", "--report-dir",
                str(d / "r")), exit_codes=(2,))  # fmt: skip


def c_report_dir_file(d: Path) -> Case:
    w = wheel(d, {"hostile/__init__.py": b""})
    blocker = d / "blocker"
    blocker.write_text("x")
    return Case(name="report-dir-is-a-file", argv=("verify", str(w), "--report-dir",
                str(blocker)), exit_codes=(2,))  # fmt: skip


def c_cache_dir_file(d: Path) -> Case:
    blocker = d / "cache-file"
    d.mkdir(parents=True, exist_ok=True)
    blocker.write_text("x")
    return Case(
        name="cache-dir-is-a-file",
        argv=("envs", "list", "--matrix", "host"),
        exit_codes=(2,),
        env={"HARNESS_CACHE_DIR": str(blocker)},
    )


CASES: dict[str, Callable[[Path], Case]] = {
    fn.__name__.removeprefix("c_").replace("_", "-"): fn
    for fn in (
        c_elf_needed_200k, c_elf_verneed_cycle, c_macho_2m_commands, c_glibc_small,
        c_glibc_after_big_member, c_rst_10mb, c_markdown_nested_quotes, c_markdown_wide_table,
        c_record_1m_absent, c_record_other_algorithms, c_member_2gib,
        c_bzip2_bomb_across_members, c_encrypted_member, c_hostile_names, c_output_dev_null,
        c_output_directory, c_stdout_full, c_stdout_closed, c_path_too_long, c_report_nested,
        c_promote_fifo, c_timeout_zero, c_report_dir_file, c_cache_dir_file,
    )
}  # fmt: skip


def build(name: str, directory: Path) -> Case:
    return CASES[name](directory)
