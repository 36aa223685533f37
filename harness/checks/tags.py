"""Tags against PEP 425/600/656 and what PyPI accepts: platform.untagged, filename.invalid."""

from __future__ import annotations

import re
from collections.abc import Iterator

from harness.checks.platforms import parse_platform, pypi_refusal
from harness.findings import Finding, error
from harness.wheel import Wheel

_INTERPRETER = re.compile(r"^(py|cp|pp|ip|jy|graalpy)(\d+)?$")
_ABI = re.compile(r"^(none|abi3|(cp|pp|graalpy)\d+[a-z_]*|pypy\d+_pp\d+|graalpy\d+_\w+)$")


def check(wheel: Wheel) -> Iterator[Finding]:
    platforms = sorted(wheel.platforms)
    for tag in sorted({t.interpreter for t in wheel.tags}):
        if not _INTERPRETER.match(tag):
            yield error("filename.invalid", f"unknown Python tag {tag!r} (PEP 425)", tag=tag)
    for tag in sorted({t.abi for t in wheel.tags}):
        if not _ABI.match(tag):
            yield error("filename.invalid", f"unknown ABI tag {tag!r} (PEP 425)", tag=tag)
    for t in sorted(wheel.tags, key=str):
        if t.abi.startswith("cp") and t.interpreter.startswith("cp"):
            abi_digits = re.match(r"cp(\d+)", t.abi)
            if abi_digits and abi_digits[1] != t.interpreter[2:]:
                yield error(
                    "filename.invalid",
                    f"tag {t} pairs the {t.interpreter} interpreter with the {t.abi} ABI",
                    tag=str(t),
                )
    for plat in platforms:
        reason = pypi_refusal(parse_platform(plat))
        if reason is not None:
            yield error("platform.untagged", reason, tag=plat)
    if "any" in platforms and len(platforms) > 1:
        yield error(
            "platform.untagged", "'any' combined with specific platform tags", tags=platforms
        )
