"""Every defect wheel produced by tests/data/make_defects.py gets its finding code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.findings import Severity
from harness.inspect import inspect_wheel

DEFECTS = Path(__file__).parent.parent / "data" / "defects"
MANIFEST: dict[str, Any] = json.loads((DEFECTS / "manifest.json").read_text())
CASES = MANIFEST["cases"]
GOOD = MANIFEST.get("good", [])

# DESIGN.md's finding-code table: every code must be produced by at least one defect.
DESIGN_CODES = {
    "archive.corrupt",
    "archive.unsafe-path",
    "archive.bomb",
    "archive.duplicate-name",
    "filename.invalid",
    "wheel.missing",
    "wheel.invalid",
    "wheel.tag-mismatch",
    "wheel.root-is-purelib",
    "record.missing",
    "record.hash-mismatch",
    "record.unlisted",
    "metadata.missing",
    "metadata.invalid",
    "metadata.mismatch",
    "metadata.render",
    "abi.extension-suffix",
    "abi.abi3",
    "platform.untagged",
    "platform.arch",
    "platform.libc",
    "manylinux.symbol-too-new",
    "manylinux.library",
    "musllinux.library",
    "macos.minos",
    "macos.library",
    "windows.dll",
}
WARNING_CODES = {"wheel.root-is-purelib"}


def test_every_design_code_has_a_defect() -> None:
    covered = {code for case in CASES for code in case["expect"]}
    assert DESIGN_CODES - covered == set()
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_defect_is_found(case: dict[str, Any]) -> None:
    report = inspect_wheel(DEFECTS / case["file"])
    codes = {f.code for f in report.findings}
    missing = set(case["expect"]) - codes
    assert not missing, f"{case['why']}: got {sorted(codes)}"
    for f in report.findings:
        if f.code in case["expect"]:
            want = Severity.WARNING if f.code in WARNING_CODES else Severity.ERROR
            assert f.severity is want
    assert "harness.check-crashed" not in codes


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c["id"])
def test_good_compiled_wheel_passes(case: dict[str, Any]) -> None:
    report = inspect_wheel(DEFECTS / case["file"])
    assert [f for f in report.findings if f.severity is Severity.ERROR] == []
