"""archive.* and filename.invalid: found while the Wheel was read (harness.wheel)."""

from __future__ import annotations

from collections.abc import Iterator

from harness.findings import Finding
from harness.wheel import Wheel


def check(wheel: Wheel) -> Iterator[Finding]:
    yield from wheel.load_findings
