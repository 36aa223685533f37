"""Mach-O binaries against macOS tags: slices, minimum macOS version, linked dylibs."""

from __future__ import annotations

from collections.abc import Iterator

from harness.checks.binfmt import BinaryParseError, MachOInfo, macho_info
from harness.checks.options import CheckOptions
from harness.checks.platforms import MACOS_ARCH_GROUPS, OS, Platform, parse_platform
from harness.findings import Finding, error, warning
from harness.wheel import BinaryKind, Wheel

_SYSTEM_PREFIXES = ("/usr/lib/", "/System/Library/", "/System/iOSSupport/")
_RELATIVE = ("@rpath/", "@loader_path/", "@executable_path/")
# iOS extension modules link the embedding app's Python.framework (PEP 730)
_IOS_PYTHON = "@rpath/Python.framework/Python"
_IOS_PLATFORM = {"iphoneos": "ios", "iphonesimulator": "iossimulator"}


def required_arches(p: Platform) -> tuple[str, ...]:
    return MACOS_ARCH_GROUPS.get(p.arch, (p.arch,))


def _fmt(v: tuple[int, ...]) -> str:
    return ".".join(str(x) for x in v)


def check(wheel: Wheel, options: CheckOptions | None = None) -> Iterator[Finding]:
    opts = options or CheckOptions()
    machos = [(m, d) for m, d in wheel.binaries() if m.binary is BinaryKind.MACHO]
    if not machos:
        return
    platforms = [parse_platform(p) for p in sorted(wheel.platforms)]
    macos = [p for p in platforms if p.os is OS.MACOS]
    ios = [p for p in platforms if p.os is OS.IOS]
    in_wheel = {m.name.rsplit("/", 1)[-1] for m in wheel.members}
    for member, data in machos:
        try:
            info = macho_info(data)
        except BinaryParseError as exc:
            yield error("platform.arch", f"cannot check: {exc}", path=member.name)
            continue
        have = [s.arch for s in info.slices]
        if ios:
            yield from _check_ios(member.name, info, ios, in_wheel)
            if not macos:
                continue
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
        yield from _check_minos(member.name, info, macos, opts)
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


def _check_minos(
    path: str, info: MachOInfo, macos: list[Platform], opts: CheckOptions
) -> Iterator[Finding]:
    for s in info.slices:
        if s.platform not in (None, "macos"):
            yield error(
                "platform.arch",
                f"{s.arch} slice is built for {s.platform}, the wheel is tagged for macOS",
                path=path,
                arch=s.arch,
                platform=s.platform,
            )
            continue
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
        if s.minos[:2] <= allowed:
            continue
        evidence = {"arch": s.arch, "minos": _fmt(s.minos), "tag_version": _fmt(allowed)}
        message = f"{s.arch} slice needs macOS {_fmt(s.minos)}, the tag promises {_fmt(allowed)}"
        if allowed[0] >= 11 and allowed[1] == 0 and s.minos[0] == allowed[0]:
            # A minor version no tag can express: since macOS 11 pip generates only X_0
            # tags, so it installs this wheel on X.0 too, where dyld refuses the binary.
            # delocate tags such wheels X_0 and warns; so do we, unless configured.
            yield Finding(
                code="macos.minos",
                severity=opts.macos_minor_version,
                message=(
                    f"{message}: pip installs macosx_{allowed[0]}_0 wheels on macOS "
                    f"{allowed[0]}.0, where this binary will not load (no tag can say "
                    f"{_fmt(s.minos[:2])}; build with MACOSX_DEPLOYMENT_TARGET="
                    f"{allowed[0]}.0 to support all of macOS {allowed[0]}). Severity "
                    "set by [tool.harness] macos-minor-version / --macos-minor-version"
                ),
                path=path,
                evidence={**evidence, "minor_only": True},
            )
            continue
        yield error("macos.minos", message, path=path, **evidence)


def _check_ios(
    path: str, info: MachOInfo, ios: list[Platform], in_wheel: set[str]
) -> Iterator[Finding]:
    """PEP 730: the slice's arch and SDK (device or simulator), the minimum iOS version,
    and dylibs (system, in the wheel, or the app's Python.framework)."""
    for p in ios:
        want_platform = _IOS_PLATFORM.get(p.sdk or "", "ios")
        slices = [s for s in info.slices if s.arch == p.arch]
        if not slices:
            yield error(
                "platform.arch",
                f"binary has {'+'.join(s.arch for s in info.slices)}, tag {p.tag} needs {p.arch}",
                path=path,
                binary=[s.arch for s in info.slices],
                tag=p.tag,
            )
            continue
        for s in slices:
            built_for = s.platform
            if built_for == "ios" and s.arch == "x86_64":
                # no iOS device is x86_64: old toolchains marked simulator builds with
                # LC_VERSION_MIN_IPHONEOS, which this reader reports as "ios"
                built_for = "iossimulator"
            if built_for is not None and built_for != want_platform:
                yield error(
                    "platform.arch",
                    f"{s.arch} slice is built for {s.platform}, the wheel is tagged "
                    f"{p.tag} ({want_platform})",
                    path=path,
                    platform=s.platform,
                    tag=p.tag,
                )
            promised = p.version or (0, 0)
            if s.arch == "arm64" and want_platform == "iossimulator":
                # arm64 simulators exist only from iOS 14 (Apple silicon): Apple's linker
                # raises their minimum to 14.0 whatever the deployment target (the rule
                # pip's macOS tags apply to arm64 below macOS 11)
                promised = max(promised, (14, 0))
            if s.minos is not None and s.minos[:2] > promised:
                yield error(
                    "ios.minos",
                    f"{s.arch} slice needs iOS {_fmt(s.minos)}, the tag promises {_fmt(promised)}",
                    path=path,
                    arch=s.arch,
                    minos=_fmt(s.minos),
                    tag_version=_fmt(promised),
                )
    seen: set[str] = set()
    for s in info.slices:
        for lib in s.dylibs:
            if lib in seen or lib == _IOS_PYTHON or lib.startswith(_SYSTEM_PREFIXES):
                continue
            seen.add(lib)
            base = lib.rsplit("/", 1)[-1]
            if lib.startswith(_RELATIVE) and base in in_wheel:
                continue
            yield error(
                "ios.library",
                f"links {lib}, which is neither an iOS system library, the app's "
                "Python.framework, nor in the wheel",
                path=path,
                library=lib,
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
