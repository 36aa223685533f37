#!/usr/bin/env python3
"""Generate the CPU-baseline test wheels under tests/data/cpu/ (cpu.isa + the cpu envs).

    python tests/data/make_cpu_wheels.py            # (re)write tests/data/cpu/
    python tests/data/make_cpu_wheels.py --check    # regenerate to a temp dir, compare sha256s

Four real, importable CPython 3.11 extensions, compiled here from tests/data/src/:

| id | wheel | in a cpu = baseline env | natively |
|---|---|---|---|
| avx2-at-import | cpu_avx2 1.0 cp311 manylinux_2_17_x86_64, built with -mavx2: AVX2 in PyInit, no dispatch | SIGILL (x86-64-v1, qemu64) | imports |
| avx2-dispatch | cpu_dispatch 1.0 cp311 manylinux_2_17_x86_64: AVX2 behind __builtin_cpu_supports | imports (path "scalar") | imports (path "avx2" on an AVX2 CPU) |
| lse-at-import | cpu_lse 1.0 cp311 manylinux_2_17_aarch64, -march=armv8.1-a -mno-outline-atomics: ldaddal in PyInit | SIGILL (armv8.0, cortex-a53) | imports under qemu's default CPU |
| lse-dispatch | cpu_lse 1.1 cp311 manylinux_2_17_aarch64, default -moutline-atomics: libgcc picks LSE at run time | imports | imports |

All four get the `cpu.isa` warning: the dispatching ones too, since a static scan cannot tell
a dispatched path from an unconditional one (that is what the cpu envs are for).

And two Windows x64 modules for the PE side of the scan, compiled with mingw-w64 (Debian's
gcc-mingw-w64-x86-64, gcc 12) from cpu_pe.c, static-inspection subjects only (they link no
python3XY.dll, so they are not importable):

| id | wheel | cpu.isa |
|---|---|---|
| pe-avx2 | cpu_pe 1.0 cp311 win_amd64, -mavx2: AVX2 in the exported sum_x3 | warning naming sum_x3 |
| pe-sse2 | cpu_pe 1.1 cp311 win_amd64, the same source without -mavx2 | none |

`manifest.json`: {"wheels": [{"id", "file", "arch", "module", "answer", "baseline": "fail" |
"pass", "why", "sha256"}], "pe": [{"id", "file", "isa": [features cpu.isa must report],
"function", "why", "sha256"}]}.

Needs Debian bookworm's gcc 12.2 and gcc-aarch64-linux-gnu 12.2, and CPython 3.11 headers
(pyenv's or python3.11 on PATH). The aarch64 builds use that same Python.h/pyconfig.h:
x86_64 and aarch64 Linux are both LP64 little-endian, and these modules touch nothing the
two pyconfig.h files differ in. Zip/RECORD/WHEEL writing is make_defects.py's (same
determinism: fixed dates, sorted members, RECORD last).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from make_defects import SRC, compiled_wheel, python_include, run, zip_bytes

HERE = Path(__file__).resolve().parent
OUT = HERE / "cpu"
# not stripped (-s): .symtab names the functions cpu.isa reports
CFLAGS = ["-O2", "-fPIC", "-shared", "-Wall", "-fno-ident"]
TAG_X86 = "cp311-cp311-manylinux_2_17_x86_64"
TAG_ARM = "cp311-cp311-manylinux_2_17_aarch64"

# (id, dist, version, module, source, compiler, flags, suffix arch, tag, answer, baseline, why)
WHEELS = [
    ("avx2-at-import", "cpu-avx2", "1.0", "cpu_avx2", "cpu_avx2.c", "gcc", ["-mavx2"],
     "x86_64", TAG_X86, 1488, "fail",
     "built with -mavx2: PyInit runs AVX2 code with no CPU check; SIGILL on x86-64-v1/v2"),
    ("avx2-dispatch", "cpu-dispatch", "1.0", "cpu_dispatch", "cpu_dispatch.c", "gcc", [],
     "x86_64", TAG_X86, 1488, "pass",
     "AVX2 kernel behind __builtin_cpu_supports('avx2'): scalar path on older CPUs"),
    ("lse-at-import", "cpu-lse", "1.0", "cpu_lse", "cpu_lse.c", "aarch64-linux-gnu-gcc",
     ["-march=armv8.1-a", "-mno-outline-atomics"], "aarch64", TAG_ARM, 42, "fail",
     "built for ARMv8.1 without outline atomics: an LSE ldaddal in PyInit; SIGILL on ARMv8.0"),
    ("lse-dispatch", "cpu-lse", "1.1", "cpu_lse", "cpu_lse.c", "aarch64-linux-gnu-gcc",
     ["-moutline-atomics"], "aarch64", TAG_ARM, 42, "pass",
     "outline atomics: libgcc's helpers use LSE only when AT_HWCAP says the CPU has it"),
]  # fmt: skip


# (id, version, flags, features cpu.isa reports, the function it names, why)
PE_WHEELS = [
    ("pe-avx2", "1.0", ["-mavx2"], ["AVX2", "AVX"], "sum_x3",
     "built with -mavx2: the exported sum_x3 adds with AVX2, no runtime dispatch"),
    ("pe-sse2", "1.1", [], [], None, "the same source without -mavx2: SSE2 only"),
]  # fmt: skip
MINGW = "x86_64-w64-mingw32-gcc"
# no timestamp in the PE header, symbols stripped: the same bytes on every build
MINGW_FLAGS = ["-O2", "-shared", "-Wall", "-fno-ident", "-s", "-Wl,--no-insert-timestamp"]


def build_pe(tmp: Path) -> list[tuple[dict[str, object], bytes]]:
    if shutil.which(MINGW) is None:
        raise SystemExit(f"{MINGW} not found: apt-get install gcc-mingw-w64-x86-64")
    out = []
    for wid, version, flags, isa, function, why in PE_WHEELS:
        work = tmp / wid
        work.mkdir(parents=True)
        shutil.copy(SRC / "cpu_pe.c", work / "cpu_pe.c")
        pyd = "cpu_pe.cp311-win_amd64.pyd"
        run([MINGW, *MINGW_FLAGS, *flags, "-o", pyd, "cpu_pe.c"], cwd=work)
        filename = f"cpu_pe-{version}-cp311-cp311-win_amd64.whl"
        summary = f"wheel-harness CPU-baseline test subject (PE): {why}"
        _, files = compiled_wheel(
            "cpu-pe", version, summary, filename, {pyd: (work / pyd).read_bytes()}
        )
        data = zip_bytes(files.ordered())
        entry: dict[str, object] = {
            "id": wid,
            "file": f"{wid}/{filename}",
            "isa": isa,
            "function": function,
            "why": why,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        out.append((entry, data))
    return out


def build(tmp: Path) -> list[tuple[dict[str, object], bytes]]:
    inc, _ = python_include("3.11")
    out = []
    for wid, dist, version, mod, src, cc, flags, arch, tag, answer, baseline, why in WHEELS:
        if shutil.which(cc) is None:
            raise SystemExit(f"{cc} not found: apt-get install gcc gcc-aarch64-linux-gnu")
        work = tmp / wid
        work.mkdir(parents=True)
        shutil.copy(SRC / src, work / src)
        so = f"{mod}.cpython-311-{arch}-linux-gnu.so"
        run([cc, *CFLAGS, *flags, f"-I{inc}", "-o", so, src], cwd=work)
        filename = f"{dist.replace('-', '_')}-{version}-{tag}.whl"
        summary = f"wheel-harness CPU-baseline test subject: {why}"
        _, files = compiled_wheel(dist, version, summary, filename, {so: (work / so).read_bytes()})
        data = zip_bytes(files.ordered())
        entry: dict[str, object] = {
            "id": wid,
            "file": f"{wid}/{filename}",
            "arch": arch,
            "module": mod,
            "answer": answer,
            "baseline": baseline,
            "why": why,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        out.append((entry, data))
    return out


def write(
    target: Path,
    built: list[tuple[dict[str, object], bytes]],
    pe: list[tuple[dict[str, object], bytes]],
) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for entry, data in built + pe:
        path = target / str(entry["file"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = {"wheels": [entry for entry, _ in built], "pe": [entry for entry, _ in pe]}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare a fresh build with cpu/")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="make_cpu_wheels-") as tmp:
        built = build(Path(tmp))
        pe = build_pe(Path(tmp))
        if args.check:
            old = json.loads((OUT / "manifest.json").read_text())
            new = {"wheels": [entry for entry, _ in built], "pe": [entry for entry, _ in pe]}
            if old != new:
                print("manifest.json differs from a fresh build")
                return 1
            print(f"identical: {len(built) + len(pe)} wheels")
            return 0
        write(OUT, built, pe)
    print(f"{len(built) + len(pe)} wheels in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
