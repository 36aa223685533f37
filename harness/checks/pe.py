"""PE binaries against Windows tags: machine type and imported DLLs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from harness.checks.binfmt import PE_MACHINES, BinaryParseError, pe_info
from harness.checks.platforms import OS, parse_platform
from harness.findings import Finding, error, warning
from harness.wheel import BinaryKind, Wheel

# DLLs every supported Windows (or every CPython install) provides. Anything else must be
# shipped inside the wheel (delvewheel's job).
_SYSTEM_DLLS = {
    "kernel32.dll",
    "user32.dll",
    "advapi32.dll",
    "gdi32.dll",
    "shell32.dll",
    "ole32.dll",
    "oleaut32.dll",
    "ws2_32.dll",
    "ntdll.dll",
    "msvcrt.dll",
    "ucrtbase.dll",
    "comdlg32.dll",
    "comctl32.dll",
    "crypt32.dll",
    "bcrypt.dll",
    "secur32.dll",
    "psapi.dll",
    "dbghelp.dll",
    "iphlpapi.dll",
    "version.dll",
    "winmm.dll",
    "shlwapi.dll",
    "rpcrt4.dll",
    "setupapi.dll",
    "userenv.dll",
    "netapi32.dll",
    "mswsock.dll",
    "wldap32.dll",
    "imm32.dll",
    "winspool.drv",
    "opengl32.dll",
    "glu32.dll",
    "dwmapi.dll",
    "uxtheme.dll",
    "d3d11.dll",
    "dxgi.dll",
    "d3d9.dll",
    "powrprof.dll",
    "pdh.dll",
    "wintrust.dll",
    "ncrypt.dll",
    "cfgmgr32.dll",
    "dnsapi.dll",
    "wtsapi32.dll",
    "normaliz.dll",
    "mpr.dll",
    "winhttp.dll",
    "wininet.dll",
    "ntdll",
    "kernelbase.dll",
    "synchronization.dll",
    # Windows 8+ CNG primitives: Rust's standard library imports it (ProcessPrng) since 1.78
    "bcryptprimitives.dll",
    # The Visual C++ runtime shipped with every python.org / conda CPython.
    "vcruntime140.dll",
    "vcruntime140_1.dll",
    "msvcp140.dll",
    "msvcp140_1.dll",
    "msvcp140_2.dll",
    "concrt140.dll",
    "vcomp140.dll",
}
_SYSTEM_PATTERNS = re.compile(r"^(api-ms-win-|ext-ms-|python3\d*\.dll$|python\d+t?\.dll$)")

# The interpreter DLL of other Python implementations, which their extension modules import
# (as CPython's import python3XY.dll): allowed only in wheels for that implementation.
_IMPLEMENTATION_DLLS = (
    ("pp", re.compile(r"^libpypy3?[\d.]*-c\.dll$")),  # PyPy: libpypy3.11-c.dll
    ("graalpy", re.compile(r"^python-native\.dll$")),  # GraalPy
)

_TAG_MACHINE = {"x86": 0x14C, "x86_64": 0x8664, "arm64": 0xAA64, "ia64": 0x200}


def check(wheel: Wheel) -> Iterator[Finding]:
    pes = [(m, d) for m, d in wheel.binaries() if m.binary is BinaryKind.PE]
    if not pes:
        return
    platforms = [parse_platform(p) for p in sorted(wheel.platforms)]
    windows = [p for p in platforms if p.os is OS.WINDOWS]
    in_wheel = {m.name.rsplit("/", 1)[-1].lower() for m in wheel.members}
    interpreters = {t.interpreter for t in wheel.tags}
    implementation_dlls = [
        pattern
        for prefix, pattern in _IMPLEMENTATION_DLLS
        if any(i.startswith(prefix) for i in interpreters)
    ]
    for member, data in pes:
        try:
            info = pe_info(data)
        except BinaryParseError as exc:
            yield error("platform.arch", f"cannot check: {exc}", path=member.name)
            continue
        machine = PE_MACHINES.get(info.machine, hex(info.machine))
        if not windows:
            if any(p.os is OS.ANY for p in platforms):
                yield warning(
                    "platform.arch",
                    f"{machine} PE binary in a platform-independent wheel",
                    path=member.name,
                )
            elif platforms:
                yield error(
                    "platform.arch",
                    f"PE binary ({machine}) in a wheel tagged "
                    + ", ".join(p.tag for p in platforms),
                    path=member.name,
                )
            continue
        for p in windows:
            want = _TAG_MACHINE.get(p.arch)
            ok = info.machine == want or (p.arch == "arm64" and info.machine == 0xA641)
            if not ok:
                yield error(
                    "platform.arch",
                    f"binary is {machine}, the wheel is tagged {p.tag}",
                    path=member.name,
                    binary=machine,
                    tag=p.tag,
                )
        if info.import_problems:
            yield error(
                "windows.dll",
                f"cannot read the whole import table ({info.import_problems[0][:200]}): "
                "a DLL it needs may go unchecked",
                path=member.name,
                problems=list(info.import_problems[:5]),
            )
        for dll in sorted(set(info.imports)):
            low = dll.lower()
            if low in _SYSTEM_DLLS or _SYSTEM_PATTERNS.match(low) or low in in_wheel:
                continue
            if any(p.match(low) for p in implementation_dlls):
                continue
            yield error(
                "windows.dll",
                f"imports {dll}, which is neither a system/CRT DLL nor in the wheel",
                path=member.name,
                dll=dll,
            )
