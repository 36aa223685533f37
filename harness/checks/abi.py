"""abi.*: extension modules against the wheel's python/abi tags.

The abi3 audit uses abi3info's table of the limited API (the data behind abi3audit).
abi3audit itself only audits files on disk; we hold the bytes in memory and already have
the symbols from pyelftools, so the ~20 lines of matching logic are done here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from harness.checks.binfmt import BinaryParseError, elf_symbols, pe_info
from harness.findings import Finding, error, warning
from harness.wheel import BinaryKind, Wheel

_SUFFIXES = [
    re.compile(r"\.cpython-(?P<ver>\d{2,3})(?P<flags>[a-z]*)-[A-Za-z0-9_-]+\.so$"),
    re.compile(r"\.cpython-(?P<ver>\d{2,3})(?P<flags>[a-z]*)-darwin\.so$"),
    re.compile(r"\.cp(?P<ver>\d{2,3})(?P<flags>[a-z]*)-win[A-Za-z0-9_]*\.pyd$"),
]
_ABI3_SUFFIX = re.compile(r"\.abi3\.so$")
_PYTHON_DLL = re.compile(r"^python(\d)(\d+)t?\.dll$", re.IGNORECASE)


def extension_version(name: str) -> tuple[str, str] | None:
    """('311', flags) for a version-specific extension module file name, else None."""
    for rx in _SUFFIXES:
        m = rx.search(name)
        if m:
            return m["ver"], m["flags"]
    return None


def check(wheel: Wheel) -> Iterator[Finding]:
    if not wheel.tags:
        return
    cp_versions = {t.abi[2:].rstrip("dmut") for t in wheel.tags if t.abi.startswith("cp")}
    abi3 = [t for t in wheel.tags if t.abi == "abi3"]
    none_abi = any(t.abi == "none" for t in wheel.tags)
    for m in wheel.members:
        if m.is_dir:
            continue
        ext = extension_version(m.name)
        if ext is None:
            continue
        ver, _flags = ext
        if cp_versions and ver not in cp_versions:
            yield error(
                "abi.extension-suffix",
                f"extension built for CPython {ver[0]}.{ver[1:]} in a wheel tagged "
                + ", ".join(f"cp{v}" for v in sorted(cp_versions)),
                path=m.name,
            )
        elif not cp_versions and (abi3 or none_abi):
            yield error(
                "abi.extension-suffix",
                f"extension built for CPython {ver[0]}.{ver[1:]} only, in a wheel tagged "
                + ("abi3" if abi3 else "for any Python (none)"),
                path=m.name,
            )
    if abi3:
        yield from _audit_abi3(wheel, abi3_baseline(wheel))


def abi3_baseline(wheel: Wheel) -> tuple[int, int]:
    best = (3, 2)
    for t in wheel.tags:
        if t.abi == "abi3" and t.interpreter.startswith("cp") and t.interpreter[2:].isdigit():
            v = (int(t.interpreter[2]), int(t.interpreter[3:] or 0))
            best = max(best, v)
    return best


def _audit_abi3(wheel: Wheel, baseline: tuple[int, int]) -> Iterator[Finding]:
    try:
        from abi3info import DATAS, FUNCTIONS
        from abi3info.models import Symbol
    except ImportError:
        yield warning(
            "abi.abi3",
            "abi3 audit not run: abi3info, a dependency of wheel-harness, is not installed "
            "(pip install abi3info)",
        )
        return
    for m, data in wheel.binaries():
        if m.binary is BinaryKind.PE:
            try:
                imports = pe_info(data).imports
            except BinaryParseError:
                continue
            for dll in imports:
                if _PYTHON_DLL.match(dll) and dll.lower() != "python3.dll":
                    yield error(
                        "abi.abi3",
                        f"abi3 extension imports {dll}, not python3.dll (not limited API)",
                        path=m.name,
                        dll=dll,
                    )
            continue
        if m.binary is not BinaryKind.ELF:
            continue  # Mach-O: symbol audit not implemented; abi3audit covers it offline
        try:
            symbols = elf_symbols(data)
        except BinaryParseError:
            continue
        non_abi3: set[str] = set()
        future: dict[str, str] = {}
        for name, bind in symbols:
            if bind in {"STB_LOCAL", "STB_LOOS"}:
                continue
            known = FUNCTIONS.get(Symbol(name)) or DATAS.get(Symbol(name))
            if known is not None:
                added = (known.added.major, known.added.minor)
                if added > baseline:
                    future[name] = f"{added[0]}.{added[1]}"
            elif name.startswith(("Py", "_Py")) and not name.startswith("PyInit_"):
                non_abi3.add(name)
        if non_abi3:
            shown = sorted(non_abi3)
            yield error(
                "abi.abi3",
                f"abi3 extension uses {len(shown)} symbol(s) outside the limited API: "
                + ", ".join(shown[:5])
                + (" ..." if len(shown) > 5 else ""),
                path=m.name,
                symbols=shown[:50],
            )
        if future:
            yield error(
                "abi.abi3",
                f"abi3 extension uses limited-API symbols newer than its "
                f"cp{baseline[0]}{baseline[1]} tag: "
                + ", ".join(f"{k} ({v})" for k, v in sorted(future.items())[:5]),
                path=m.name,
                symbols=future,
            )
