"""Download every wheel of a published release from a package index (PEP 691 / PEP 503).

The simple API is the one interface every index (PyPI, devpi, pypiserver, Artifactory,
an S3 mirror) serves; the JSON form (PEP 691) is asked for first, HTML (PEP 503) parsed
otherwise. Every file is checked against the index's sha256 before it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from harness import console
from harness.errors import InfraError, UsageError, WheelsFailed
from harness.fsutil import sha256_file
from harness.redact import Redactor
from harness.simple_index import SIMPLE_ACCEPT, Listed, parse_simple_html, parse_simple_json

DEFAULT_INDEX = "https://pypi.org/simple/"


def parse_spec(spec: str) -> tuple[str, Version]:
    name, sep, version = spec.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise UsageError(f"--release {spec!r}: expected NAME==VERSION, e.g. yappi==1.7.6")
    try:
        return name.strip(), Version(version.strip())
    except InvalidVersion as exc:
        raise UsageError(f"--release {spec!r}: invalid version ({exc})") from exc


def _redact(url: str) -> str:
    return Redactor.from_env(os.environ)(url)


def _get(url: str, accept: str | None = None, timeout: float = 60) -> tuple[bytes, str]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise UsageError(f"{_redact(url)}: not found on the index (404)") from exc
        raise InfraError(f"{_redact(url)}: index answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InfraError(f"{_redact(url)}: index unreachable ({reason})") from exc


def list_files(index_url: str, project: str) -> list[Listed]:
    base = index_url.rstrip("/") + "/"
    url = urllib.parse.urljoin(base, canonicalize_name(project) + "/")
    body, ctype = _get(url, SIMPLE_ACCEPT)
    if "json" in ctype:
        try:
            listed = parse_simple_json(url, json.loads(body))
        except json.JSONDecodeError as exc:
            raise InfraError(f"{_redact(url)}: the index sent invalid JSON ({exc})") from exc
    else:
        listed = parse_simple_html(url, body.decode("utf-8", "replace"))
    return list(listed.values())


def cache_dir() -> Path:
    root = os.environ.get("HARNESS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wheel-harness"
    )
    return Path(root) / "releases"


def download_release(spec: str, index_url: str = DEFAULT_INDEX) -> list[Path]:
    """Every wheel of NAME==VERSION, downloaded (cached by sha256) and verified."""
    name, version = parse_spec(spec)
    wheels: list[Listed] = []
    for f in list_files(index_url, name):
        if not f.filename.endswith(".whl"):
            continue
        try:
            _, v, _, _ = parse_wheel_filename(f.filename)
        except InvalidWheelFilename:
            continue
        if v == version:
            wheels.append(f)
    if not wheels:
        raise UsageError(f"{name}=={version}: no wheels of this release on {_redact(index_url)}")
    dest = cache_dir() / f"{canonicalize_name(name)}-{version}"
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for i, f in enumerate(sorted(wheels, key=lambda x: x.filename), 1):
        target = dest / f.filename
        expected = f.hashes.get("sha256")
        if target.is_file() and expected and sha256_file(target) == expected:
            out.append(target)
            continue
        console.info(f"downloading [{i}/{len(wheels)}] {f.filename}")
        data, _ = _get(f.url, timeout=300)
        digest = hashlib.sha256(data).hexdigest()
        if expected and digest != expected:
            raise WheelsFailed(f"{f.filename}: sha256 {digest} differs from the index's {expected}")
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        out.append(target)
    return out
