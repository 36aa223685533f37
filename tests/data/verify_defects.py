#!/usr/bin/env python3
"""Check the committed test wheels with third-party tools, independently of harness code.

    python tests/data/verify_defects.py [-v] [CASE_ID ...]

For every case in tests/data/defects/manifest.json, every good case there, and every wheel
in tests/data/real/ and tests/data/real_flagged/, this derives finding codes from what the
reference tools say (zipfile, packaging, email.parser, twine check (readme_renderer),
abi3audit, auditwheel show, pyelftools, macholib, pefile) and compares: a defect case must
show each code of its "expect"; a good case and a real/ wheel must show none; a
real_flagged/ wheel must show the codes of real_flagged/EXPECT.json.  Exit 1 on a mismatch.

Needs: pip install auditwheel abi3audit twine readme_renderer packaging pyelftools macholib pefile
(Limits used here, for the record: a member over 512 MiB or ratio over 200:1 is a bomb.)
"""

from __future__ import annotations

import argparse
import base64
import csv
import email.parser
import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import auditwheel
import pefile
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from macholib import mach_o
from macholib.MachO import MachO
from packaging.metadata import Metadata
from packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent
BOMB_SIZE = 512 << 20
BOMB_RATIO = 200

ELF_ARCH = {
    "x86_64": "EM_X86_64",
    "aarch64": "EM_AARCH64",
    "i686": "EM_386",
    "armv7l": "EM_ARM",
    "ppc64le": "EM_PPC64",
    "s390x": "EM_S390",
}
MACHO_ARCH = {
    "x86_64": mach_o.CPU_TYPE_X86_64 if hasattr(mach_o, "CPU_TYPE_X86_64") else 0x01000007,
    "arm64": 0x0100000C,
}
PE_ARCH = {"win32": 0x14C, "win_amd64": 0x8664, "win_arm64": 0xAA64}
WIN_SYSTEM = re.compile(
    r"^(kernel32|user32|advapi32|ws2_32|ntdll|shell32|ole32|oleaut32|bcrypt|crypt32|secur32|"
    r"msvcrt|ucrtbase|vcruntime140(_1)?|msvcp140(_\d)?|api-ms-win-.*|python3\d*|shlwapi|"
    r"version|winmm|iphlpapi|dbghelp|psapi|userenv|rpcrt4|gdi32|comdlg32)\.dll$",
    re.I,
)


def sh(cmd: list[str]) -> tuple[int, str]:
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout + p.stderr


def observe(path: Path) -> dict[str, str]:
    """code -> first piece of evidence, as the third-party tools see the wheel."""
    found: dict[str, str] = {}

    def flag(code: str, why: str) -> None:
        found.setdefault(code, why)

    try:
        name, ver, _build, tags = parse_wheel_filename(path.name)
    except Exception as e:  # packaging's InvalidWheelFilename and friends
        flag("filename.invalid", str(e))
        name, ver, tags = None, None, frozenset()
    try:
        z = zipfile.ZipFile(path)
        bad = z.testzip()
        if bad:
            flag("archive.corrupt", f"testzip: bad CRC in {bad}")
    except zipfile.BadZipFile as e:
        flag("archive.corrupt", str(e))
        return found
    except Exception as e:
        flag(
            "archive.corrupt" if "declared" not in str(e) else "archive.bomb",
            f"{type(e).__name__}: {e}",
        )
        z = zipfile.ZipFile(path)
    infos = z.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        flag("archive.duplicate-name", str(sorted({n for n in names if names.count(n) > 1})))
    for i in infos:
        n = i.filename
        if n.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", n) or ".." in re.split(r"[/\\]", n):
            flag("archive.unsafe-path", n)
        if (i.external_attr >> 16) & 0o170000 == 0o120000:
            flag("archive.unsafe-path", f"symlink {n}")
        if i.file_size > BOMB_SIZE or (
            i.compress_size and i.file_size / i.compress_size > BOMB_RATIO and i.file_size > 1 << 20
        ):
            flag("archive.bomb", f"{n}: {i.file_size} bytes from {i.compress_size}")
    if "archive.bomb" in found:
        return found

    files = {}
    for i in infos:
        if i.is_dir():
            continue
        try:
            files[i.filename] = z.read(i)
        except Exception as e:
            flag("archive.corrupt", f"{i.filename}: {e}")
    dis = sorted({n.split("/")[0] for n in files if n.split("/")[0].endswith(".dist-info")})
    di = dis[0] if dis else None

    # WHEEL
    wheel = files.get(f"{di}/WHEEL") if di else None
    if wheel is None:
        flag("wheel.missing", "no .dist-info/WHEEL")
    else:
        try:
            msg = email.parser.Parser().parsestr(wheel.decode("utf-8"))
            wv = msg.get("Wheel-Version")
            if (
                not wv
                or not re.fullmatch(r"\d+\.\d+", wv.strip())
                or wv.strip().split(".")[0] != "1"
            ):
                flag("wheel.invalid", f"Wheel-Version {wv!r}")
            wtags = {str(t) for line in msg.get_all("Tag") or [] for t in [line.strip()]}
            if tags and wtags != {str(t) for t in tags}:
                flag("wheel.tag-mismatch", f"{sorted(wtags)} vs name")
            binaries = [n for n in files if n.endswith((".so", ".pyd", ".dylib", ".dll"))]
            if (msg.get("Root-Is-Purelib") or "").strip().lower() == "true" and binaries:
                flag("wheel.root-is-purelib", "true with binaries")
        except UnicodeDecodeError as e:
            flag("wheel.invalid", str(e))

    # RECORD
    rec = files.get(f"{di}/RECORD") if di else None
    if rec is None:
        flag("record.missing", "no RECORD")
    else:
        listed = set()
        for row in csv.reader(io.StringIO(rec.decode())):
            if not row:
                continue
            p, h, s = row
            listed.add(p)
            if p == f"{di}/RECORD":
                continue
            if p not in files:
                flag("record.unlisted", f"RECORD lists absent {p}")
                continue
            want = (
                "sha256="
                + base64.urlsafe_b64encode(hashlib.sha256(files[p]).digest()).rstrip(b"=").decode()
            )
            if h != want or (s and int(s) != len(files[p])):
                flag("record.hash-mismatch", p)
        for n in files:
            if n not in listed:
                flag("record.unlisted", f"{n} not in RECORD")

    # METADATA
    meta = files.get(f"{di}/METADATA") if di else None
    if meta is None:
        flag("metadata.missing", "no METADATA")
    else:
        try:
            md = Metadata.from_email(meta, validate=True)
            if name is not None:
                if canonicalize_name(md.name) != canonicalize_name(name) or str(md.version) != str(
                    ver
                ):
                    flag(
                        "metadata.mismatch",
                        f"METADATA {md.name} {md.version} vs file name {name} {ver}",
                    )
                if di and di != f"{str(name).replace('-', '_')}-{ver}.dist-info":
                    flag("metadata.mismatch", f"dist-info dir {di}")
        except Exception as e:
            detail = "; ".join(str(x) for x in getattr(e, "exceptions", [e]))
            # Metadata-Version 2.1 with License-File (setuptools < 77) is what real wheels have;
            # it is not an error of the wheel
            if not all(
                "introduced in metadata version" in str(x) for x in getattr(e, "exceptions", [e])
            ):
                flag("metadata.invalid", detail)
        rc, out = sh([sys.executable, "-m", "twine", "check", str(path)])
        if "would not be rendered" in out or "syntax errors in markup" in out:
            flag("metadata.render", out.strip().splitlines()[-1])

    if name is None or not tags:
        return found
    tag = sorted(tags, key=str)[0]
    plats = {t.platform for t in tags}
    interp = tag.interpreter
    abi = tag.abi

    # extension suffix vs python/abi tag
    for n in files:
        m = re.search(r"\.cpython-(\d+)[^/]*\.so$", n) or re.search(r"\.cp(\d+)-win[^/]*\.pyd$", n)
        if m and abi != "abi3" and interp.startswith("cp") and m.group(1) != interp[2:]:
            flag("abi.extension-suffix", f"{n} in {interp}")
    if abi == "abi3":
        rc, out = sh(["abi3audit", "--strict", str(path)])
        if rc != 0:
            flag("abi.abi3", " ".join(out.split())[:200])

    if any(p.startswith("linux_") for p in plats):
        flag("platform.untagged", str(sorted(plats)))

    # per-binary architecture, libc, macOS, Windows
    for n, data in files.items():
        if data[:4] == b"\x7fELF":
            elf = ELFFile(io.BytesIO(data))
            needed = [
                t.needed
                for s in elf.iter_sections()
                if isinstance(s, DynamicSection)
                for t in s.iter_tags()
                if t.entry.d_tag == "DT_NEEDED"
            ]
            for p in plats:
                arch = re.sub(r"^(many|musl)linux_\d+_\d+_|^manylinux\d+_|^linux_", "", p)
                if arch in ELF_ARCH and elf["e_machine"] != ELF_ARCH[arch]:
                    flag("platform.arch", f"{n}: {elf['e_machine']} in {p}")
                if p.startswith("musllinux") and "libc.so.6" in needed:
                    flag("platform.libc", f"{n}: glibc NEEDED in {p}")
                if p.startswith("manylinux") and any(x.startswith("libc.musl") for x in needed):
                    flag("platform.libc", f"{n}: musl NEEDED in {p}")
        elif data[:4] in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
            with tempfile.NamedTemporaryFile(suffix=".so") as tf:
                tf.write(data)
                tf.flush()
                mo = MachO(tf.name)
                for p in plats:
                    m = re.match(r"macosx_(\d+)_(\d+)_(\w+)$", p)
                    if not m:
                        continue
                    tag_ver = (int(m.group(1)), int(m.group(2)))
                    want = {
                        "universal2": {"x86_64", "arm64"},
                        "x86_64": {"x86_64"},
                        "arm64": {"arm64"},
                    }.get(m.group(3), set())
                    have = set()
                    for h in mo.headers:
                        cpu = {0x01000007: "x86_64", 0x0100000C: "arm64"}.get(
                            h.header.cputype, str(h.header.cputype)
                        )
                        have.add(cpu)
                        for lc, cmd, extra in h.commands:
                            if lc.cmd in (mach_o.LC_BUILD_VERSION, mach_o.LC_VERSION_MIN_MACOSX):
                                v = cmd.minos if lc.cmd == mach_o.LC_BUILD_VERSION else cmd.version
                                minos = (v >> 16, (v >> 8) & 0xFF)
                                eff = max(tag_ver, (11, 0)) if cpu == "arm64" else tag_ver
                                if minos > eff:
                                    flag(
                                        "macos.minos", f"{n} [{cpu}] minos {minos} > tag {tag_ver}"
                                    )
                            if lc.cmd in (
                                mach_o.LC_LOAD_DYLIB,
                                mach_o.LC_LOAD_WEAK_DYLIB,
                                mach_o.LC_REEXPORT_DYLIB,
                            ):
                                lib = extra.rstrip(b"\0").decode()
                                if not lib.startswith(("/usr/lib/", "/System/")) and Path(
                                    lib
                                ).name not in {Path(x).name for x in files}:
                                    flag("macos.library", f"{n} loads {lib}")
                    if have != want:
                        flag("platform.arch", f"{n}: slices {sorted(have)} in {p}")
        elif data[:2] == b"MZ":
            pe = pefile.PE(data=data, fast_load=False)
            for p in plats:
                if p in PE_ARCH and pe.FILE_HEADER.Machine != PE_ARCH[p]:
                    flag("platform.arch", f"{n}: Machine {pe.FILE_HEADER.Machine:#x} in {p}")
            inwheel = {Path(x).name.lower() for x in files}
            for imp in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
                dll = imp.dll.decode()
                if not WIN_SYSTEM.match(dll) and dll.lower() not in inwheel:
                    flag("windows.dll", f"{n} imports {dll}")

    # manylinux / musllinux policy: DT_NEEDED against auditwheel's policy data (libraries not
    # vendored in the wheel), then `auditwheel show` for the symbol versions
    kinds = {
        p.split("_")[0] if p.startswith("manylinux_") or p.startswith("musllinux") else "manylinux"
        for p in plats
        if p.startswith(("manylinux", "musllinux"))
    }
    for kind in sorted(kinds):
        policies = json.loads(
            (Path(auditwheel.__file__).parent / "policy" / f"{kind}-policy.json").read_text()
        )
        inwheel = {Path(x).name for x in files}
        for p in plats:
            if not p.startswith(kind):
                continue
            short = re.sub(r"_(x86_64|aarch64|i686|armv7l|ppc64le|s390x|riscv64)$", "", p)
            pol = next(
                (x for x in policies if x["name"] == short or short in x.get("aliases", [])), None
            )
            if pol is None:
                continue
            allowed = set(pol["lib_whitelist"])
            for n, data in files.items():
                if data[:4] != b"\x7fELF":
                    continue
                elf = ELFFile(io.BytesIO(data))
                for sec in elf.iter_sections():
                    if isinstance(sec, DynamicSection):
                        for t in sec.iter_tags():
                            if t.entry.d_tag != "DT_NEEDED":
                                continue
                            lib = t.needed
                            if lib in allowed or lib in inwheel:
                                continue
                            if (lib == "libc.so.6" and kind == "musllinux") or (
                                lib.startswith("libc.musl-") and kind == "manylinux"
                            ):
                                continue  # that is platform.libc
                            if lib.startswith(("libc.musl-", "ld-musl-")) and kind == "musllinux":
                                continue
                            flag(
                                f"{kind}.library",
                                f"{n} NEEDED {lib}, not in {pol['name']} and not in the wheel",
                            )
    if "manylinux" in kinds and "manylinux.library" not in found and "platform.libc" not in found:
        rc, out = sh(["auditwheel", "show", str(path)])
        text = " ".join(out.split())
        m = re.search(r'This constrains the platform tag to "manylinux_(\d+)_(\d+)_\w+"', text)
        if m:
            need = (int(m.group(1)), int(m.group(2)))
            for p in plats:
                pm = re.match(r"manylinux_(\d+)_(\d+)_", p) or re.match(
                    r"manylinux(2014|2010|1)_", p
                )
                if pm:
                    legacy = {"2014": (2, 17), "2010": (2, 12), "1": (2, 5)}
                    have = (
                        legacy[pm.group(1)]
                        if pm.lastindex == 1
                        else (int(pm.group(1)), int(pm.group(2)))
                    )
                    if need > have:
                        flag(
                            "manylinux.symbol-too-new",
                            f"auditwheel: needs manylinux_{need[0]}_{need[1]}, tagged {p}",
                        )
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("ids", nargs="*")
    args = ap.parse_args(argv)
    manifest = json.loads((HERE / "defects" / "manifest.json").read_text())
    jobs: list[tuple[str, Path, list[str] | None]] = []
    for c in manifest["cases"]:
        jobs.append((c["id"], HERE / "defects" / c["file"], c["expect"]))
    for c in manifest["good"]:
        jobs.append((c["id"], HERE / "defects" / c["file"], []))
    for p in sorted((HERE / "real").glob("*.whl")):
        jobs.append((f"real/{p.name}", p, []))
    flagged = json.loads((HERE / "real_flagged" / "EXPECT.json").read_text())
    for p in sorted((HERE / "real_flagged").glob("*.whl")):
        jobs.append((f"real_flagged/{p.name}", p, flagged[p.name]))
    bad = 0
    for cid, path, expect in jobs:
        if args.ids and cid not in args.ids:
            continue
        seen = observe(path)
        if expect:
            miss = [e for e in expect if e not in seen]
            ok = not miss
        else:
            ok = not seen
            miss = []
        bad += not ok
        status = "ok  " if ok else "FAIL"
        extra = sorted(set(seen) - set(expect or []))
        print(
            f"{status} {cid}: expect {expect or 'nothing'}; tools see {sorted(seen)}"
            + (f" (also {extra})" if extra and expect else "")
        )
        if args.verbose or not ok:
            for code, why in seen.items():
                print(f"       {code}: {why}")
    print(f"{len(jobs)} wheels, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
