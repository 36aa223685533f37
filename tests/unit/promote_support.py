"""Helpers for the promote tests: small valid wheels, and report.json files that follow the
harness-report/1 contract (DESIGN.md), as `harness verify` will write them."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
YAPPI_CP311 = (
    "yappi-1.7.6-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_wheel(
    directory: Path,
    *,
    name: str = "harness_promote_demo",
    version: str = "1.0.0",
    tag: str = "py3-none-any",
    requires_python: str | None = ">=3.8",
    meta_name: str | None = None,
    meta_version: str | None = None,
    payload: str = "",
) -> Path:
    """A small, valid, installable pure wheel (RECORD with sha256 of every member)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    module = f'__version__ = "{version}"\nPAYLOAD = {payload!r}\n'
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {meta_name or name}",
        f"Version: {meta_version or version}",
        "Summary: a tiny wheel for harness promote tests",
    ]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    members = {
        f"{dist}/__init__.py": module,
        f"{dist_info}/METADATA": "\n".join(meta) + "\n\n",
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: promote-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ),
    }
    record = []
    for arcname, text in members.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arcname},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    path = directory / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, text in members.items():
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
    return path


def report_doc(
    wheels: Sequence[Path],
    *,
    verdict: str = "pass",
    findings: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    run_status: Mapping[str, str] | None = None,
    record_paths: bool = True,
) -> dict[str, Any]:
    """A valid harness-report/1 document for these wheel files."""
    findings = findings or {}
    run_status = run_status or {}
    inspect_wheels = []
    runs = []
    for w in wheels:
        digest = sha256(w)
        tags = w.name[:-4].split("-")[-3:]
        inspect_wheels.append(
            {
                "filename": w.name,
                "sha256": digest,
                "tags": ["-".join(tags)],
                "path": str(w.resolve()) if record_paths else None,
                "findings": list(findings.get(w.name, [])),
            }
        )
        status = run_status.get(w.name, "passed")
        run: dict[str, Any] = {
            "env": "host",
            "python": "3.11",
            "wheel": {"filename": w.name, "sha256": digest},
            "status": status,
            "duration_s": 1.5,
            "steps": [{"name": "install", "status": status, "output_tail": "ok"}],
        }
        if status != "passed":
            run["reason"] = "smoke test crashed"
        runs.append(run)
    return {
        "schema": "harness-report/1",
        "harness": {"version": "0.1.0"},
        "created": "2025-01-01T00:00:00+00:00",
        "config": {},
        "inspect": {"schema": "harness-inspect/1", "wheels": inspect_wheels},
        "runs": runs,
        "verdict": verdict,
    }


def write_report(report_dir: Path, wheels: Sequence[Path], **kwargs: Any) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / "report.json"
    path.write_text(json.dumps(report_doc(wheels, **kwargs), indent=1))
    return path
