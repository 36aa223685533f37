#!/usr/bin/env python3
"""Re-download the real wheels committed under tests/data/real/.

    python tests/data/fetch_real.py            # download what is missing, verify all
    python tests/data/fetch_real.py --check    # only verify the committed files
    python tests/data/fetch_real.py --refresh  # re-list the index, rewrite MANIFEST.json

The files are listed from the package index's PEP 691 JSON simple API (the index pip is
configured with: $PIP_INDEX_URL or `pip config get global.index-url`, else pip's default),
so every wheel of a release is fetched, not just one per platform; each download is checked
against the index's sha256 and against tests/data/real/MANIFEST.json (filename -> sha256).

What is taken (see SELECTION): every wheel of yappi 1.7.6, a handful of small Blackfire
probe wheels (glibc x86_64/aarch64, musl, macOS x86_64/arm64, Windows) of one release, and
markupsafe 3.0.3's cp313 + cp313t x86_64 wheels (free-threaded).
Stdlib only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REAL = HERE / "real"

# (project, version, filter): filter None = every wheel of the release, else the exact names.
# real/ holds wheels that must come out of `harness inspect` with no error finding.
SELECTION: list[tuple[str, str, frozenset[str] | None]] = [
    ("yappi", "1.7.6", None),
    (
        "blackfire",
        "2026.10.0",
        frozenset(
            {
                "blackfire-2026.10.0-cp311-cp311-manylinux2014_x86_64.whl",
                "blackfire-2026.10.0-cp311-cp311-manylinux2014_aarch64.whl",
                "blackfire-2026.10.0-cp311-cp311-musllinux_1_2_x86_64.whl",
                "blackfire-2026.10.0-cp311-cp311-win_amd64.whl",
            }
        ),
    ),
    # a free-threaded (cp313t) wheel with a C extension, and its GIL twin: the free-threaded
    # env must pick the first, the GIL envs the second
    (
        "markupsafe",
        "3.0.3",
        frozenset(
            {
                "markupsafe-3.0.3-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
                "markupsafe-3.0.3-cp313-cp313t-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
            }
        ),
    ),
]
# One wheel per platform class that once raised a false alarm (issue 15; the whole releases
# are in bench/corpus.py): Android and iOS (PEP 738/730), glibc's ld64.so.2/ld64.so.1 loader
# (ppc64le/s390x), libgcc_s's own GLIBC_2.0 node in a musllinux wheel, PyPy's and GraalPy's
# interpreter DLLs, and Rust's bcryptprimitives.dll.
SELECTION += [
    (
        "markupsafe",
        "3.0.4",
        frozenset(
            {
                "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl",
                "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
                "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl",
            }
        ),
    ),
    (
        "greenlet",
        "3.5.6",
        frozenset(
            {
                "greenlet-3.5.6-cp313-cp313-manylinux_2_24_ppc64le.manylinux_2_28_ppc64le.whl",
                "greenlet-3.5.6-cp313-cp313-manylinux_2_24_s390x.manylinux_2_28_s390x.whl",
                # issue 9: the cp314 wheels only matrices/arches.toml's sid envs install
                # (CPython 3.14 on ppc64le, s390x, riscv64): _greenlet's stack switching is
                # per-arch assembly, run there by the test-command smoke
                "greenlet-3.5.6-cp314-cp314-manylinux_2_24_ppc64le.manylinux_2_28_ppc64le.whl",
                "greenlet-3.5.6-cp314-cp314-manylinux_2_24_s390x.manylinux_2_28_s390x.whl",
                "greenlet-3.5.6-cp314-cp314-manylinux_2_39_riscv64.whl",
            }
        ),
    ),
    ("rpds-py", "2026.9.1", frozenset({"rpds_py-2026.9.1-cp313-cp313-musllinux_1_2_aarch64.whl"})),
    ("ujson", "6.1.0", frozenset({"ujson-6.1.0-pp311-pypy311_pp80-win_amd64.whl"})),
    (
        "pyinstrument",
        "5.1.3",
        frozenset({"pyinstrument-5.1.3-graalpy312-graalpy250_312_native-win_amd64.whl"}),
    ),
    (
        "bcrypt",
        "5.0.0",
        frozenset(
            {
                "bcrypt-5.0.0-cp39-abi3-win_amd64.whl",
                # the libgcc_s auditwheel vendored has DT_RELR relocations: musl before
                # 1.2.4 crashes loading it (exit 139); the musl envs must import it
                "bcrypt-5.0.0-cp39-abi3-musllinux_1_2_x86_64.whl",
            }
        ),
    ),
]
# real_flagged/ holds real published wheels that carry a genuine defect, with the finding
# codes they must produce (the same MANIFEST.json format, plus EXPECT.json: filename -> codes).
FLAGGED: list[tuple[str, str, frozenset[str] | None]] = [
    (
        "blackfire",
        "2026.10.0",
        frozenset(
            {
                # tagged macosx_15_0 but the .so's LC_BUILD_VERSION minos is 15.1 (x86_64)
                # and 15.3 (arm64): dyld on macOS 15.0 refuses to load it.
                "blackfire-2026.10.0-cp311-cp311-macosx_15_0_x86_64.whl",
                "blackfire-2026.10.0-cp311-cp311-macosx_15_0_arm64.whl",
            }
        ),
    ),
]
FLAGGED_EXPECT = {
    "blackfire-2026.10.0-cp311-cp311-macosx_15_0_x86_64.whl": ["macos.minos"],
    "blackfire-2026.10.0-cp311-cp311-macosx_15_0_arm64.whl": ["macos.minos"],
}
MAX_FILE = 1 << 20  # 1 MiB per file
MAX_TOTAL = 10 << 20  # 10 MiB for the whole directory


def index_url() -> str:
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        try:
            url = subprocess.run(
                [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        except OSError:
            url = ""
    if not url:
        from pip._internal.models.index import PyPI  # pip's own default index

        url = PyPI.simple_url
    return url.rstrip("/") + "/"


def list_files(project: str, version: str) -> list[dict[str, object]]:
    url = urllib.parse.urljoin(index_url(), project + "/")
    req = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        page = json.load(resp)
    out = []
    prefix = f"{project.replace('-', '_')}-{version}-"
    for f in page["files"]:
        name = f["filename"]
        if (
            name.endswith(".whl")
            and name.lower().startswith(prefix.lower())
            and not f.get("yanked")
        ):
            f["url"] = urllib.parse.urljoin(url, f["url"])
            out.append(f)
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download(url: str, dest: Path, want: str) -> None:
    with urllib.request.urlopen(url, timeout=120) as resp:
        data = resp.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise SystemExit(f"{dest.name}: larger than {MAX_FILE} bytes")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise SystemExit(f"{dest.name}: sha256 {got} != {want}")
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(dest)


def sync(
    dest: Path, selection: list[tuple[str, str, frozenset[str] | None]], args: argparse.Namespace
) -> int:
    manifest_path = dest / "MANIFEST.json"
    dest.mkdir(exist_ok=True)
    manifest: dict[str, str] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    )

    if not args.check:
        wanted: dict[str, tuple[str, str]] = {}
        listed: dict[str, dict[str, object]] = {}
        for project, version, _ in selection:
            for f in list_files(project, version):
                listed[str(f["filename"])] = f
        if args.refresh or not manifest:
            for project, version, only in selection:
                prefix = f"{project.replace('-', '_')}-{version}-"
                names = {n for n in listed if n.startswith(prefix)}
                if only is not None:
                    missing = only - names
                    if missing:
                        raise SystemExit(f"not on the index: {sorted(missing)}")
                    names = set(only)
                for n in names:
                    wanted[n] = (str(listed[n]["url"]), listed[n]["hashes"]["sha256"])  # type: ignore[index]
            manifest = {k: v[1] for k, v in sorted(wanted.items())}
        else:
            for name, digest in manifest.items():
                if not (dest / name).exists() or sha256(dest / name) != digest:
                    if name not in listed:
                        raise SystemExit(f"{name}: no longer on the index")
                    wanted[name] = (str(listed[name]["url"]), digest)
        for name, (url, digest) in sorted(wanted.items()):
            path = dest / name
            if path.exists() and sha256(path) == digest:
                continue
            print(f"download {dest.name}/{name}")
            download(url, path, digest)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    bad = 0
    total = 0
    for name, digest in manifest.items():
        path = dest / name
        if not path.exists():
            print(f"MISSING {dest.name}/{name}")
            bad += 1
            continue
        total += path.stat().st_size
        if sha256(path) != digest:
            print(f"BAD SHA256 {dest.name}/{name}")
            bad += 1
    for name in sorted(p.name for p in dest.glob("*.whl") if p.name not in manifest):
        print(f"NOT IN MANIFEST {dest.name}/{name}")
        bad += 1
    print(f"{dest.name}: {len(manifest)} wheels, {total} bytes, {bad} problems")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify only, no network")
    ap.add_argument(
        "--refresh", action="store_true", help="re-list the index and rewrite MANIFEST.json"
    )
    args = ap.parse_args(argv)
    bad = sync(REAL, SELECTION, args)
    bad += sync(HERE / "real_flagged", FLAGGED, args)
    if not args.check:
        (HERE / "real_flagged" / "EXPECT.json").write_text(
            json.dumps(FLAGGED_EXPECT, indent=1, sort_keys=True) + "\n"
        )
    total = sum(
        p.stat().st_size for d in ("real", "real_flagged") for p in (HERE / d).glob("*.whl")
    )
    if total > MAX_TOTAL:
        print(f"total {total} exceeds {MAX_TOTAL}")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
