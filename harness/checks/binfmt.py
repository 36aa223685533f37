"""Binary headers read once per member with the field's parsers (pyelftools, macholib,
pefile), straight from the bytes the Wheel already holds, and shared by the checks.

Each file is parsed once per wheel and only as far as the checks need: an ELF file's
section headers once (:func:`elf_file`, shared by the platform, abi and cpu.isa checks), a
PE file's headers once (:func:`pe_file`) and of its import table only the DLL names. The
caches are keyed by the member's bytes and cleared between wheels (inspect.clear_caches).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pyelftools is imported by the first ELF file (~0.05 s a run without)
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import Section


class BinaryParseError(Exception):
    pass


# Explicit bounds on what one binary may declare (real extensions have tens of each); past
# them the binary is reported unparsable instead of costing minutes or gigabytes.
MAX_DYNAMIC_ENTRIES = 4096
MAX_VERSION_NEEDS = 4096  # (library, version) pairs; also ends a vn_next/vna_next cycle
MAX_MACHO_COMMANDS = 4096  # load commands per slice
MAX_MACHO_SLICES = 32


# ---------------------------------------------------------------- ELF


@dataclass(frozen=True, kw_only=True)
class ElfInfo:
    machine: str  # pyelftools e_machine name, e.g. "EM_X86_64"
    elfclass: int  # 32 or 64
    little_endian: bool
    interp: str | None
    needed: tuple[str, ...]
    soname: str | None
    # (library file, version name) pairs from .gnu.version_r, e.g. ("libc.so.6", "GLIBC_2.34")
    version_needs: tuple[tuple[str, str], ...]
    # the API level an Android NDK build targets (its .note.android.ident), else None
    android_api: int | None = None


def _bound(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise BinaryParseError(f"unparsable ELF file: {count} {what}, more than {limit}")


@dataclass(frozen=True, eq=False)
class ElfFile:
    """A parsed ELF file: pyelftools' ELFFile and its section headers, read once."""

    elf: ELFFile
    sections: tuple[Section, ...]


@lru_cache(maxsize=64)
def elf_file(data: bytes) -> ElfFile:
    """The ELF file of these bytes; pyelftools' exceptions propagate (callers map them)."""
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    return ElfFile(elf=elf, sections=tuple(elf.iter_sections()))


@lru_cache(maxsize=64)
def elf_info(data: bytes) -> ElfInfo:
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.gnuversions import GNUVerNeedSection
    from elftools.elf.segments import InterpSegment

    try:
        parsed = elf_file(data)
        elf = parsed.elf
        interp = None
        needed: list[str] = []
        soname = None
        versions: list[tuple[str, str]] = []
        android_api = None
        for header in _program_headers(elf):
            if header["p_type"] == "PT_INTERP":
                interp = InterpSegment(header, elf.stream).get_interp_name()
        for sec in parsed.sections:
            if isinstance(sec, DynamicSection):
                entries = int(sec["sh_size"]) // max(int(sec["sh_entsize"]) or 16, 1)
                _bound(entries, MAX_DYNAMIC_ENTRIES, "dynamic entries")
                for tag in sec.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(str(tag.needed))  # type: ignore[attr-defined]
                    elif tag.entry.d_tag == "DT_SONAME":
                        soname = str(tag.soname)  # type: ignore[attr-defined]
            elif isinstance(sec, GNUVerNeedSection):
                for verneed, aux_iter in sec.iter_versions():
                    for aux in aux_iter:
                        versions.append((str(verneed.name), str(aux.name)))
                        _bound(len(versions), MAX_VERSION_NEEDS, "version needs (a cycle?)")
            elif sec.name == ".note.android.ident":
                android_api = _android_api(sec.data(), elf.little_endian)
        return ElfInfo(
            machine=str(elf["e_machine"]),
            elfclass=int(elf.elfclass),
            little_endian=bool(elf.little_endian),
            interp=interp,
            needed=tuple(needed),
            soname=soname,
            version_needs=tuple(versions),
            android_api=android_api,
        )
    except BinaryParseError:
        raise
    except (ELFError, ValueError, KeyError, IndexError, AssertionError, OSError) as exc:
        raise BinaryParseError(f"unparsable ELF file: {exc}") from exc
    except Exception as exc:
        raise BinaryParseError(f"unparsable ELF file: {type(exc).__name__}: {exc}") from exc


def _program_headers(elf: ELFFile) -> Iterator[Any]:
    """The program headers, parsed as pyelftools' get_segment parses them, without making a
    Segment of each: its DynamicSegment reads every section header again (to find .dynstr),
    a quarter of the ELF parsing time of a wheel, for PT_INTERP alone."""
    from elftools.common.exceptions import ELFError
    from elftools.common.utils import struct_parse

    phdr = elf.structs.Elf_Phdr
    phoff, size = int(elf["e_phoff"]), int(elf["e_phentsize"])
    if phoff > 0 and size < phdr.sizeof():
        raise ELFError(f"Too small e_phentsize: {size}")
    for n in range(elf.num_segments()):
        yield struct_parse(phdr, elf.stream, stream_pos=phoff + n * size)


def _android_api(note: bytes, little_endian: bool) -> int | None:
    """The API level in an NDK ABI note: namesz, descsz, type, "Android\\0" padded to 4,
    then the desc, whose first 32-bit word is the API level the binary was built for."""
    order: Literal["little", "big"] = "little" if little_endian else "big"
    if len(note) < 12:
        return None
    namesz = int.from_bytes(note[0:4], order)
    descsz = int.from_bytes(note[4:8], order)
    name_end = 12 + namesz
    if note[12:name_end].rstrip(b"\0") != b"Android" or descsz < 4:
        return None
    desc = 12 + (namesz + 3) // 4 * 4
    if len(note) < desc + 4:
        return None
    return int.from_bytes(note[desc : desc + 4], order)


_BINDINGS = {0: "STB_LOCAL", 1: "STB_GLOBAL", 2: "STB_WEAK", 10: "STB_LOOS"}
_SYM_TYPES = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC", 3: "STT_SECTION", 4: "STT_FILE"}


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    value: int
    size: int
    bind: str  # pyelftools' names: STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_LOOS (GNU unique)
    type: str  # STT_FUNC, STT_OBJECT, ...


@lru_cache(maxsize=16)
def elf_symbol_table(data: bytes) -> tuple[ElfSymbol, ...]:
    """Every named symbol of .dynsym and .symtab, decoded once per file and shared by the
    abi3 audit and cpu.isa. pyelftools locates the tables (section headers, string table);
    the fixed-size entries are unpacked with struct: pyelftools' per-symbol construct parse
    took 12 s for cryptography's 32,000-symbol Rust extension, this takes a few ms.
    Offsets outside the file end the table (hostile input is bounded by the data size)."""
    import struct

    try:
        ef = elf_file(data)
        elf = ef.elf
        wide = elf.elfclass == 64
        order = "<" if elf.little_endian else ">"
        entry = struct.Struct(order + ("IBBHQQ" if wide else "IIIBBH"))
        out: list[ElfSymbol] = []
        for sec in ef.sections:
            if sec.name not in (".dynsym", ".symtab") or sec["sh_type"] not in (
                "SHT_SYMTAB",
                "SHT_DYNSYM",
            ):
                continue
            offset, size = int(sec["sh_offset"]), int(sec["sh_size"])
            table = data[offset : offset + size]
            link = int(sec["sh_link"])
            if not 0 < link < len(ef.sections):
                continue
            strsec = ef.sections[link]
            s_off, s_size = int(strsec["sh_offset"]), int(strsec["sh_size"])
            strings = data[s_off : s_off + s_size]
            usable = len(table) - len(table) % entry.size
            for fields in entry.iter_unpack(table[:usable]):
                if wide:
                    name_at, info, _other, _shndx, value, sym_size = fields
                else:
                    name_at, value, sym_size, info, _other, _shndx = fields
                if not name_at or name_at >= len(strings):
                    continue
                stop = strings.find(b"\0", name_at)
                raw = strings[name_at : stop if stop >= 0 else len(strings)]
                out.append(
                    ElfSymbol(
                        name=raw.decode("utf-8", "replace"),
                        value=value,
                        size=sym_size,
                        bind=_BINDINGS.get(info >> 4, f"STB_{info >> 4}"),
                        type=_SYM_TYPES.get(info & 0xF, f"STT_{info & 0xF}"),
                    )
                )
        return tuple(out)
    except Exception as exc:
        raise BinaryParseError(f"unparsable ELF file: {type(exc).__name__}: {exc}") from exc


def elf_symbols(data: bytes) -> list[tuple[str, str]]:
    """(name, binding) of every named symbol in .dynsym and .symtab (the abi3 audit)."""
    return [(s.name, s.bind) for s in elf_symbol_table(data)]


# ---------------------------------------------------------------- Mach-O


# LC_BUILD_VERSION platforms (mach-o/loader.h PLATFORM_*)
MACHO_PLATFORMS = {
    1: "macos",
    2: "ios",
    3: "tvos",
    4: "watchos",
    5: "bridgeos",
    6: "maccatalyst",
    7: "iossimulator",
    8: "tvossimulator",
    9: "watchossimulator",
    10: "driverkit",
    11: "visionos",
    12: "visionossimulator",
}


@dataclass(frozen=True, kw_only=True)
class MachOSlice:
    arch: str  # "x86_64", "arm64", "i386", ...
    # the OS the slice is built for ("macos", "ios", "iossimulator", ... or None when it
    # has no LC_BUILD_VERSION / LC_VERSION_MIN_* command) and its minimum version there
    platform: str | None = None
    minos: tuple[int, int, int] | None
    dylibs: tuple[str, ...]
    rpaths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class MachOInfo:
    slices: tuple[MachOSlice, ...]


def _decode_version(v: int) -> tuple[int, int, int]:
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


@lru_cache(maxsize=64)
def macho_info(data: bytes) -> MachOInfo:
    from macholib import mach_o
    from macholib.MachO import MachO

    class _InMemoryMachO(MachO):  # type: ignore[misc]
        # macholib only opens paths; this reads the same structures from our bytes
        def __init__(self, raw: bytes) -> None:
            self.graphident = self.filename = "<member>"
            self.loader_path = ""
            self.fat = None
            self.headers: list[Any] = []
            self.allow_unknown_load_commands = True
            self.load(io.BytesIO(raw))

    _check_macho_counts(data)
    try:
        m = _InMemoryMachO(data)
        slices = []
        for header in m.headers:
            cputype = header.header.cputype
            cpusub = header.header.cpusubtype & 0x00FFFFFF
            arch = mach_o.CPU_TYPE_NAMES.get(cputype, f"cputype-{cputype}")
            arch = {
                "i386": "i386",
                "x86_64": "x86_64",
                "ARM64": "arm64",
                "PowerPC": "ppc",
                "PowerPC64": "ppc64",
                "ARM": "arm",
            }.get(arch, arch)
            if arch == "arm64" and cpusub == 2:
                arch = "arm64e"
            minos = None
            platform = None
            dylibs: list[str] = []
            rpaths: list[str] = []
            for lc, cmd, payload in header.commands:
                name = mach_o.LC_NAMES.get(lc.cmd, "")
                if name == "LC_BUILD_VERSION":
                    platform = MACHO_PLATFORMS.get(cmd.platform, f"platform-{cmd.platform}")
                    minos = _decode_version(cmd.minos)
                elif name in ("LC_VERSION_MIN_MACOSX", "LC_VERSION_MIN_IPHONEOS"):
                    platform = "macos" if name.endswith("MACOSX") else "ios"
                    minos = _decode_version(cmd.version)
                elif name in (
                    "LC_LOAD_DYLIB",
                    "LC_LOAD_WEAK_DYLIB",
                    "LC_REEXPORT_DYLIB",
                    "LC_LAZY_LOAD_DYLIB",
                    "LC_LOAD_UPWARD_DYLIB",
                ):
                    dylibs.append(_lc_str(payload))
                elif name == "LC_RPATH":
                    rpaths.append(_lc_str(payload))
            slices.append(
                MachOSlice(
                    arch=arch,
                    platform=platform,
                    minos=minos,
                    dylibs=tuple(dylibs),
                    rpaths=tuple(rpaths),
                )
            )
        return MachOInfo(slices=tuple(slices))
    except Exception as exc:
        raise BinaryParseError(f"unparsable Mach-O file: {type(exc).__name__}: {exc}") from exc


def _check_macho_counts(data: bytes) -> None:
    """Bound the slice and load-command counts before macholib reads them all."""
    magic = data[:4]
    if magic in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        nfat = int.from_bytes(data[4:8], "big")
        if nfat > MAX_MACHO_SLICES:
            raise BinaryParseError(
                f"unparsable Mach-O file: {nfat} slices, more than {MAX_MACHO_SLICES}"
            )
        entry = 32 if magic.endswith(b"\xbf") else 20
        offsets = []
        for i in range(nfat):
            at = 8 + i * entry
            raw = data[at + 8 : at + (16 if entry == 32 else 12)]
            offsets.append(int.from_bytes(raw, "big"))
    else:
        offsets = [0]
    for off in offsets:
        head = data[off : off + 20]
        if len(head) < 20:
            continue  # macholib reports the truncation
        little = head[:4] in (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
        ncmds = int.from_bytes(head[16:20], "little" if little else "big")
        if ncmds > MAX_MACHO_COMMANDS:
            raise BinaryParseError(
                f"unparsable Mach-O file: {ncmds} load commands, more than {MAX_MACHO_COMMANDS}"
            )


def _lc_str(payload: object) -> str:
    raw = payload if isinstance(payload, bytes) else b""
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


# ---------------------------------------------------------------- PE


@dataclass(frozen=True, kw_only=True)
class PEInfo:
    machine: int
    imports: tuple[str, ...]  # DLL names, including delay-loaded ones
    # pefile's complaints about the import directories (a descriptor table it cannot walk
    # to the end: a DLL we cannot see)
    import_problems: tuple[str, ...] = ()


PE_MACHINES = {0x14C: "x86", 0x8664: "x86_64", 0xAA64: "arm64", 0xA641: "arm64ec", 0x200: "ia64"}


@lru_cache(maxsize=64)
def pe_file(data: bytes) -> Any:
    """pefile's PE of these bytes, headers and section table only (``fast_load``): each
    check parses the directories it needs (pe_info the import DLL names, cpu.isa the
    exception directory). pefile's exceptions propagate (callers map them)."""
    import pefile

    return pefile.PE(data=data, fast_load=True)


@lru_cache(maxsize=64)
def pe_info(data: bytes) -> PEInfo:
    import pefile

    try:
        pe = pe_file(data)
        problems: list[str] = []
        # the DLL names only: the imported symbols (most of pefile's import parsing) are
        # checked by nobody, and a DLL whose symbol thunks pefile cannot read is still named
        try:
            pe.parse_data_directories(
                directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]],
                import_dllnames_only=True,
            )
        except pefile.PEFormatError as exc:
            problems.append(f'Failed to process directory "IMAGE_DIRECTORY_ENTRY_IMPORT": {exc}')
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"]]
        )
        imports = [
            e.dll.decode("ascii", "replace") for e in getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])
        ]
        imports += [
            e.dll.decode("ascii", "replace")
            for e in getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", [])
        ]
        problems += [w for w in pe.get_warnings() if "import" in w.lower()]
        return PEInfo(
            machine=int(pe.FILE_HEADER.Machine),
            imports=tuple(imports),
            import_problems=tuple(problems),
        )
    except Exception as exc:
        raise BinaryParseError(f"unparsable PE file: {type(exc).__name__}: {exc}") from exc
