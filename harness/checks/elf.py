"""ELF binaries against their Linux tags: architecture, libc, symbol versions, libraries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from packaging.version import InvalidVersion, Version

from harness.checks.binfmt import BinaryParseError, ElfInfo, elf_info
from harness.checks.platforms import ANDROID_ABIS, OS, Platform, parse_platform
from harness.checks.policy import android_libraries, policy_for
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

# glibc's program interpreter (the dynamic loader) per arch: its name is fixed by each
# arch's ABI, and a binary may list it as NEEDED (GLIBC_PRIVATE, _dl_* symbols, TLS).
# auditwheel excludes the same names from its policy check ("ld-linux*", "ld64.so.1" on
# s390x and big-endian ppc64, "ld64.so.2" on ppc64le).
GLIBC_LOADER: dict[str, str] = {
    "x86_64": "ld-linux-x86-64.so.2",
    "i686": "ld-linux.so.2",
    "aarch64": "ld-linux-aarch64.so.1",
    "armv7l": "ld-linux-armhf.so.3",
    "armv6l": "ld-linux-armhf.so.3",
    "ppc64le": "ld64.so.2",
    "ppc64": "ld64.so.1",
    "s390x": "ld64.so.1",
    "riscv64": "ld-linux-riscv64-lp64d.so.1",
    "loongarch64": "ld-linux-loongarch-lp64d.so.1",
}

# glibc's own libraries (the sonames a glibc install provides)
GLIBC_LIBS = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libnsl.so.1",
        "libanl.so.1",
        "libcrypt.so.1",
        "libmvec.so.1",
        "libBrokenLocale.so.1",
    }
)

_LINUX = (OS.MANYLINUX, OS.MUSLLINUX, OS.LINUX)
# libpython is linked on Android (PEP 738), as auditwheel's android policy allows
_LIBPYTHON = re.compile(r"^libpython3\.\d+t?\.so$")


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
    loaders = set(GLIBC_LOADER.values())
    if any(
        n.startswith(("libc.so.6", "ld-linux")) or n.rsplit("/", 1)[-1] in loaders for n in names
    ):
        return "glibc"
    # GLIBC_* versions count only when a glibc library defines them: libgcc_s defines its
    # own GLIBC_2.0 node on some arches (aarch64), which musl builds vendor too.
    if any(
        v.startswith("GLIBC_") and (lib in GLIBC_LIBS or lib in loaders)
        for lib, v in info.version_needs
    ):
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


@lru_cache(maxsize=1024)
def _split_version(name: str) -> tuple[str, Version] | None:
    """("GLIBC", Version("2.17")) for "GLIBC_2.17" (a release repeats a few dozen names)."""
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
    android = [p for p in platforms if p.os is OS.ANDROID]
    vendored = _vendored_names(wheel)
    for member, data in elves:
        try:
            info = elf_info(data)
        except BinaryParseError as exc:
            yield error("platform.arch", f"cannot check: {exc}", path=member.name)
            continue
        if android:
            yield from _check_android(member.name, info, android, vendored)
            if not linux:
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
                    prev_split = _split_version(prev) if prev is not None else None
                    if prev_split is None or prev_split[1] < ver:
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
            if plat.os is OS.MANYLINUX and lib == GLIBC_LOADER.get(plat.arch):
                continue
            yield error(
                code_lib,
                f"links {lib}, which is outside the {policy.name} policy and not vendored "
                "in the wheel",
                path=path,
                library=lib,
                policy=policy.name,
            )


def _check_android(
    path: str, info: ElfInfo, android: list[Platform], vendored: set[str]
) -> Iterator[Finding]:
    """PEP 738: the ABI's architecture, the API level, and the NDK's stable libraries."""
    actual = elf_arch_name(info)
    for p in android:
        want = ANDROID_ABIS.get(p.arch)
        if want is not None and want != actual:
            yield error(
                "platform.arch",
                f"binary is {actual}, the wheel is tagged {p.tag} ({want})",
                path=path,
                binary=actual,
                tag=p.tag,
            )
    # the lowest API level tagged is the promise: the binary must not target a newer one
    lowest = min((p.version or (0, 0))[0] for p in android)
    if info.android_api is not None and info.android_api > lowest:
        yield error(
            "android.api-level",
            f"built for Android API level {info.android_api} (.note.android.ident), the "
            f"tag promises {lowest}: it may need libc symbols older devices lack",
            path=path,
            api_level=info.android_api,
            tag_api_level=lowest,
        )
    policy, allowed = android_libraries(lowest)
    for lib in info.needed:
        if lib in allowed or lib in vendored or _LIBPYTHON.match(lib):
            continue
        yield error(
            "android.library",
            f"links {lib}, which is not a stable NDK library at API level {lowest} "
            f"({policy}) and not vendored in the wheel",
            path=path,
            library=lib,
            policy=policy,
        )
