#!/usr/bin/env python3
"""Generate tests/data/fallback/: a wheel whose broken extension is hidden by a fallback.

    python tests/data/make_fallback.py            # (re)write tests/data/fallback/
    python tests/data/make_fallback.py --check    # regenerate into a temp dir, compare bytes

fallback_pkg 1.0, cp311-cp311-manylinux_2_17_x86_64: `fallback_pkg/__init__.py` imports
`fallback_pkg._speedups` and falls back to pure Python on ImportError (as markupsafe,
msgpack, pyyaml and simplejson do). The extension (tests/data/src/fallback_speedups.c)
calls PyLong_AsInt, new in CPython 3.13, so on 3.11 it fails to import with "undefined
symbol: PyLong_AsInt" -- and `import fallback_pkg` still works. `harness inspect` finds
nothing wrong (a well-formed, honestly tagged wheel: the symbol is unversioned); only
importing the extension module itself shows the defect.

Needs gcc and CPython 3.11's headers (Debian bookworm: python3.11-dev). Deterministic:
fixed zip dates, sorted members, RECORD last, -s -fno-ident. Stdlib only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "fallback"
NAME = "fallback_pkg"
VERSION = "1.0"
TAG = "cp311-cp311-manylinux_2_17_x86_64"
FILENAME = f"{NAME}-{VERSION}-{TAG}.whl"
DATE = (2020, 1, 1, 0, 0, 0)

INIT = b'''"""A package with a C speed-up and a pure-Python fallback."""

try:
    from fallback_pkg._speedups import as_int
    HAVE_SPEEDUPS = True
except ImportError:  # the fallback hides a broken extension

    def as_int(value):
        return int(value)

    HAVE_SPEEDUPS = False
'''


def include_dir() -> str:
    if sys.version_info[:2] == (3, 11):
        inc = sysconfig.get_path("include")
    else:
        inc = "/usr/include/python3.11"
    if not (Path(inc) / "Python.h").exists():
        raise SystemExit("CPython 3.11 headers not found (apt-get install python3.11-dev)")
    return inc


def compile_ext(tmp: Path) -> bytes:
    out = tmp / "_speedups.so"
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-fPIC",
            "-shared",
            "-s",
            "-fno-ident",
            f"-I{include_dir()}",
            str(HERE / "src" / "fallback_speedups.c"),
            "-o",
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(dest: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        ext = compile_ext(Path(tmp))
    di = f"{NAME}-{VERSION}.dist-info"
    members = {
        f"{NAME}/__init__.py": INIT,
        f"{NAME}/_speedups.cpython-311-x86_64-linux-gnu.so": ext,
        f"{di}/METADATA": (
            f"Metadata-Version: 2.1\nName: fallback-pkg\nVersion: {VERSION}\n"
            "Summary: a C speed-up hidden by a pure-Python fallback (harness test data)\n"
        ).encode(),
        f"{di}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: make_fallback.py\nRoot-Is-Purelib: false\nTag: {TAG}\n"
        ).encode(),
    }
    record = [record_line(n, d) for n, d in sorted(members.items())] + [f"{di}/RECORD,,"]
    members[f"{di}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / FILENAME
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(members, key=lambda n: (n.startswith(di), n.endswith("RECORD"), n)):
            zi = zipfile.ZipInfo(name, DATE)
            zi.external_attr = (0o100644 if not name.endswith(".so") else 0o100755) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, members[name])
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="regenerate to a temp dir and compare")
    args = ap.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            new = build(Path(tmp)).read_bytes()
        old = (OUT / FILENAME).read_bytes()
        same = hashlib.sha256(new).digest() == hashlib.sha256(old).digest()
        print(f"{FILENAME}: {'identical' if same else 'DIFFERS'}")
        return 0 if same else 1
    print(build(OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
