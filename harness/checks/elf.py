"""ELF binaries against their Linux tags: architecture, libc, symbol versions, libraries."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from harness.checks.binfmt import BinaryParseError, ElfInfo, elf_info
from harness.checks.platforms import OS, Platform, parse_platform
from harness.checks.policy import policy_for
from harness.findings import Finding, error, warning
from harness.wheel import BinaryKind, Wheel

# tag arch -> (e_machine, ELF class, little endian or None for either)
ELF_ARCH: dict[str, tuple[str, int, bool | None]] = {
    "x86_64": ("EM_X86_64", 64, True),
    "i686": ("EM_386", 32, True),
    "aarch64": ("EM_AARCH64", 64, True),
    "armv7l": ("EM_ARM", 32, True),
    "armv6l": ("EM_ARM", 32, True),
    "ppc64le": ("EM_PPC64", 64, True),
    "ppc64": ("EM_PPC64", 64, False),
    "s390x": ("EM_S390", 64, False),
    "riscv64": ("EM_RISCV", 64, True),
    "loongarch64": ("EM_LOONGARCH", 64, True),
}

_LINUX = (OS.MANYLINUX, OS.MUSLLINUX, OS.LINUX)


def elf_arch_name(info: ElfInfo) -> str:
    for arch, (machine, cls, little) in ELF_ARCH.items():
        if (
            info.machine == machine
            and info.elfclass == cls
            and little in (None, info.little_endian)
        ):
            return arch
    return f"{info.machine}/{info.elfclass}-bit"


def libc_of(info: ElfInfo) -> str | None:
    """'musl', 'glibc' or None (links no libc, e.g. a static helper)."""
    names = list(info.needed) + ([info.interp] if info.interp else [])
    if any("musl" in n for n in names):
        return "musl"
    if any(n.startswith(("libc.so.6", "ld-linux")) or "/ld-linux" in n for n in names):
        return "glibc"
    if any(v.startswith("GLIBC_") for _, v in info.version_needs):
        return "glibc"
    if "libc.so" in info.needed:
        return "musl"
    return None


def _vendored_names(wheel: Wheel) -> set[str]:
    names = {m.name.rsplit("/", 1)[-1] for m in wheel.members}
    for m, data in wheel.binaries():
        if m.binary is BinaryKind.ELF:
            try:
                soname = elf_info(data).soname
            except BinaryParseError:
                continue
            if soname:
                names.add(soname)
    return names


def _split_version(name: str) -> tuple[str, Version] | None:
    prefix, sep, ver = name.partition("_")
    if not sep:
        return None
    try:
        return prefix, Version(ver)
    except InvalidVersion:
        return None


def check(wheel: Wheel) -> Iterator[Finding]:
    elves = [(m, d) for m, d in wheel.binaries() if m.binary is BinaryKind.ELF]
    if not elves:
        return
    platforms = [parse_platform(p) for p in sorted(wheel.platforms)]
    linux = [p for p in platforms if p.os in _LINUX]
    vendored = _vendored_names(wheel)
    for member, data in elves:
        try:
            info = elf_info(data)
        except BinaryParseError as exc:
            yield error("platform.arch", f"cannot check: {exc}", path=member.name)
            continue
        if not linux:
            if any(p.os is OS.ANY for p in platforms):
                yield warning(
                    "platform.arch",
                    f"{elf_arch_name(info)} ELF binary in a platform-independent wheel",
                    path=member.name,
                )
            elif platforms:
                yield error(
                    "platform.arch",
                    f"ELF binary ({elf_arch_name(info)}) in a wheel tagged "
                    + ", ".join(p.tag for p in platforms),
                    path=member.name,
                )
            continue
        yield from _check_arch(member.name, info, linux)
        yield from _check_libc(member.name, info, linux)
        yield from _check_policy(member.name, info, linux, vendored)


def _check_arch(path: str, info: ElfInfo, linux: list[Platform]) -> Iterator[Finding]:
    actual = elf_arch_name(info)
    for arch in sorted({p.arch for p in linux}):
        if arch != actual:
            yield error(
                "platform.arch",
                f"binary is {actual}, the wheel is tagged {arch}",
                path=path,
                binary=actual,
                tag=arch,
            )


def _check_libc(path: str, info: ElfInfo, linux: list[Platform]) -> Iterator[Finding]:
    libc = libc_of(info)
    if libc == "glibc" and any(p.os is OS.MUSLLINUX for p in linux):
        yield error(
            "platform.libc",
            "glibc-linked binary in a musllinux wheel",
            path=path,
            needed=list(info.needed),
        )
    if libc == "musl" and any(p.os is OS.MANYLINUX for p in linux):
        yield error(
            "platform.libc",
            "musl-linked binary in a manylinux wheel",
            path=path,
            needed=list(info.needed),
        )


def _check_policy(
    path: str, info: ElfInfo, linux: list[Platform], vendored: set[str]
) -> Iterator[Finding]:
    # The lowest tag per kind is the strictest promise: check against that one.
    strictest: dict[OS, Platform] = {}
    for p in linux:
        if p.version is None:
            continue
        cur = strictest.get(p.os)
        if cur is None or p.version < (cur.version or (0, 0)):
            strictest[p.os] = p
    for plat in strictest.values():
        policy = policy_for(plat)
        if policy is None:
            continue
        code_lib = "manylinux.library" if plat.os is OS.MANYLINUX else "musllinux.library"
        if plat.os is OS.MANYLINUX:
            too_new: dict[str, str] = {}
            for lib, vname in info.version_needs:
                if lib in vendored:
                    continue
                split = _split_version(vname)
                if split is None:
                    continue
                prefix, ver = split
                limit = policy.max_versions.get(prefix)
                if limit is not None and ver > limit:
                    prev = too_new.get(prefix)
                    if prev is None or Version(prev.partition("_")[2]) < ver:
                        too_new[prefix] = vname
            for prefix, vname in sorted(too_new.items()):
                yield error(
                    "manylinux.symbol-too-new",
                    f"needs {vname}, newer than {plat.tag} allows "
                    f"({prefix}_{policy.max_versions[prefix]})",
                    path=path,
                    needs=vname,
                    allowed=f"{prefix}_{policy.max_versions[prefix]}",
                    policy=policy.name,
                )
        for lib in info.needed:
            if lib in policy.lib_whitelist or lib in vendored:
                continue
            if plat.os is OS.MUSLLINUX and (
                lib.startswith(("libc.musl-", "ld-musl-")) or lib == "libc.so"
            ):
                continue
            if plat.os is OS.MANYLINUX and lib.startswith("ld-linux"):
                continue
            yield error(
                code_lib,
                f"links {lib}, which is outside the {policy.name} policy and not vendored "
                "in the wheel",
                path=path,
                library=lib,
                policy=policy.name,
            )
