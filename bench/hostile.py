"""Benchmark: the hostile corpus, one child process per input, wall time and peak RSS each.

Every input of tests/hostile_corpus.py is built in a temporary directory and run as a user
would (`python -m harness ARGS`), with TWINE_PASSWORD set to a canary. Per input: exit
code (must be one the case allows), wall seconds, peak RSS of the child (os.wait4), whether
stderr holds a traceback, whether the canary appears in stdout, stderr or any file written.
A run that exceeds --timeout counts as a hang. Prints a table and max/p95 of time and RSS.

usage: python bench/hostile.py [--only NAME...] [--small] [--timeout 600] [--json FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its inspect.py would shadow the stdlib module

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from tests.hostile_corpus import CASES, Case, build  # noqa: E402

CANARY = "pypi-hostile-canary-7f3a9c1e5b"


def run_case(case: Case, workdir: Path, timeout: float) -> dict[str, object]:
    env = {**os.environ, "TWINE_PASSWORD": CANARY, "NO_COLOR": "1", "CI": "1", **case.env}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "harness", *case.argv]
    out_path = workdir / "stdout.txt"
    err_path = workdir / "stderr.txt"
    if case.stdout == ">&-":
        stdout_arg: object = None
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", *argv]
    elif case.stdout:
        stdout_arg = open(case.stdout, "wb")  # noqa: SIM115
    else:
        stdout_arg = open(out_path, "wb")  # noqa: SIM115
    with open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            argv,
            stdout=stdout_arg,
            stderr=err,
            env=env,
            cwd=workdir,  # type: ignore[arg-type]
            start_new_session=True,
        )
        hang = False
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                hang = True
                os.killpg(p.pid, signal.SIGKILL)
                _, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    if hasattr(stdout_arg, "close"):
        stdout_arg.close()  # type: ignore[union-attr]
    code = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_bytes() if out_path.exists() else b""
    stderr = err_path.read_bytes()
    leaked = CANARY.encode() in stdout or CANARY.encode() in stderr
    for f in workdir.rglob("*"):
        if f.is_file() and not f.is_symlink() and f.stat().st_size < 256 * 1024**2:
            try:
                if f.suffix != ".whl" and CANARY.encode() in f.read_bytes():
                    leaked = True
            except OSError:
                pass
    missing: list[str] = []
    if case.codes and stdout:
        try:
            doc = json.loads(stdout)
            found = {f["code"] for w in doc["wheels"] for f in w["findings"]}
            missing = [c for c in case.codes if c not in found]
        except (ValueError, KeyError):
            missing = list(case.codes)
    return {
        "name": case.name if case.name else "?",
        "exit": code,
        "exit_ok": code in case.exit_codes,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "traceback": b"Traceback" in stderr,
        "hang": hang,
        "secret_leaked": leaked,
        "missing_codes": missing,
        "stderr_lines": stderr.count(b"\n"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--small", action="store_true", help="skip the large inputs")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--build", nargs=2, metavar=("NAME", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        # child mode: build one input, print its Case (the parent stays small, so the
        # peak RSS a child inherits at fork is not the builder's)
        case = build(args.build[0], Path(args.build[1]))
        print(json.dumps(dataclasses.asdict(case)))
        return 0
    rows = []
    for name in args.only or list(CASES):
        with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
            work = Path(tmp)
            built = subprocess.run(
                [sys.executable, __file__, "--build", name, str(work / "in")],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            raw = json.loads(built.stdout)
            for key in ("argv", "exit_codes", "codes"):
                raw[key] = tuple(raw[key])
            case = Case(**raw)
            if args.small and case.large:
                continue
            row = run_case(case, work, args.timeout)
            row["name"] = name
            rows.append(row)
            print(
                f"{name:<28} exit {row['exit']:>3} {'ok ' if row['exit_ok'] else 'BAD'} "
                f"{row['wall_s']:>7.2f} s {row['peak_rss_mb']:>8.1f} MB"
                + ("  TRACEBACK" if row["traceback"] else "")
                + ("  HANG" if row["hang"] else "")
                + ("  SECRET" if row["secret_leaked"] else "")
                + (f"  missing {row['missing_codes']}" if row["missing_codes"] else ""),
                flush=True,
            )
    walls = sorted(float(r["wall_s"]) for r in rows)  # type: ignore[arg-type]
    rss = sorted(float(r["peak_rss_mb"]) for r in rows)  # type: ignore[arg-type]

    def p95(xs: list[float]) -> float:
        return xs[min(len(xs) - 1, int(0.95 * len(xs)))] if xs else 0.0

    summary = {
        "inputs": len(rows),
        "wall_s_max": max(walls, default=0),
        "wall_s_p95": p95(walls),
        "wall_s_median": statistics.median(walls) if walls else 0,
        "peak_rss_mb_max": max(rss, default=0),
        "peak_rss_mb_p95": p95(rss),
        "tracebacks": sum(1 for r in rows if r["traceback"]),
        "hangs": sum(1 for r in rows if r["hang"]),
        "secrets": sum(1 for r in rows if r["secret_leaked"]),
        "bad_exit": sum(1 for r in rows if not r["exit_ok"]),
        "missing_findings": sum(1 for r in rows if r["missing_codes"]),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    bad = summary["tracebacks"] or summary["hangs"] or summary["secrets"] or summary["bad_exit"]
    return 1 if bad or summary["missing_findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
