"""Real wheels from PyPI must come out with no error finding; known-bad real ones flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    report = inspect_wheel(DATA / "real_flagged" / name)
    codes = {f.code for f in report.findings if f.severity is Severity.ERROR}
    assert set(FLAGGED[name]) <= codes
