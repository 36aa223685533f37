"""Static checks. Each module exposes ``check(wheel) -> Iterator[Finding]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from harness.checks import abi, archive, cpu, elf, macho, metadata, pe, record, tags
from harness.findings import Finding, error
from harness.wheel import Wheel

Check = Callable[[Wheel], Iterable[Finding]]

CHECKS: tuple[tuple[str, Check], ...] = (
    ("archive", archive.check),
    ("tags", tags.check),
    ("metadata", metadata.check),
    ("record", record.check),
    ("abi", abi.check),
    ("elf", elf.check),
    ("macho", macho.check),
    ("pe", pe.check),
    ("cpu", cpu.check),
)


def run_checks(wheel: Wheel) -> Iterator[Finding]:
    """Every finding of every check; a check that crashes is itself reported."""
    for name, check in CHECKS:
        try:
            yield from check(wheel)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            yield error(
                "harness.check-crashed",
                f"the {name} check crashed: {type(exc).__name__}: {exc}",
            )
