#!/usr/bin/env python3
"""Re-download the real wheels committed under tests/data/real/.

    python tests/data/fetch_real.py            # download what is missing, verify all
    python tests/data/fetch_real.py --check    # only verify the committed files
    python tests/data/fetch_real.py --refresh  # re-list the index, rewrite MANIFEST.json

The files are listed from the package index's PEP 691 JSON simple API (the index pip is
configured with: $PIP_INDEX_URL or `pip config get global.index-url`, else pip's default),
so every wheel of a release is fetched, not just one per platform; each download is checked
against the index's sha256 and against tests/data/real/MANIFEST.json (filename -> sha256).

What is taken (see SELECTION): every wheel of yappi 1.7.6, and a handful of small Blackfire
probe wheels (glibc x86_64/aarch64, musl, macOS x86_64/arm64, Windows) of one release.
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
MANIFEST = REAL / "MANIFEST.json"

# (project, version, filter): filter None = every wheel of the release, else the exact names.
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
                "blackfire-2026.10.0-cp311-cp311-macosx_15_0_x86_64.whl",
                "blackfire-2026.10.0-cp311-cp311-macosx_15_0_arm64.whl",
                "blackfire-2026.10.0-cp311-cp311-win_amd64.whl",
            }
        ),
    ),
]
MAX_FILE = 1 << 20  # 1 MiB per file
MAX_TOTAL = 10 << 20  # 10 MiB for the whole directory


def index_url() -> str:
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        try:
            url = subprocess.run(
                [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                capture_output=True, text=True, check=False,
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
        if name.endswith(".whl") and name.lower().startswith(prefix.lower()) and not f.get("yanked"):
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify only, no network")
    ap.add_argument("--refresh", action="store_true", help="re-list the index and rewrite MANIFEST.json")
    args = ap.parse_args(argv)

    REAL.mkdir(exist_ok=True)
    manifest: dict[str, str] = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}

    if not args.check:
        wanted: dict[str, tuple[str, str]] = {}
        if args.refresh or not manifest:
            for project, version, only in SELECTION:
                files = list_files(project, version)
                if only is not None:
                    files = [f for f in files if f["filename"] in only]
                    missing = only - {str(f["filename"]) for f in files}
                    if missing:
                        raise SystemExit(f"not on the index: {sorted(missing)}")
                for f in files:
                    wanted[str(f["filename"])] = (str(f["url"]), f["hashes"]["sha256"])  # type: ignore[index]
            manifest = {k: v[1] for k, v in sorted(wanted.items())}
        else:
            by_project: dict[str, dict[str, object]] = {}
            for project, version, _ in SELECTION:
                for f in list_files(project, version):
                    by_project[str(f["filename"])] = f
            for name, digest in manifest.items():
                if not (REAL / name).exists() or sha256(REAL / name) != digest:
                    if name not in by_project:
                        raise SystemExit(f"{name}: no longer on the index")
                    wanted[name] = (str(by_project[name]["url"]), digest)
        for name, (url, digest) in sorted(wanted.items()):
            dest = REAL / name
            if dest.exists() and sha256(dest) == digest:
                continue
            print(f"download {name}")
            download(url, dest, digest)
        MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    bad = 0
    total = 0
    for name, digest in manifest.items():
        path = REAL / name
        if not path.exists():
            print(f"MISSING {name}")
            bad += 1
            continue
        total += path.stat().st_size
        if sha256(path) != digest:
            print(f"BAD SHA256 {name}")
            bad += 1
    extra = sorted(p.name for p in REAL.glob("*.whl") if p.name not in manifest)
    for name in extra:
        print(f"NOT IN MANIFEST {name}")
        bad += 1
    print(f"{len(manifest)} wheels, {total} bytes, {bad} problems")
    if total > MAX_TOTAL:
        print(f"total {total} exceeds {MAX_TOTAL}")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
