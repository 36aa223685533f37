"""Static checks. Each module exposes ``check(wheel) -> Iterator[Finding]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from harness.checks import abi, archive, cpu, elf, macho, metadata, pe, record, tags
from harness.checks.options import CheckOptions
from harness.findings import Finding, error
from harness.wheel import Wheel

Check = Callable[[Wheel, CheckOptions], Iterable[Finding]]

CHECKS: tuple[tuple[str, Check], ...] = (
    ("archive", lambda w, _o: archive.check(w)),
    ("tags", lambda w, _o: tags.check(w)),
    ("metadata", lambda w, _o: metadata.check(w)),
    ("record", lambda w, _o: record.check(w)),
    ("abi", lambda w, _o: abi.check(w)),
    ("elf", lambda w, _o: elf.check(w)),
    ("macho", macho.check),
    ("pe", lambda w, _o: pe.check(w)),
    ("cpu", lambda w, _o: cpu.check(w)),
)


def run_checks(wheel: Wheel, options: CheckOptions | None = None) -> Iterator[Finding]:
    """Every finding of every check; a check that crashes is itself reported."""
    opts = options or CheckOptions()
    for name, check in CHECKS:
        try:
            yield from check(wheel, opts)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            yield error(
                "harness.check-crashed",
                f"the {name} check crashed: {type(exc).__name__}: {exc}",
            )
