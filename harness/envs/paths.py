"""Where the project's trees (matrices/, containers/) and the harness cache live."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UsageError

# The source checkout this module lives in (harness/envs/paths.py -> repo root).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def project_dir(name: str, env_var: str) -> Path:
    """$env_var, else ./name (the project tox/CI run in), else the copy shipped in the
    installed package (harness/_matrices, harness/_containers), else the source tree's."""
    override = os.environ.get(env_var)
    if override:
        return Path(override)
    here = Path.cwd() / name
    if here.is_dir():
        return here
    shipped = Path(__file__).resolve().parents[1] / f"_{name}"
    if shipped.is_dir():
        return shipped
    return _SOURCE_ROOT / name


def containers_dir() -> Path:
    return project_dir("containers", "HARNESS_CONTAINERS_DIR")


def cache_dir() -> Path:
    """$HARNESS_CACHE_DIR, else $XDG_CACHE_HOME/wheel-harness, else ~/.cache/wheel-harness."""
    override = os.environ.get("HARNESS_CACHE_DIR")
    if override:
        path = Path(override)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".cache") / "wheel-harness"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "HARNESS_CACHE_DIR " if override else "cache directory "
        raise UsageError(f"{what}{path}: cannot use it: {exc.strerror or exc}") from None
    return path
