#!/usr/bin/env python3
"""Download the real-release corpus: published wheels, every platform PyPI accepts.

    python bench/corpus.py                    # download what is missing into the cache dir
    python bench/corpus.py --dest DIR         # elsewhere (default: $HARNESS_CORPUS, else
                                              # ~/.cache/wheel-harness/corpus)
    python bench/corpus.py --list             # print the selection and the platforms it covers

The wheels are downloaded, never committed: one directory per release (`<project>-<version>/`)
so `harness inspect` can run per release. Files are listed from the index's PEP 691 JSON
simple API (the index pip is configured with: $PIP_INDEX_URL or `pip config get
global.index-url`, else pip's default) and each download is checked against the index's
sha256. Releases are pinned (the latest release of each project when the corpus was chosen,
and the exact releases issue 15 measured), so the corpus is the same on every machine.

What it covers (see --list): manylinux and musllinux on x86_64, i686, aarch64, ppc64le,
s390x, armv7l and riscv64; macOS x86_64/arm64/universal2; Windows win32/amd64/arm64; iOS
(PEP 730); Android (PEP 738); pyemscripten (PEP 783); PyPy and GraalPy wheels; abi3 and
pure-Python wheels. Bounded: a few releases with multi-MB wheels are limited to a subset of
their Python versions (PYTHONS below), so the whole corpus stays near 500 MB.
Stdlib only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# (project, version, interpreters): interpreters None = every wheel of the release, else only
# wheels with one of these CPython tags, plus every wheel of another implementation
# (PyPy, GraalPy) and every py3/abi3 wheel.
SELECTION: list[tuple[str, str, frozenset[str] | None]] = [
    # the 14 releases issue 15 measured
    ("orjson", "3.13.0", None),
    ("psutil", "7.2.2", None),
    ("pyyaml", "6.0.4", None),
    ("msgpack", "1.2.4", None),  # pyemscripten
    ("greenlet", "3.5.6", None),  # ppc64le/s390x (ld64.so.1/ld64.so.2)
    ("cffi", "2.1.1", None),  # iOS
    ("markupsafe", "3.0.4", None),  # Android, iOS
    ("pyinstrument", "5.1.3", None),  # GraalPy
    ("line_profiler", "5.1.0", None),
    ("coverage", "7.17.4", None),  # Android, iOS, py3-none-any
    ("charset-normalizer", "3.5.3", None),  # Android, iOS, pyemscripten
    ("ujson", "6.1.0", None),  # PyPy, GraalPy
    ("blackfire", "2026.10.0", None),  # macosx_15_0 with minos 15.1/15.3
    ("zstandard", "0.25.0", frozenset({"cp313"})),  # 374 MB in full
    # and more
    ("yappi", "1.7.6", None),
    ("simplejson", "4.3.0", None),  # cp27, pyemscripten, py3 fallback
    ("rpds-py", "2026.9.1", None),  # PyPy, maturin (musllinux on many arches)
    ("pyzmq", "27.3.0", frozenset({"cp313"})),  # Android, PyPy, vendored libzmq + DLLs
    ("multidict", "7.2.1", frozenset({"cp313"})),  # Android, iOS
    ("bcrypt", "5.0.0", None),  # abi3 across platforms, PyPy
]
MAX_FILE = 64 << 20  # per wheel
MAX_TOTAL = 600 << 20  # the whole corpus

_WHEEL = re.compile(
    r"^(?P<name>[^-]+)-(?P<ver>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


def default_dest() -> Path:
    env = os.environ.get("HARNESS_CORPUS")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "wheel-harness" / "corpus"


def index_url() -> str:
    url = os.environ.get("PIP_INDEX_URL", "")
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
    return (url or "https://pypi.org/simple/").rstrip("/") + "/"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def wanted(filename: str, project: str, version: str, pythons: frozenset[str] | None) -> bool:
    m = _WHEEL.match(filename)
    if m is None or _norm(m["name"]) != _norm(project) or m["ver"] != version:
        return False
    if pythons is None:
        return True
    interps = set(m["py"].split("."))
    abis = set(m["abi"].split("."))
    if interps & pythons:
        return True
    if not any(i.startswith("cp") for i in interps):
        return True  # PyPy, GraalPy, py3
    return "abi3" in abis


def list_files(
    project: str, version: str, pythons: frozenset[str] | None
) -> list[dict[str, object]]:
    url = urllib.parse.urljoin(index_url(), _norm(project).replace("_", "-") + "/")
    req = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        page = json.load(resp)
    out = []
    for f in page["files"]:
        if f.get("yanked") or not wanted(f["filename"], project, version, pythons):
            continue
        f["url"] = urllib.parse.urljoin(url, f["url"])
        out.append(f)
    if not out:
        raise SystemExit(f"corpus: no wheels of {project} {version} on {url}")
    return out


def download(url: str, dest: Path, want: str) -> int:
    with urllib.request.urlopen(url, timeout=300) as resp:
        data = resp.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise SystemExit(f"corpus: {dest.name} is larger than {MAX_FILE} bytes")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise SystemExit(f"corpus: {dest.name}: sha256 {got} != index {want}")
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return len(data)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def platforms_of(names: list[str]) -> Counter[str]:
    """Coarse platform families covered (for --list): os/arch and implementation."""
    seen: Counter[str] = Counter()
    for n in names:
        m = _WHEEL.match(n)
        if m is None:
            continue
        for plat in m["plat"].split("."):
            for prefix in ("manylinux", "musllinux", "macosx", "ios", "android", "pyemscripten"):
                if plat.startswith(prefix):
                    arch = (
                        re.sub(r"^[a-z]+(_\d+)+_", "", plat)
                        if prefix != "manylinux"
                        else (re.sub(r"^manylinux(1|2010|2014|_\d+_\d+)_", "", plat))
                    )
                    seen[f"{prefix} {arch}"] += 1
                    break
            else:
                seen[plat] += 1
        for py in m["py"].split("."):
            if py.startswith("pp"):
                seen["implementation PyPy"] += 1
            elif py.startswith("graalpy"):
                seen["implementation GraalPy"] += 1
        if "abi3" in m["abi"]:
            seen["abi3"] += 1
    return seen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--dest", type=Path, default=default_dest())
    ap.add_argument("--list", action="store_true", help="list the selection, download nothing")
    ap.add_argument("--only", nargs="*", help="only these projects")
    ap.add_argument("--jobs", type=int, default=8, help="parallel downloads (8)")
    args = ap.parse_args(argv)
    dest: Path = args.dest
    total = 0
    names: list[str] = []
    for project, version, pythons in SELECTION:
        if args.only and project not in args.only:
            continue
        files = list_files(project, version, pythons)
        rel = dest / f"{_norm(project)}-{version}"
        size = sum(int(str(f.get("size") or 0)) for f in files)
        total += size
        names += [str(f["filename"]) for f in files]
        print(f"{project} {version}: {len(files)} wheels, {size / 1e6:.1f} MB", flush=True)
        if total > MAX_TOTAL:
            raise SystemExit(f"corpus: selection exceeds {MAX_TOTAL} bytes")
        if args.list:
            continue
        rel.mkdir(parents=True, exist_ok=True)
        listed = {str(f["filename"]) for f in files}
        for stale in rel.glob("*.whl"):
            if stale.name not in listed:
                stale.unlink()
        todo = []
        for f in files:
            path = rel / str(f["filename"])
            want = str(f["hashes"]["sha256"])  # type: ignore[index]
            if not (path.exists() and sha256(path) == want):
                todo.append((str(f["url"]), path, want))
        # the index answers each file in ~0.5 s whatever its size: fetch a few at a time
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(lambda t: download(*t), todo))
    print(f"{len(names)} wheels, {total / 1e6:.1f} MB in {dest}")
    for fam, n in sorted(platforms_of(names).items()):
        print(f"  {fam:40} {n:5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
