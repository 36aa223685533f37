"""One exception family; each kind carries its exit code (DESIGN.md contract).

Library code raises these; only ``harness.__main__`` turns them into a printed
line and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the wheels fail: error findings, failed runs, gate refused
    USAGE = 2  # usage or input error: bad path, bad config, bad matrix
    INFRA = 3  # infrastructure: docker daemon missing, index unreachable


class HarnessError(Exception):
    """Base class. ``str(err)`` is the one-line cause shown to the user."""

    exit_code: ExitCode = ExitCode.FAILED


class WheelsFailed(HarnessError):
    """The wheels themselves fail (gate refused, error findings)."""

    exit_code = ExitCode.FAILED


class UsageError(HarnessError):
    """Bad command line, bad path, nothing to do."""

    exit_code = ExitCode.USAGE


class InputError(UsageError):
    """Bad input file: config, matrix, report. The message names file and key."""


class InfraError(HarnessError):
    """Something outside the wheels is broken: daemon, index, network, image build."""

    exit_code = ExitCode.INFRA
