"""Environments: one module per kind (docker.py, host.py), all behind one protocol (base.py).

Import what verify/coverage need from here; :func:`environment` picks the kind.
"""

from __future__ import annotations

from harness.envs.base import (
    CellSession,
    Environment,
    EnvKind,
    EnvSpec,
    EnvStatus,
    ExecResult,
    Limits,
    Mount,
    Probe,
    Session,
    SharedSession,
)

__all__ = [
    "CellSession",
    "EnvKind",
    "EnvSpec",
    "EnvStatus",
    "Environment",
    "ExecResult",
    "Limits",
    "Mount",
    "Probe",
    "Session",
    "SharedSession",
    "environment",
]


def environment(spec: EnvSpec) -> Environment:
    """The Environment for a spec (docker kinds import nothing until used)."""
    from harness.envs import docker, host

    if spec.kind is EnvKind.HOST:
        return host.HostEnvironment(spec)
    return docker.DockerEnvironment(spec)
