"""Finding: one observation about one wheel, with a stable code (DESIGN.md table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, kw_only=True)
class Finding:
    code: str
    severity: Severity
    message: str
    path: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "path": self.path,
            "evidence": self.evidence,
        }


def error(code: str, message: str, path: str | None = None, **evidence: Any) -> Finding:
    return Finding(
        code=code, severity=Severity.ERROR, message=message, path=path, evidence=evidence
    )


def warning(code: str, message: str, path: str | None = None, **evidence: Any) -> Finding:
    return Finding(
        code=code, severity=Severity.WARNING, message=message, path=path, evidence=evidence
    )
