"""Mach-O binaries against macOS tags: slices, minimum macOS version, linked dylibs."""

from __future__ import annotations

from collections.abc import Iterator

from harness.checks.binfmt import BinaryParseError, MachOInfo, macho_info
from harness.checks.platforms import MACOS_ARCH_GROUPS, OS, Platform, parse_platform
from harness.findings import Finding, error, warning
from harness.wheel import BinaryKind, Wheel

_SYSTEM_PREFIXES = ("/usr/lib/", "/System/Library/", "/System/iOSSupport/")
_RELATIVE = ("@rpath/", "@loader_path/", "@executable_path/")


def required_arches(p: Platform) -> tuple[str, ...]:
    return MACOS_ARCH_GROUPS.get(p.arch, (p.arch,))


def _fmt(v: tuple[int, ...]) -> str:
    return ".".join(str(x) for x in v)


def check(wheel: Wheel) -> Iterator[Finding]:
    machos = [(m, d) for m, d in wheel.binaries() if m.binary is BinaryKind.MACHO]
    if not machos:
        return
    platforms = [parse_platform(p) for p in sorted(wheel.platforms)]
    macos = [p for p in platforms if p.os is OS.MACOS]
    in_wheel = {m.name.rsplit("/", 1)[-1] for m in wheel.members}
    for member, data in machos:
        try:
            info = macho_info(data)
        except BinaryParseError as exc:
            yield error("platform.arch", f"cannot check: {exc}", path=member.name)
            continue
        have = [s.arch for s in info.slices]
        if not macos:
            if any(p.os is OS.ANY for p in platforms):
                yield warning(
                    "platform.arch",
                    "Mach-O binary in a platform-independent wheel",
                    path=member.name,
                )
            elif platforms:
                yield error(
                    "platform.arch",
                    f"Mach-O binary ({'+'.join(have)}) in a wheel tagged "
                    + ", ".join(p.tag for p in platforms),
                    path=member.name,
                )
            continue
        yield from _check_slices(member.name, info, macos)
        yield from _check_minos(member.name, info, macos)
        yield from _check_dylibs(member.name, info, in_wheel)


def _check_slices(path: str, info: MachOInfo, macos: list[Platform]) -> Iterator[Finding]:
    have = {s.arch for s in info.slices}
    # arm64e slices load in arm64 processes only if arm64 is present; count them apart
    for p in macos:
        missing = [a for a in required_arches(p) if a not in have]
        if missing:
            yield error(
                "platform.arch",
                f"binary has {'+'.join(sorted(have))}, tag {p.tag} needs "
                f"{'+'.join(required_arches(p))}",
                path=path,
                binary=sorted(have),
                tag=p.tag,
            )


def _check_minos(path: str, info: MachOInfo, macos: list[Platform]) -> Iterator[Finding]:
    for s in info.slices:
        if s.minos is None:
            continue
        # the tag version that promises this slice: the lowest tag that covers its arch;
        # arm64 never runs below macOS 11, whatever the tag says (pip's own rule).
        allowed: tuple[int, int] | None = None
        for p in macos:
            if s.arch in required_arches(p) or (
                s.arch == "arm64e" and "arm64" in required_arches(p)
            ):
                v = p.version or (0, 0)
                if s.arch.startswith("arm64") and len(required_arches(p)) > 1:
                    # universal2's version names the x86_64 slice; pip never installs
                    # it on arm64 below macOS 11, so that slice is held to 11.0.
                    v = max(v, (11, 0))
                if allowed is None or v < allowed:
                    allowed = v
        if allowed is None:
            continue
        if s.minos[:2] > allowed:
            yield error(
                "macos.minos",
                f"{s.arch} slice needs macOS {_fmt(s.minos)}, the tag promises {_fmt(allowed)}",
                path=path,
                arch=s.arch,
                minos=_fmt(s.minos),
                tag_version=_fmt(allowed),
            )


def _check_dylibs(path: str, info: MachOInfo, in_wheel: set[str]) -> Iterator[Finding]:
    seen: set[str] = set()
    for s in info.slices:
        for lib in s.dylibs:
            if lib in seen:
                continue
            seen.add(lib)
            if lib.startswith(_SYSTEM_PREFIXES):
                continue
            base = lib.rsplit("/", 1)[-1]
            if lib.startswith(_RELATIVE) and base in in_wheel:
                continue
            if "libpython" in base or "Python.framework" in lib:
                why = "links libpython (extensions must use -undefined dynamic_lookup)"
            elif lib.startswith(_RELATIVE):
                why = f"links {lib}, which is not in the wheel"
            else:
                why = f"links {lib}, which is neither a system library nor in the wheel"
            yield error("macos.library", why, path=path, library=lib)
