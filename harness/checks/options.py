"""What a user may tune about the static checks ([tool.harness] and the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.findings import Severity


@dataclass(frozen=True, kw_only=True)
class CheckOptions:
    # Severity of macos.minos when a binary needs macOS X.Y (X >= 11, Y > 0) inside a
    # macosx_X_0 wheel: no tag can say X.Y (pip generates only X_0 tags since macOS 11, so
    # it installs the wheel on X.0, where dyld refuses the binary); delocate tags such
    # wheels X_0 with a warning. Default: warning. ([tool.harness] macos-minor-version)
    macos_minor_version: Severity = Severity.WARNING
