"""Real wheels from PyPI must come out with no error finding; known-bad real ones flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checks.options import CheckOptions
from harness.findings import Severity
from harness.inspect import inspect_wheel

DATA = Path(__file__).parent.parent / "data"
REAL = sorted((DATA / "real").glob("*.whl"))
FLAGGED = json.loads((DATA / "real_flagged" / "EXPECT.json").read_text())


def test_real_set_is_large() -> None:
    # yappi 1.7.6's files for every platform + Blackfire probe wheels
    assert len([p for p in REAL if p.name.startswith("yappi-1.7.6-")]) >= 23
    assert any(p.name.startswith("blackfire-") for p in REAL)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_wheel_has_no_error(path: Path) -> None:
    report = inspect_wheel(path)
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    assert errors == []
    assert report.wheel.tags, "tags were parsed from the file name"
    assert any(m.binary for m in report.wheel.members), "every real subject ships a binary"


@pytest.mark.parametrize("name", sorted(FLAGGED), ids=str)
def test_real_flagged_wheel(name: str) -> None:
    strict = CheckOptions(macos_minor_version=Severity.ERROR)
    report = inspect_wheel(DATA / "real_flagged" / name, options=strict)
    codes = {f.code for f in report.findings if f.severity is Severity.ERROR}
    assert set(FLAGGED[name]) <= codes


def test_macos_minor_version_is_a_warning_by_default() -> None:
    # Blackfire's macosx_15_0 .so needs 15.1/15.3: pip installs it on 15.0, where dyld
    # refuses it, but no tag can say 15.3 (delocate tags it 15_0 and warns): a warning
    # that says so, unless [tool.harness] macos-minor-version = "error".
    name = "blackfire-2026.10.0-cp311-cp311-macosx_15_0_arm64.whl"
    report = inspect_wheel(DATA / "real_flagged" / name)
    minos = [f for f in report.findings if f.code == "macos.minos"]
    assert minos
    assert {f.severity for f in minos} == {Severity.WARNING}
    assert "pip installs macosx_15_0 wheels on macOS 15.0" in minos[0].message
    assert minos[0].evidence["minor_only"] is True
