"""cpu.isa: the ISA extensions a binary's code uses, against the CPU baseline its tag promises.

A ``manylinux_*_x86_64`` wheel promises the x86-64 baseline (x86-64-v1: SSE2), ``i686``
promises a P6 (no SSE), ``aarch64`` promises ARMv8.0. A binary built with ``-march=native``,
``-mavx2``, a v2/v3 toolchain default or ``-march=armv8.1-a`` dies with SIGILL on the CPUs
the tag still promises. The executable sections are disassembled with capstone (details
off: the mnemonic and operand text classify an instruction) and each instruction beyond the
baseline is attributed to the function (ELF symbol) that holds it. Mach-O __text is scanned
(clang keeps its data out of it). PE files are read by function, not by section
(:func:`pe_code`): x64/arm64 functions from the exception directory, only the instructions
reached from each function's entry (MSVC keeps arm64 jump tables and literal pools inside
functions, which a sweep reads as SVE), without the flag-testing helpers of outline atomics
(:func:`_dispatch_helper`) and the x64 functions that read a flag the binary's cpuid routine
writes (:func:`_not_flag_dispatched`). x86 PE files have no function table: an info says
they are not scanned.

A *warning*, not an error: code reached only through runtime dispatch (ifunc resolvers,
``__builtin_cpu_supports``, cpuid, getauxval(AT_HWCAP)) is legitimate, and a static scan
cannot tell it from code that runs unconditionally. The runtime gate is an env with
``cpu = "x86-64-v1"`` (qemu user-mode with that CPU model): see matrices/README.md.

Cost: every executable byte is decoded, up to :data:`MAX_CODE_BYTES` per binary (beyond
that an ``info`` finding says where it stopped). x86-64 runs capstone's C decoder over a
whole region and reads the results as one buffer, so only instructions whose id can be
beyond v1 cost Python work; aarch64 words outside the encoding groups of the extensions
checked here never reach capstone. bench/inspect.py measures the check (``harness inspect``
with and without ``HARNESS_NO_ISA_SCAN=1``).
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from harness.checks.binfmt import elf_file, pe_file
from harness.checks.platforms import OS, Platform, parse_platform
from harness.findings import Finding, Severity
from harness.wheel import BinaryKind, Wheel

MAX_CODE_BYTES = 8 << 20  # per binary; a 30 MB libtorch-sized .text is scanned in part
MAX_FUNCTIONS_LISTED = 8
MAX_ADDRESSES = 4096  # per feature and binary, for attributing them to functions
DISABLE_ENV = "HARNESS_NO_ISA_SCAN"  # "1": skip this check (bench/inspect.py --no-isa)


class Family(StrEnum):
    X86_64 = "x86_64"
    I686 = "i686"
    AARCH64 = "aarch64"


@dataclass(frozen=True, kw_only=True)
class Feature:
    name: str  # "AVX2"
    level: int  # ordered within a family: 0 = baseline
    level_name: str  # "x86-64-v3"


# ---------------------------------------------------------------- x86


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_V1, _V2, _V3, _V4 = 0, 1, 2, 3
X86_LEVEL_NAMES = ("x86-64-v1", "x86-64-v2", "x86-64-v3", "x86-64-v4")


def _x86(name: str, level: int) -> Feature:
    return Feature(name=name, level=level, level_name=X86_LEVEL_NAMES[level])


SSE = Feature(name="SSE", level=1, level_name="pentium3")  # i686 only
SSE2 = Feature(name="SSE2", level=1, level_name="pentium4")  # i686 only
SSE3 = _x86("SSE3", _V2)
SSSE3 = _x86("SSSE3", _V2)
SSE41 = _x86("SSE4.1", _V2)
SSE42 = _x86("SSE4.2", _V2)
POPCNT = _x86("POPCNT", _V2)
CX16 = _x86("CMPXCHG16B", _V2)
AVX = _x86("AVX", _V3)
AVX2 = _x86("AVX2", _V3)
FMA = _x86("FMA", _V3)
F16C = _x86("F16C", _V3)
BMI1 = _x86("BMI1", _V3)
BMI2 = _x86("BMI2", _V3)
LZCNT = _x86("LZCNT", _V3)
MOVBE = _x86("MOVBE", _V3)
AVX512 = _x86("AVX-512", _V4)

# within one level, the feature named as "the highest" (AVX2 over AVX, SVE2 over SVE)
_RANK = {f: i for i, f in enumerate((SSE, SSE2, SSE3, SSSE3, SSE41, SSE42, POPCNT, CX16,
                                      MOVBE, LZCNT, BMI1, BMI2, F16C, AVX, FMA, AVX2,
                                      AVX512))}  # fmt: skip
_X86_MNEMONICS: dict[str, Feature] = {}
for _names, _feat in (
    ("addsubps addsubpd haddps haddpd hsubps hsubpd lddqu movddup movshdup movsldup "
     "fisttp monitor mwait", SSE3),
    ("pabsb pabsw pabsd palignr phaddw phaddd phaddsw phsubw phsubd phsubsw pmaddubsw "
     "pmulhrsw pshufb psignb psignw psignd", SSSE3),
    ("blendpd blendps blendvpd blendvps dppd dpps extractps insertps movntdqa mpsadbw "
     "packusdw pblendvb pblendw pcmpeqq pextrb pextrd pextrq phminposuw pinsrb pinsrd "
     "pinsrq pmaxsb pmaxsd pmaxud pmaxuw pminsb pminsd pminud pminuw pmovsxbw pmovsxbd "
     "pmovsxbq pmovsxwd pmovsxwq pmovsxdq pmovzxbw pmovzxbd pmovzxbq pmovzxwd pmovzxwq "
     "pmovzxdq pmuldq pmulld ptest roundpd roundps roundsd roundss", SSE41),
    ("crc32 pcmpestri pcmpestrm pcmpistri pcmpistrm pcmpgtq", SSE42),
    ("popcnt", POPCNT),
    ("cmpxchg16b", CX16),
    # not tzcnt: it is encoded as `rep bsf`, which a CPU without BMI1 runs as bsf (the same
    # result for a non-zero input): compilers emit it for ctz on every x86-64, so it never
    # raises SIGILL (and lzcnt, `rep bsr`, is kept: as bsr it gives other results)
    ("andn bextr blsi blsmsk blsr", BMI1),
    ("bzhi mulx pdep pext rorx sarx shlx shrx", BMI2),
    ("lzcnt", LZCNT),
    ("movbe", MOVBE),
    ("vcvtph2ps vcvtps2ph", F16C),
    ("vpbroadcastb vpbroadcastw vpbroadcastd vpbroadcastq vbroadcasti128 vinserti128 "
     "vextracti128 vperm2i128 vpermd vpermq vpermps vpermpd vpblendd vpmaskmovd vpmaskmovq "
     "vpsllvd vpsllvq vpsrlvd vpsrlvq vpsravd vgatherdps vgatherdpd vgatherqps vgatherqpd "
     "vpgatherdd vpgatherdq vpgatherqd vpgatherqq", AVX2),
):  # fmt: skip
    for _m in _names.split():
        _X86_MNEMONICS[_m] = _feat
# AVX1 instructions whose names look like AVX2 integer ops
_AVX1_VP = frozenset({"vptest", "vpermilps", "vpermilpd", "vperm2f128"})
# instructions starting with "v" that are not VEX-encoded (virtualization, segment checks)
_NOT_VEX = _words(
    "verr verw vmcall vmclear vmfunc vmlaunch vmptrld vmptrst vmread vmresume vmwrite "
    "vmxoff vmxon vmrun vmload vmsave vmmcall"
)
_K_PREFIXES = ("kmov", "kand", "kor", "kxor", "kxnor", "knot", "kshift", "ktest", "kadd",
               "kunpck")  # fmt: skip
_EVEX_REG = re.compile(r"zmm|\{k[1-7]\}|[xy]mm(?:1[6-9]|2\d|3[01])\b")


_LEGACY_PREFIXES = frozenset(b"\x66\x67\xf2\xf3\xf0\x2e\x36\x3e\x26\x64\x65")


def _evex(raw: bytes) -> bool:
    """Whether an instruction's encoding is EVEX (AVX-512): 0x62 after legacy prefixes. In
    32-bit mode 0x62 is also BOUND, which capstone names bound, not v*."""
    for b in raw[:15]:
        if b not in _LEGACY_PREFIXES:
            return b == 0x62
    return False


def _x86_feature(mnemonic: str, op_str: str, i686: bool, evex: bool = False) -> Feature | None:
    feat = _X86_MNEMONICS.get(mnemonic)
    if mnemonic[0] == "v" and mnemonic not in _NOT_VEX:
        # EVEX-only forms on xmm0-15/ymm0-15 without a mask (vpmullq xmm, vcvtqq2pd xmm)
        # have no zmm or k register to tell them by
        if evex or _EVEX_REG.search(op_str):
            return AVX512
        if feat is not None:
            return feat
        if mnemonic.startswith("vfm") or mnemonic.startswith("vfnm"):
            return FMA
        if mnemonic.startswith("vp") and "ymm" in op_str and mnemonic not in _AVX1_VP:
            return AVX2
        return AVX
    if feat is not None:
        return feat
    if mnemonic[0] == "k" and mnemonic.startswith(_K_PREFIXES):
        return AVX512
    if i686 and "xmm" in op_str:
        # SSE on i686 (beyond the P6 baseline); SSE2 when it works on doubles or integers
        if mnemonic.endswith(("pd", "sd")) or mnemonic.startswith("p") or "dq" in mnemonic:
            return SSE2
        return SSE
    return None


# ---------------------------------------------------------------- aarch64

ARM_LEVEL_NAMES = ("armv8.0", "armv8.1", "armv8.2", "armv8.3", "armv8.4", "armv9.0")
LSE = Feature(name="LSE atomics", level=1, level_name="armv8.1")
RDM = Feature(name="RDM", level=1, level_name="armv8.1")
DOTPROD = Feature(name="DotProd", level=2, level_name="armv8.2")
RCPC = Feature(name="RCpc (LDAPR)", level=3, level_name="armv8.3")
SVE = Feature(name="SVE", level=4, level_name="armv8.2+sve")
SVE2 = Feature(name="SVE2", level=5, level_name="armv9.0")

_LSE_PREFIXES = (
    "cas", "ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin",
    "swp", "stadd", "stclr", "steor", "stset", "stsmax", "stsmin", "stumax", "stumin",
)  # fmt: skip
_SVE_REG = re.compile(
    r"\bz(?:[12]?\d|3[01])\.[bhsdq]\b|\bp(?:1[0-5]|\d)/[zm]\b|\bz(?:[12]?\d|3[01])\b"
)
_SVE_MNEMONICS = _words(
    "ptrue ptrues pfalse whilelo whilelt whilele whilels whilehi whilehs whilegt whilege "
    "rdvl addvl addpl incb inch incw incd decb dech decw decd cntb cnth cntw cntd cntp "
    "setffr rdffr wrffr ptest pnext pfirst brka brkb"
)
_SVE2_MNEMONICS = _words(
    "whilerw whilewr histcnt histseg match nmatch bdep bext bgrp tbx eor3 bcax xar"
)


def _arm_feature(mnemonic: str, op_str: str) -> Feature | None:
    if mnemonic.startswith(_LSE_PREFIXES):  # the ARMv8.0 atomics are ldxr/stxr loops
        return LSE
    if mnemonic in ("sqrdmlah", "sqrdmlsh"):
        return SVE if _SVE_REG.search(op_str) else RDM
    if mnemonic in ("sdot", "udot", "usdot", "sudot"):
        return SVE if _SVE_REG.search(op_str) else DOTPROD
    if mnemonic.startswith("ldapr"):
        return RCPC
    if mnemonic in _SVE2_MNEMONICS and _SVE_REG.search(op_str):
        return SVE2
    if mnemonic in _SVE_MNEMONICS or ("z" in op_str and _SVE_REG.search(op_str)):
        return SVE
    return None


_NEEDS_OPERANDS = Feature(name="?", level=-1, level_name="?")
# not a feature: where the CPU is asked what it has (marks the code that sets the flags
# runtime dispatch reads; see _cpu_flags)
CPUID = Feature(name="cpuid", level=-1, level_name="x86")
_MAYBE_SVE = Feature(name="?sve", level=-1, level_name="?")
_ARM_BY_OPERANDS = frozenset({"sqrdmlah", "sqrdmlsh", "sdot", "udot", "usdot", "sudot"}) | (
    _SVE2_MNEMONICS
)


@lru_cache(maxsize=4096)
def _by_mnemonic(family: Family, mnemonic: str) -> Feature | None:
    """What the mnemonic alone decides, or _NEEDS_OPERANDS when the operands must be read."""
    if family is Family.AARCH64:
        if mnemonic.startswith(_LSE_PREFIXES):
            return LSE
        if mnemonic.startswith("ldapr"):
            return RCPC
        if mnemonic in _SVE_MNEMONICS:
            return SVE
        if mnemonic in _ARM_BY_OPERANDS:
            return _NEEDS_OPERANDS
        return _MAYBE_SVE  # SVE forms of ordinary names: "add z0.s, z1.s, z2.s"
    if mnemonic == "cpuid":
        return CPUID
    if family is Family.I686 or mnemonic[0] == "v":
        return _NEEDS_OPERANDS
    if mnemonic[0] == "k" and mnemonic.startswith(_K_PREFIXES):
        return AVX512
    return _X86_MNEMONICS.get(mnemonic)


# ---------------------------------------------------------------- code regions + symbols


@dataclass(frozen=True, kw_only=True)
class CodeImage:
    """The executable bytes of one binary (one Mach-O slice) and its function symbols."""

    family: Family
    regions: tuple[tuple[int, bytes], ...]  # (virtual address, bytes)
    # sorted (start, end, name); read only when there is something to attribute (slow)
    symbols: Callable[[], tuple[tuple[int, int, str], ...]] | None = None
    # each region is one whole function (a PE file's .pdata): an instruction counts only
    # where control flow from the function's entry reaches it (MSVC keeps arm64 jump tables
    # and literal pools inside functions) and not in a runtime-dispatch helper
    functions_only: bool = False
    # functions_only: the primary function of each chained part (start -> start), read when
    # a part has something to report (see scan: a function that reads a CPU-feature flag)
    primary: Callable[[], dict[int, int]] | None = None

    def functions(self) -> tuple[tuple[int, int, str], ...]:
        return self.symbols() if self.symbols is not None else ()


@dataclass(kw_only=True)
class IsaUse:
    feature: Feature
    count: int = 0
    addresses: list[int] = field(default_factory=list)  # the first MAX_ADDRESSES of them


@dataclass(frozen=True, kw_only=True)
class Scan:
    family: Family
    uses: tuple[IsaUse, ...]  # beyond the baseline, highest level first
    scanned: int  # bytes of code disassembled
    total: int  # bytes of code in the binary


def elf_code(data: bytes) -> CodeImage | None:
    parsed = elf_file(data)
    elf = parsed.elf
    family = {"EM_X86_64": Family.X86_64, "EM_386": Family.I686, "EM_AARCH64": Family.AARCH64}
    fam = family.get(elf["e_machine"])
    if fam is None or (fam is Family.X86_64 and elf.elfclass != 64):
        return None
    regions: list[tuple[int, bytes]] = []
    for sec in parsed.sections:
        if sec["sh_flags"] & 0x4 and sec["sh_type"] == "SHT_PROGBITS" and sec["sh_size"]:
            off, size = sec["sh_offset"], sec["sh_size"]
            regions.append((sec["sh_addr"], data[off : off + size]))
    return CodeImage(family=fam, regions=tuple(regions), symbols=lambda: elf_functions(data))


def elf_functions(data: bytes) -> tuple[tuple[int, int, str], ...]:
    """Sized STT_FUNC symbols of .symtab and .dynsym, sorted by address."""
    from harness.checks.binfmt import elf_symbol_table

    functions = [
        (s.value, s.value + s.size, s.name)
        for s in elf_symbol_table(data)
        if s.type == "STT_FUNC" and s.size
    ]
    return _dedup(functions)


def macho_code(data: bytes) -> list[CodeImage]:
    """One image per thin slice (x86_64 / arm64) of a Mach-O file; symbols are not read."""
    import struct

    out: list[CodeImage] = []
    magic = struct.unpack_from(">I", data, 0)[0]
    slices: list[bytes] = []
    if magic in (0xCAFEBABE, 0xCAFEBABF):
        n = struct.unpack_from(">I", data, 4)[0]
        wide = magic == 0xCAFEBABF
        step = 32 if wide else 20
        for i in range(min(n, 16)):
            pos = 8 + i * step
            if wide:
                _, _, off, size = struct.unpack_from(">iiQQ", data, pos)
            else:
                _, _, off, size = struct.unpack_from(">iiII", data, pos)
            slices.append(data[off : off + size])
    else:
        slices.append(data)
    for thin in slices:
        if len(thin) < 32 or struct.unpack_from("<I", thin, 0)[0] != 0xFEEDFACF:
            continue
        cputype, _, _, ncmds = struct.unpack_from("<iiII", thin, 4)
        fam = {0x01000007: Family.X86_64, 0x0100000C: Family.AARCH64}.get(cputype)
        if fam is None:
            continue
        regions: list[tuple[int, bytes]] = []
        pos = 32
        for _ in range(min(ncmds, 4096)):
            cmd, size = struct.unpack_from("<II", thin, pos)
            if cmd == 0x19:  # LC_SEGMENT_64
                nsects = struct.unpack_from("<I", thin, pos + 64)[0]
                for j in range(min(nsects, 256)):
                    s = pos + 72 + j * 80
                    addr, ssize, soff = struct.unpack_from("<QQI", thin, s + 32)
                    flags = struct.unpack_from("<I", thin, s + 64)[0]
                    if flags & 0x80000400 and ssize:  # S_ATTR_PURE/SOME_INSTRUCTIONS
                        regions.append((addr, thin[soff : soff + ssize]))
            if size < 8:
                break
            pos += size
        out.append(CodeImage(family=fam, regions=tuple(regions)))
    return out


# ---------------------------------------------------------------- PE: functions, not sections

MAX_PE_FUNCTIONS = 1 << 20  # RUNTIME_FUNCTION entries read per binary
# Microsoft's C/C++ runtime DLLs, as delvewheel vendors them (name-<hash>.dll): they pick
# their code by the CPU at run time (__isa_available on x64, the LSE flag on arm64) and are
# Microsoft's files, the same every Windows Python loads; not scanned
MS_RUNTIME_DLL = re.compile(
    r"^(?:vcruntime140(?:_1|_threads)?|msvcp140(?:_1|_2|_atomic_wait|_codecvt_ids)?|"
    r"concrt140|vcomp140|vccorlib140)(?:-[0-9a-f]{8,})?\.dll$",
    re.IGNORECASE,
)
_PE_FAMILY = {0x8664: Family.X86_64, 0xAA64: Family.AARCH64}
_SCN_EXECUTE = 0x20000000  # IMAGE_SCN_MEM_EXECUTE


@dataclass(frozen=True, kw_only=True)
class PECode:
    """What the scan can read of a PE file: its functions (x64, arm64), or why not."""

    image: CodeImage | None
    family: Family | None = None  # of the code not scanned
    uncovered: str | None = None  # why the code is not scanned (x86: no function table)
    code_bytes: int = 0  # bytes of executable sections


def pe_code(data: bytes) -> PECode:
    """The functions of an x64 or arm64 PE file, from its exception directory (.pdata).

    A linear sweep of ``.text`` would read data as code (MSVC keeps switch tables there)
    and cannot name what it finds (a .pyd exports one symbol, PyInit_*). Every x64 or
    arm64 function that calls or saves a register has a RUNTIME_FUNCTION entry, whose
    range is disassembled on its own; leaf functions without one are not scanned. Names:
    the export inside the range, else the function's RVA. x86 PE files have no such table
    (their unwinding is frame-based), so their code is not scanned (``uncovered``).
    """
    import struct

    import pefile

    pe = pe_file(data)
    machine = int(pe.FILE_HEADER.Machine)
    executable = [s for s in pe.sections if s.Characteristics & _SCN_EXECUTE]
    code_bytes = sum(int(s.Misc_VirtualSize) for s in executable)
    fam = _PE_FAMILY.get(machine)
    if fam is None:
        uncovered = {
            0x14C: (
                Family.I686,
                "x86 (win32) PE files have no function table (.pdata) to bound functions "
                "with, and a linear sweep of .text cannot tell code from data or name it",
            ),
            0xA641: (Family.AARCH64, "arm64ec PE files mix arm64 and x64 code"),
        }.get(machine)
        if uncovered is None:
            return PECode(image=None)  # another arch: platform.arch reports it
        return PECode(
            image=None, family=uncovered[0], uncovered=uncovered[1], code_bytes=code_bytes
        )
    exception = pe.OPTIONAL_HEADER.DATA_DIRECTORY[3]  # IMAGE_DIRECTORY_ENTRY_EXCEPTION
    if not exception.VirtualAddress or not exception.Size:
        return PECode(
            image=None, family=fam, code_bytes=code_bytes,
            uncovered="no exception directory (.pdata) to bound its functions with",
        )  # fmt: skip
    entry = 12 if fam is Family.X86_64 else 8
    size = min(int(exception.Size), MAX_PE_FUNCTIONS * entry)
    table = pe.get_data(exception.VirtualAddress, size - size % entry)
    table = table[: len(table) - len(table) % entry]
    sections = [
        (int(s.VirtualAddress), int(s.VirtualAddress) + int(s.Misc_VirtualSize), s.get_data())
        for s in executable
    ]
    ranges: list[tuple[int, int]] = []
    unwind_of: dict[int, int] = {}
    if fam is Family.X86_64:
        for begin, end, unwind in struct.iter_unpack("<III", table):
            ranges.append((begin, end))
            unwind_of.setdefault(begin, unwind)
    else:
        for begin, unwind in struct.iter_unpack("<II", table):
            flag = unwind & 3
            if flag == 0:  # .xdata record: FunctionLength in bits 0-17 of its first word
                try:
                    head = pe.get_data(unwind, 4)
                except pefile.PEFormatError:
                    continue  # outside the file: this entry bounds nothing
                if len(head) < 4:
                    continue
                length = (int.from_bytes(head, "little") & 0x3FFFF) * 4
            elif flag in (1, 2):  # packed unwind data: FunctionLength in bits 2-12
                length = ((unwind >> 2) & 0x7FF) * 4
            else:
                continue
            ranges.append((begin, begin + length))
    regions: list[tuple[int, bytes]] = []
    end_so_far = 0
    for begin, end in sorted(set(ranges)):
        if begin < end_so_far or end <= begin:
            continue  # inside a function already read, or empty
        for lo, hi, raw in sections:
            if lo <= begin and end <= hi:
                regions.append((begin, raw[begin - lo : end - lo]))
                end_so_far = end
                break
    image = CodeImage(
        family=fam,
        regions=tuple(regions),
        symbols=lambda: _pe_functions(pe, regions),
        functions_only=True,
        primary=lambda: _pe_primary(pe, unwind_of),
    )
    return PECode(image=image, code_bytes=code_bytes)


def _pe_primary(pe: Any, unwind_of: dict[int, int]) -> dict[int, int]:
    """x64: the function each chained part belongs to (start -> its primary's start). MSVC
    moves blocks of a function (a vectorized loop, a cold path) into parts with their own
    RUNTIME_FUNCTION, whose UNWIND_INFO has UNW_FLAG_CHAININFO and ends with the entry of
    the function they continue."""
    import pefile

    parent: dict[int, int] = {}
    for begin, unwind in unwind_of.items():
        try:
            head = pe.get_data(unwind & ~1, 4)
            if len(head) < 4 or not (head[0] >> 3) & 0x4:  # UNW_FLAG_CHAININFO
                continue
            at = (unwind & ~1) + 4 + 2 * ((head[2] + 1) & ~1)  # after the unwind codes
            chained = pe.get_data(at, 12)
        except pefile.PEFormatError:
            continue  # an RVA outside the file: no part of anything
        if len(chained) == 12:
            parent[begin] = int.from_bytes(chained[:4], "little")
    primary = {}
    for begin in parent:
        root, hops = begin, 0
        while root in parent and hops < 64:  # a chain of parts; bounded against cycles
            root, hops = parent[root], hops + 1
        primary[begin] = root
    return primary


def _pe_functions(pe: Any, regions: list[tuple[int, bytes]]) -> tuple[tuple[int, int, str], ...]:
    """(start, end, name) of each function: the export at or inside it, else its RVA."""
    import pefile

    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
    exports = sorted(
        (int(e.address), e.name.decode("ascii", "replace") if e.name else f"#{e.ordinal}")
        for e in getattr(getattr(pe, "DIRECTORY_ENTRY_EXPORT", None), "symbols", [])
    )
    starts = [a for a, _ in exports]
    functions = []
    for begin, code in regions:
        end = begin + len(code)
        i = bisect.bisect_left(starts, begin)
        inside = [name for a, name in exports[i:] if a < end] if i < len(exports) else []
        functions.append((begin, end, inside[0] if inside else f"function at RVA {begin:#x}"))
    return tuple(functions)


def _dedup(functions: list[tuple[int, int, str]]) -> tuple[tuple[int, int, str], ...]:
    seen: dict[int, tuple[int, int, str]] = {}
    for f in sorted(functions):
        seen.setdefault(f[0], f)
    return tuple(seen.values())


# ---------------------------------------------------------------- the scan


@lru_cache(maxsize=4)
def _disassembler(family: Family) -> object:
    import capstone

    if family is Family.AARCH64:
        md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    elif family is Family.I686:
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    else:
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = False
    md.skipdata = True  # data in .text (jump tables, literal pools): step over, go on
    return md


def scan(image: CodeImage, *, max_bytes: int = MAX_CODE_BYTES) -> Scan:
    """Every instruction beyond the family's baseline, by feature, with its addresses."""
    family = image.family
    uses: dict[str, IsaUse] = {}
    scanned = total = 0
    chunks: list[tuple[int, bytes]] = []
    for addr, code in image.regions:
        total += len(code)
        room = max_bytes - scanned
        if room <= 0:
            continue
        chunks.append((addr, code[:room]))
        scanned += len(chunks[-1][1])
    per_region: list[list[tuple[int, Feature]]]
    if family is Family.X86_64:
        per_region = _scan_x86_64(chunks)
    elif family is Family.AARCH64:
        per_region = [list(_scan_arm(chunk, addr)) for addr, chunk in chunks]
    else:
        per_region = [list(_scan_all(family, chunk, addr)) for addr, chunk in chunks]
    kept: list[list[tuple[int, Feature]]] = []
    asks_cpu: list[tuple[int, bytes]] = []  # the regions executing cpuid
    for (addr, chunk), found in zip(chunks, per_region, strict=True):
        if any(feat is CPUID for _, feat in found):
            asks_cpu.append((addr, chunk))
            found = [(a, feat) for a, feat in found if feat is not CPUID]
        if image.functions_only:
            found = _in_function(family, chunk, addr, found)
        kept.append(found)
    if image.functions_only and family is Family.X86_64 and asks_cpu and any(kept):
        kept = _not_flag_dispatched(image, chunks, kept, _cpu_flags(asks_cpu))
    for found in kept:
        for address, feat in found:
            use = uses.get(feat.name)
            if use is None:
                use = uses[feat.name] = IsaUse(feature=feat)
            use.count += 1
            if len(use.addresses) < MAX_ADDRESSES:
                use.addresses.append(address)
    ordered = sorted(uses.values(), key=lambda u: (-u.feature.level, -_RANK.get(u.feature, 0)))
    return Scan(family=image.family, uses=tuple(ordered), scanned=scanned, total=total)


# ---------------------------------------------------------------- control flow in a function

MAX_HELPER_BYTES = 256  # a runtime-dispatch helper is small (MSVC's, libgcc's: < 64 bytes)


def _in_function(
    family: Family, code: bytes, addr: int, found: list[tuple[int, Feature]]
) -> list[tuple[int, Feature]]:
    """The hits of one function that are code it runs: reached from its entry, and not in a
    runtime-dispatch helper (see _dispatch_helper)."""
    if not found or _dispatch_helper(family, code, addr):
        return []
    if family is Family.AARCH64:
        reached = _arm_reached(code, addr)
    else:
        reached = _x86_reached(family, code, addr)
    return [(a, f) for a, f in found if a in reached]


def _sext(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _arm_flow(w: int, pc: int) -> tuple[bool, int | None]:
    """(does execution go on to pc + 4, the branch target if any) of one A64 instruction."""
    top = w & 0xFC000000
    if top == 0x14000000:  # B
        return False, pc + 4 * _sext(w & 0x3FFFFFF, 26)
    if top == 0x94000000:  # BL: the call returns
        return True, None
    if w & 0xFF000000 == 0x54000000:  # B.cond, BC.cond; AL/NV are unconditional
        return (w & 0xE) != 0xE, pc + 4 * _sext((w >> 5) & 0x7FFFF, 19)
    if w & 0x7E000000 == 0x34000000:  # CBZ, CBNZ
        return True, pc + 4 * _sext((w >> 5) & 0x7FFFF, 19)
    if w & 0x7E000000 == 0x36000000:  # TBZ, TBNZ
        return True, pc + 4 * _sext((w >> 5) & 0x3FFF, 14)
    if w & 0xFE000000 == 0xD6000000:  # BR, RET, ERET (stop); BLR, BLRAA/AB (calls)
        return ((w >> 21) & 0xF) in (1, 9), None
    if w & 0xFF000000 == 0xD4000000:  # BRK, HLT stop; SVC, HVC, SMC go on
        return (w >> 21) & 0x7 == 0, None
    if w & 0xFFFF0000 == 0:  # UDF (and what a zero-filled table decodes as)
        return False, None
    return True, None


def _arm_reached(code: bytes, addr: int) -> set[int]:
    """Addresses control flow reaches from the function's entry, within the function
    (an indirect branch, a jump table's, ends a path: code only it reaches is not counted)."""
    end = len(code) - len(code) % 4
    words = memoryview(code[:end]).cast("I")
    reached: set[int] = set()
    todo = [0]
    while todo:
        off = todo.pop()
        while 0 <= off < end and off not in reached:
            reached.add(off)
            goes_on, target = _arm_flow(words[off // 4], addr + off)
            if target is not None and addr <= target < addr + end and target % 4 == 0:
                todo.append(target - addr)
            if not goes_on:
                break
            off += 4
    return {addr + off for off in reached}


_RIP = re.compile(r"\[rip ([+-]) (0x[0-9a-f]+|\d+)\]")
_WRITES = frozenset({"mov", "or", "and", "xor", "add", "sub", "bts", "btr", "inc", "dec"})


def _rip_refs(code: bytes, addr: int, *, written: bool = False) -> set[int]:
    """Addresses of the globals a function refers to rip-relatively (``written``: only
    those it stores to, as the destination of mov/or/...)."""
    refs = set()
    for at, size, mnemonic, op_str in _disassembler(Family.X86_64).disasm_lite(code, addr):  # type: ignore[attr-defined]
        m = _RIP.search(op_str)
        if m is None:
            continue
        if written and not (mnemonic in _WRITES and op_str.split("[", 1)[0].endswith("ptr ")):
            continue
        disp = int(m.group(2), 0)
        refs.add(at + size + (disp if m.group(1) == "+" else -disp))
    return refs


def _not_flag_dispatched(
    image: CodeImage,
    chunks: list[tuple[int, bytes]],
    kept: list[list[tuple[int, Feature]]],
    flags: set[int],
) -> list[list[tuple[int, Feature]]]:
    """The hits left once functions that read a CPU-feature flag are set aside: MSVC's
    vectorizer emits loops for SSE4.2/AVX2/AVX-512 behind `cmp __isa_available, N` in the
    function itself (or in the primary function of the chained part holding the loop)."""
    if not flags:
        return kept
    primary = image.primary() if image.primary is not None else {}
    refs: dict[int, set[int]] = {}  # primary function -> the globals it and its parts read
    with_hits = zip(chunks, kept, strict=True)
    needed = {primary.get(addr, addr) for (addr, _), found in with_hits if found}
    for addr, chunk in chunks:
        root = primary.get(addr, addr)
        if root in needed:
            refs.setdefault(root, set()).update(_rip_refs(chunk, addr))
    return [
        [] if found and refs.get(primary.get(addr, addr), set()) & flags else found
        for (addr, _), found in zip(chunks, kept, strict=True)
    ]


def _cpu_flags(asks_cpu: list[tuple[int, bytes]]) -> set[int]:
    """The globals written by the functions that execute cpuid: the feature flags that
    runtime dispatch reads (MSVC's __isa_available_init writes __isa_available and
    __favor; libgcc's __cpu_indicator_init __cpu_model)."""
    flags: set[int] = set()
    for addr, code in asks_cpu:
        flags |= _rip_refs(code, addr, written=True)
    return flags


_X86_STOP = frozenset({"ret", "retf", "iret", "iretd", "iretq", "ud2", "hlt", "int3", "int"})


def _x86_reached(family: Family, code: bytes, addr: int) -> set[int]:
    """Instruction addresses control flow reaches from the function's entry (one
    instruction decoded at a time; only functions with something to report get here)."""
    md = _disassembler(family)
    end = addr + len(code)
    reached: set[int] = set()
    todo = [addr]
    while todo:
        pc = todo.pop()
        while addr <= pc < end and pc not in reached:
            insn = next(iter(md.disasm_lite(code[pc - addr : pc - addr + 16], pc, 1)), None)  # type: ignore[attr-defined]
            if insn is None or insn[2] == ".byte":
                break  # not an instruction: the path ends (capstone's skipdata)
            _a, size, mnemonic, op_str = insn
            reached.add(pc)
            if mnemonic in _X86_STOP:
                break
            if mnemonic[0] == "j" or mnemonic.startswith("loop"):
                if op_str.startswith("0x"):
                    target = int(op_str, 16)
                    if addr <= target < end:
                        todo.append(target)
                if mnemonic == "jmp":
                    break
            pc += size
    return reached


def _dispatch_helper(family: Family, code: bytes, addr: int) -> bool:
    """A small function that opens by loading a flag from memory and branching on it: the
    outline atomics of MSVC (/forceInterlockedFunctions, the ARM64 default since VS 2022
    17.14: `adrp x16; ldr w16, [x16, #flag]; tbz w16, #0, loop; casal ...; ret`, the
    ARMv8.0 ldaxr/stlxr loop on the other path) and of libgcc (`ldrb w16, [x16, #flag];
    cbz w16`); on x64, a cmp/test of memory at [rip + flag] and a jcc. Register moves may
    come first (the argument setup: mvn, uxtb). What such a helper runs beyond the baseline
    is runtime-dispatched by construction."""
    if len(code) > MAX_HELPER_BYTES:
        return False
    md = _disassembler(family)
    loaded = False
    for _a, _s, mnemonic, op_str in md.disasm_lite(code, addr, 8):  # type: ignore[attr-defined]
        if _classify(family, mnemonic, op_str) is not None:
            return False  # a feature used before any test
        if family is Family.AARCH64:
            if mnemonic.startswith("ld") and "[x" in op_str:
                loaded = True
            elif mnemonic in ("tbz", "tbnz", "cbz", "cbnz") or mnemonic.startswith("b."):
                return loaded
            elif mnemonic.startswith(("b", "st", "ret")) or "[" in op_str:
                return False  # another branch, a store, another memory access
        elif mnemonic in ("cmp", "test", "bt") and "[rip + " in op_str:
            loaded = True
        elif mnemonic.startswith("j"):
            return loaded and mnemonic != "jmp"
        elif mnemonic in ("call", "ret") or "[" in op_str:
            return False
    return False


def _classify(family: Family, mnemonic: str, op_str: str, raw: bytes = b"") -> Feature | None:
    """The feature an instruction needs (None: the baseline); ``raw``: its bytes (x86)."""
    feat = _by_mnemonic(family, mnemonic)
    if feat is _MAYBE_SVE:
        return SVE if "z" in op_str and _SVE_REG.search(op_str) else None
    if feat is _NEEDS_OPERANDS:
        if family is Family.AARCH64:
            return _arm_feature(mnemonic, op_str)
        return _x86_feature(mnemonic, op_str, family is Family.I686, _evex(raw))
    return feat


def _scan_all(family: Family, code: bytes, addr: int) -> Iterator[tuple[int, Feature]]:
    """The plain way: every instruction through capstone's Python API (i686)."""
    md = _disassembler(family)
    for address, size, mnemonic, op_str in md.disasm_lite(code, addr):  # type: ignore[attr-defined]
        raw = code[address - addr : address - addr + size] if mnemonic[0] == "v" else b""
        feat = _classify(family, mnemonic, op_str, raw)
        if feat is not None:
            yield address, feat


# aarch64: every instruction is one little-endian 32-bit word, and each extension this check
# knows lives in a few encoding groups (Arm ARM, A64 top-level and load/store tables). A
# word outside them cannot be one: only the words inside (a superset) go to capstone.
def _arm_candidate(w: int) -> bool:
    return (
        (w >> 25) & 0xF == 0b0010  # the SVE encoding space
        or ((w >> 23) & 0x7E == 0b0010000 and (w >> 21) & 1 == 1)  # CAS, CASP (and LDXP/STXP)
        or w & 0x3F200C00 == 0x38200000  # atomic memory ops: LDADD.., SWP, ST<op>, LDAPR
        or w & 0x9F208400 in (0x0E008400, 0x1E008400)  # SIMD three-same extra: RDM, DOT
        or (  # SIMD by element (RDM, DOT among them)
            w & 0x9F000400 in (0x0F000000, 0x1F000000)
            and (w >> 12) & 0xF in (0b1101, 0b1110, 0b1111)
        )
    )


def _byte_class(pred: Callable[[int], bool]) -> bytes:
    return b"[" + b"".join(re.escape(bytes([b])) for b in range(256) if pred(b)) + b"]"


_ANY = b"[\x00-\xff]"
# _arm_candidate as a regex over the little-endian bytes b0 b1 b2 b3 of each word (every
# condition above is a conjunction of per-byte conditions): the regex engine skips the
# words that are not candidates, ~4x faster than testing each word in Python.
_ARM_WORDS = re.compile(
    b"(?:" + _ANY * 4 + b")*?("  # aligned words, as few as possible, then a candidate
    + b"|".join(
        (
            _ANY * 3 + _byte_class(lambda b: b & 0x1E == 0x04),  # SVE
            _ANY * 2 + _byte_class(lambda b: b & 0x20 != 0)  # CAS, CASP
            + _byte_class(lambda b: b & 0x3F == 0x08),
            _ANY + _byte_class(lambda b: b & 0x0C == 0)  # atomic memory ops
            + _byte_class(lambda b: b & 0x20 != 0) + _byte_class(lambda b: b & 0x3F == 0x38),
            _ANY + _byte_class(lambda b: b & 0x84 == 0x84)  # SIMD three-same extra
            + _byte_class(lambda b: b & 0x20 == 0)
            + _byte_class(lambda b: b & 0x9F in (0x0E, 0x1E)),
            _ANY + _byte_class(lambda b: b & 0x04 == 0 and b >> 4 in (13, 14, 15))  # by element
            + _ANY + _byte_class(lambda b: b & 0x9F in (0x0F, 0x1F)),
        )
    )
    + b")"
)  # fmt: skip


_ARM_CHUNK = 1 << 14  # bytes per match: the lazy repeat's backtracking stack grows per word


def arm_candidate_offsets(code: bytes) -> Iterator[int]:
    """Offsets of the words of ``code`` for which _arm_candidate holds, in order."""
    end = len(code) - len(code) % 4
    pos = 0
    while pos < end:
        stop = min(pos + _ARM_CHUNK, end)
        m = _ARM_WORDS.match(code, pos, stop)
        if m is None:
            pos = stop
            continue
        yield m.start(1)
        pos = m.end()


def _scan_arm(code: bytes, addr: int) -> Iterator[tuple[int, Feature]]:
    md = _disassembler(Family.AARCH64)
    for off in arm_candidate_offsets(code):
        at = addr + off
        for _a, _s, mnemonic, op_str in md.disasm_lite(code[off : off + 4], at, 1):  # type: ignore[attr-defined]
            feat = _classify(Family.AARCH64, mnemonic, op_str)
            if feat is not None:
                yield at, feat


@lru_cache(maxsize=1)
def _x86_candidate_ids() -> frozenset[int]:
    """capstone instruction ids whose mnemonic can be beyond x86-64-v1 (all VEX/EVEX ones)."""
    from capstone import x86_const

    ids = set()
    for name in dir(x86_const):
        wanted = name.startswith("X86_INS_") and name != "X86_INS_ENDING"
        if wanted and _by_mnemonic(Family.X86_64, name[8:].lower()) is not None:
            ids.add(getattr(x86_const, name))
    return frozenset(ids)


_X86_BATCH = 1 << 14  # instructions per cs_disasm call (a 4 MB buffer)


def _scan_x86_64(regions: list[tuple[int, bytes]]) -> list[list[tuple[int, Feature]]]:
    """capstone's C decoder over each region, its output read as one buffer: only
    instructions whose id is a candidate cost Python work (the per-instruction API is ~2x
    slower). The regions share one C buffer and one setup: a PE file has thousands."""
    import ctypes

    from capstone import _cs, _cs_insn

    md = _disassembler(Family.X86_64)
    handle = md.csh  # type: ignore[attr-defined]
    size = ctypes.sizeof(_cs_insn)
    o_addr, o_size = _cs_insn.address.offset, _cs_insn.size.offset
    o_mn, o_op = _cs_insn.mnemonic.offset, _cs_insn.op_str.offset
    o_bytes = _cs_insn.bytes.offset
    candidates = _x86_candidate_ids()
    joined = b"".join(code for _, code in regions)
    buf = (ctypes.c_char * max(len(joined), 1)).from_buffer_copy(joined or b"\0")
    char_p = ctypes.POINTER(ctypes.c_char)
    out: list[list[tuple[int, Feature]]] = []
    region_start = ctypes.addressof(buf)
    for addr, code in regions:
        found: list[tuple[int, Feature]] = []
        out.append(found)
        pos = 0
        while pos < len(code):
            insns = ctypes.POINTER(_cs_insn)()
            n = _cs.cs_disasm(
                handle, ctypes.cast(region_start + pos, char_p), len(code) - pos, addr + pos,
                _X86_BATCH, ctypes.byref(insns),
            )  # fmt: skip
            if n <= 0:
                break
            try:
                raw = ctypes.string_at(insns, n * size)
            finally:
                _cs.cs_free(insns, n)
            ids = memoryview(raw).cast("I")[:: size // 4]
            if not candidates.isdisjoint(ids):
                for i, ins_id in enumerate(ids):
                    if ins_id not in candidates:
                        continue
                    base = i * size
                    at = int.from_bytes(raw[base + o_addr : base + o_addr + 8], "little")
                    mnemonic = raw[base + o_mn : base + o_mn + 32].split(b"\0", 1)[0].decode()
                    op_str = raw[base + o_op : base + o_op + 160].split(b"\0", 1)[0].decode()
                    raw_insn = raw[base + o_bytes : base + o_bytes + 16]
                    feat = _classify(Family.X86_64, mnemonic, op_str, raw_insn)
                    if feat is not None:
                        found.append((at, feat))
            last = (n - 1) * size
            last_addr = int.from_bytes(raw[last + o_addr : last + o_addr + 8], "little")
            last_size = int.from_bytes(raw[last + o_size : last + o_size + 2], "little")
            pos = last_addr + last_size - addr
        region_start += len(code)
    return out


def function_at(functions: tuple[tuple[int, int, str], ...], starts: list[int], a: int) -> str:
    """The symbol holding address ``a``, or the 4 KiB page for code without one (stripped)."""
    i = bisect.bisect_right(starts, a) - 1
    if i >= 0 and functions[i][0] <= a < functions[i][1]:
        return functions[i][2]
    return f"<no symbol, page {a & ~0xFFF:#x}>"


def describe_instruction(family: Family, code: bytes, address: int = 0) -> str:
    """The first instruction of ``code`` as text ("vpaddd ymm0, ymm0, ymm1"), or ""."""
    md = _disassembler(family)
    for _addr, _size, mnemonic, op_str in md.disasm_lite(code, address, 1):  # type: ignore[attr-defined]
        return f"{mnemonic} {op_str}".strip()
    return ""


# ---------------------------------------------------------------- the check


def baseline_of(platform: Platform) -> tuple[Family, int, str] | None:
    """(family, highest allowed level, what the tag promises) for a platform tag."""
    arch = platform.arch
    if platform.os in (OS.MANYLINUX, OS.MUSLLINUX, OS.LINUX):
        if arch == "x86_64":
            return Family.X86_64, _V1, "x86-64-v1"
        if arch == "i686":
            return Family.I686, 0, "i686"
        if arch == "aarch64":
            return Family.AARCH64, 0, "armv8.0"
        return None
    if platform.os is OS.WINDOWS:
        return {
            "x86_64": (Family.X86_64, _V1, "x86-64-v1"),
            "x86": (Family.I686, 1, "SSE2"),  # win32: every Windows since 8 requires SSE2
            "arm64": (Family.AARCH64, 0, "armv8.0"),
        }.get(arch)
    if platform.os is OS.MACOS:
        # every Intel Mac has SSSE3 (Core 2, x86-64-v1 + SSE3/SSSE3: reported from SSE4.1 on
        # only when ... kept simple: below v2 only), every Apple silicon Mac is ARMv8.4+
        if arch in ("x86_64", "universal2", "intel"):
            return Family.X86_64, _V1, "x86-64-v1 (+SSSE3)"
        if arch in ("arm64", "arm64e"):
            return Family.AARCH64, 3, "armv8.4 (Apple M1)"
    return None


_MACOS_X86_OK = frozenset({"SSE3", "SSSE3"})


def check(wheel: Wheel) -> Iterator[Finding]:
    if os.environ.get(DISABLE_ENV) == "1":
        return
    baselines: dict[Family, tuple[int, str, str]] = {}  # family -> (level, promise, tag)
    for tag in sorted(wheel.platforms):
        plat = parse_platform(tag)
        base = baseline_of(plat)
        if base is None:
            continue
        fam, level, promise = base
        prev = baselines.get(fam)
        if prev is None or level < prev[0]:
            baselines[fam] = (level, promise, plat.tag)
        if plat.os is OS.MACOS and plat.arch == "universal2":
            baselines.setdefault(Family.AARCH64, (3, "armv8.4 (Apple M1)", plat.tag))
    if not baselines:
        return
    macos = any(parse_platform(t).os is OS.MACOS for t in wheel.platforms)
    for member, data in wheel.binaries():
        try:
            if member.binary is BinaryKind.ELF:
                images = [i for i in [elf_code(data)] if i is not None]
            elif member.binary is BinaryKind.MACHO:
                images = macho_code(data)
            elif MS_RUNTIME_DLL.match(member.name.rsplit("/", 1)[-1]):
                continue
            else:
                pe = pe_code(data)
                if pe.uncovered is not None and pe.family in baselines:
                    yield _uncovered(member.name, pe)
                images = [pe.image] if pe.image is not None else []
        except Exception:  # noqa: BLE001, S112 - unparsable: the platform checks' finding
            continue
        for image in images:
            promised = baselines.get(image.family)
            if promised is None:
                continue  # a binary of another arch: platform.arch says so
            yield from _findings(member.name, image, promised, macos=macos)


def _findings(
    path: str, image: CodeImage, base: tuple[int, str, str], *, macos: bool
) -> Iterator[Finding]:
    level, promise, tag = base
    result = scan(image)
    beyond = [
        u
        for u in result.uses
        if u.feature.level > level and not (macos and u.feature.name in _MACOS_X86_OK)
    ]
    if beyond:
        functions = image.functions()
        starts = [f[0] for f in functions]
        by_feature: dict[str, dict[str, int]] = {}
        for u in beyond:
            counts = by_feature.setdefault(u.feature.name, {})
            for a in u.addresses:
                fn = function_at(functions, starts, a)
                counts[fn] = counts.get(fn, 0) + 1
        top = beyond[0].feature
        names = sorted({u.feature.name for u in beyond}, key=lambda n: n)
        parts = []
        for u in beyond:
            fns = sorted(by_feature[u.feature.name].items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(name[:120] for name, _ in fns[:MAX_FUNCTIONS_LISTED])
            more = len(fns) - MAX_FUNCTIONS_LISTED
            parts.append(f"{u.feature.name} in {shown}" + (f" (+{more} more)" if more > 0 else ""))
        yield Finding(
            code="cpu.isa",
            severity=Severity.WARNING,
            message=(
                f"code uses {top.name} ({top.level_name}), beyond the {promise} baseline "
                f"{tag} promises: " + "; ".join(parts) + ". Fine only if reached through "
                "runtime CPU dispatch (ifunc, cpuid, getauxval); verify in an env with "
                'cpu = "..." (matrices/README.md)'
            ),
            path=path,
            evidence={
                "arch": str(image.family),
                "highest": top.name,
                "level": top.level_name,
                "baseline": promise,
                "tag": tag,
                "features": names,
                "functions": {
                    u.feature.name: dict(
                        sorted(by_feature[u.feature.name].items(), key=lambda kv: (-kv[1], kv[0]))[
                            :64
                        ]
                    )
                    for u in beyond
                },
                "instructions": {u.feature.name: u.count for u in beyond},
            },
        )
    if result.scanned < result.total:
        yield Finding(
            code="cpu.isa",
            severity=Severity.INFO,
            message=(
                f"ISA scan capped: disassembled the first {result.scanned >> 20} MiB of "
                f"{result.total / (1 << 20):.1f} MiB of code"
            ),
            path=path,
            evidence={"scanned": result.scanned, "total": result.total},
        )


def _uncovered(path: str, pe: PECode) -> Finding:
    return Finding(
        code="cpu.isa",
        severity=Severity.INFO,
        message=f"ISA scan does not cover this PE file ({pe.code_bytes} bytes of code): "
        f"{pe.uncovered}",
        path=path,
        evidence={"scanned": 0, "total": pe.code_bytes, "reason": pe.uncovered},
    )
