"""The one way the harness runs a subprocess."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfraError


@dataclass(frozen=True, kw_only=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input_text: str | None = None,
) -> Completed:
    """Run ``argv``; capture text output. ``check`` raises InfraError with the tail."""
    args = tuple(str(a) for a in argv)
    try:
        cp = subprocess.run(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InfraError(f"{args[0]}: command not found") from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        errs = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        if check:
            raise InfraError(f"{args[0]}: timed out after {timeout}s") from exc
        return Completed(argv=args, returncode=-1, stdout=out, stderr=errs, timed_out=True)
    done = Completed(argv=args, returncode=cp.returncode, stdout=cp.stdout, stderr=cp.stderr)
    if check and cp.returncode != 0:
        tail = (cp.stderr or cp.stdout).strip().splitlines()[-1:] or [""]
        raise InfraError(f"{' '.join(args[:3])} failed (exit {cp.returncode}): {tail[0]}")
    return done
