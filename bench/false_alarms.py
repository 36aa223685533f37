"""Benchmark: false alarms of `harness inspect` on real releases, and its CPU vs the peer chain.

The corpus is bench/corpus.py's: published releases nobody here wrote, every platform PyPI
accepts (one directory per release). PyPI, auditwheel and twine accept all of these files, so
every error finding is a false alarm unless it is a verified real defect listed in
KNOWN_DEFECTS (with the reason). Prints error findings per code and per release, wheels with
errors, and (with --peers) the CPU time of `harness inspect` against the chain users run
today (bench/inspect.py: `auditwheel show` per Linux wheel + check-wheel-contents + twine
check), whole process trees, on the same files.

usage: python bench/corpus.py && python bench/false_alarms.py [--peers] [--runs 1] [CORPUS_DIR]
exit: 0 when there is no false alarm, 1 otherwise.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import json
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Verified real defects in the corpus: (file name glob, code) -> why it is real.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {
    ("blackfire-2026.10.0-*-macosx_15_0_*.whl", "macos.minos"): (
        "the .so's LC_BUILD_VERSION minos is 15.1 (x86_64) / 15.3 (arm64) in a macosx_15_0 "
        "wheel: pip installs it on macOS 15.0, where dyld refuses to load it"
    ),
}


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


corpus = _load("bench_corpus", HERE / "corpus.py")
peers = _load("bench_inspect", HERE / "inspect.py")


def known(filename: str, code: str) -> str | None:
    for (pattern, kcode), why in KNOWN_DEFECTS.items():
        if kcode == code and fnmatch.fnmatch(filename, pattern):
            return why
    return None


def inspect_release(rel: Path, out: Path) -> tuple[float, dict[str, object]]:
    cpu, _wall, rc = peers.cpu_of(
        [peers.tool("harness"), "inspect", str(rel), "--format", "json", "--output", str(out)]
    )
    if rc not in (0, 1):
        raise SystemExit(f"bench: harness inspect {rel} exited {rc}")
    return cpu, json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus_dir", nargs="?", type=Path, default=corpus.default_dest())
    ap.add_argument("--peers", action="store_true", help="also measure the peer chain's CPU")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write per-finding details here")
    args = ap.parse_args()
    releases = sorted(p for p in args.corpus_dir.iterdir() if p.is_dir() and any(p.glob("*.whl")))
    if not releases:
        raise SystemExit(f"bench: no releases under {args.corpus_dir}; run bench/corpus.py first")
    per_code: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    per_code_wheels: dict[str, set[str]] = {}
    real: Counter[str] = Counter()
    rows = []
    details = []
    harness_cpu = 0.0
    n_wheels = 0
    bad_wheels = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # no ./pyproject.toml or ./harness of whatever directory we ran in
        for rel in releases:
            cpus = []
            for _ in range(args.runs):
                cpu, doc = inspect_release(rel, Path(tmp) / "out.json")
                cpus.append(cpu)
            harness_cpu += statistics.median(cpus)
            wheels = doc["wheels"]
            assert isinstance(wheels, list)
            rel_false: Counter[str] = Counter()
            rel_bad = 0
            for w in wheels:
                n_wheels += 1
                bad = False
                for f in w["findings"]:
                    if f["severity"] == "warning":
                        warnings[f["code"]] += 1
                    if f["severity"] != "error":
                        continue
                    why = known(w["filename"], f["code"])
                    if why:
                        real[f["code"]] += 1
                        continue
                    bad = True
                    rel_false[f["code"]] += 1
                    per_code[f["code"]] += 1
                    per_code_wheels.setdefault(f["code"], set()).add(w["filename"])
                    details.append({"wheel": w["filename"], **f})
                rel_bad += bad
            bad_wheels += rel_bad
            rows.append((rel.name, len(wheels), rel_bad, rel_false))
    print(f"{len(releases)} releases, {n_wheels} wheels in {args.corpus_dir}")
    print(f"{'release':34} {'wheels':>6} {'false':>6}  codes")
    for name, n, nbad, codes in rows:
        listed = ", ".join(f"{c} {k}" for c, k in sorted(codes.items()))
        print(f"{name:34} {n:6} {nbad:6}  {listed}")
    print("\nfalse alarms per code (findings / wheels):")
    for code, n in sorted(per_code.items()):
        print(f"  {code:28} {n:5} / {len(per_code_wheels[code])}")
    if not per_code:
        print("  none")
    print("warnings per code (do not fail the gate):")
    for code, n in sorted(warnings.items()):
        print(f"  {code:28} {n:5}")
    print("verified real defects (not counted):")
    for code, n in sorted(real.items()):
        print(f"  {code:28} {n:5}")
    failing = sum(1 for _, _, nbad, _ in rows if nbad)
    print(
        f"\nwheels with a false alarm: {bad_wheels} of {n_wheels} "
        f"({100 * bad_wheels / n_wheels:.1f}%); releases failing for nothing: "
        f"{failing} of {len(releases)}"
    )
    if args.json:
        args.json.write_text(json.dumps(details, indent=1) + "\n")
    print(f"harness inspect CPU (one process per release): {harness_cpu:.2f} s")
    if args.peers:
        all_wheels = [w for rel in releases for w in sorted(rel.glob("*.whl"))]
        linux = [w for w in all_wheels if "linux" in w.name]
        peer_cpu = 0.0
        for label, argvs in {
            "auditwheel show (each Linux wheel)": [
                [peers.tool("auditwheel"), "show", str(w)] for w in linux
            ],
            "check-wheel-contents": [
                [peers.tool("check-wheel-contents"), str(rel)] for rel in releases
            ],
            "twine check": [
                [peers.tool("twine"), "check", *map(str, sorted(rel.glob("*.whl")))]
                for rel in releases
            ],
        }.items():
            cpus = []
            for _ in range(args.runs):
                cpus.append(sum(peers.cpu_of(argv)[0] for argv in argvs))
            c = statistics.median(cpus)
            peer_cpu += c
            print(f"{label:40} {c:8.2f} s CPU")
        print(f"{'peer chain total':40} {peer_cpu:8.2f} s CPU ({len(linux)} Linux wheels)")
        print(f"ratio (peer chain CPU / harness CPU): {peer_cpu / harness_cpu:.1f}x")
    return 1 if per_code else 0


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    sys.exit(main())
