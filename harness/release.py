"""Download every wheel of a published release from a package index (PEP 691 / PEP 503).

The simple API is the one interface every index (PyPI, devpi, pypiserver, Artifactory,
an S3 mirror) serves; the JSON form (PEP 691) is asked for first, HTML (PEP 503) parsed
otherwise. Every file is checked against the index's sha256 before it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from harness import console
from harness.envs import paths
from harness.errors import HarnessError, InfraError, UsageError, WheelsFailed
from harness.fsutil import sha256_file
from harness.redact import Redactor
from harness.simple_index import SIMPLE_ACCEPT, Listed, parse_simple_html, parse_simple_json

DEFAULT_INDEX = "https://pypi.org/simple/"


def index_url(given: str | None = None) -> str:
    """The simple index a release is read from: ``given`` (an --index-url), else
    $PIP_INDEX_URL (as pip would), else PyPI."""
    return given or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX


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


MAX_PAGE_BYTES = 64 * 1024 * 1024  # a project page of the simple API
MAX_WHEEL_BYTES = 4 * 1024**3  # one downloaded wheel
_CHUNK = 1024 * 1024


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    """Redirects stay on http(s): an index never sends us to file:// or ftp://."""

    def redirect_request(  # noqa: PLR0917 (urllib's signature)
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        _require_http(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnly)


def _require_http(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise InfraError(f"{_redact(url)}: only http(s) URLs are followed, not {scheme or '?'}:")


def _open(url: str, accept: str | None, timeout: float) -> Any:
    _require_http(url)
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    return _OPENER.open(req, timeout=timeout)


def _errors(url: str, exc: BaseException) -> HarnessError:
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 404:
            return UsageError(f"{_redact(url)}: not found on the index (404)")
        return InfraError(f"{_redact(url)}: index answered HTTP {exc.code}")
    reason = getattr(exc, "reason", exc)
    return InfraError(f"{_redact(url)}: index unreachable ({reason})")


def _get(url: str, accept: str | None = None, timeout: float = 60) -> tuple[bytes, str]:
    try:
        with _open(url, accept, timeout) as resp:
            body = resp.read(MAX_PAGE_BYTES + 1)
            if len(body) > MAX_PAGE_BYTES:
                raise InfraError(f"{_redact(url)}: larger than {MAX_PAGE_BYTES} bytes")
            return body, resp.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
        raise _errors(url, exc) from None


def _download(url: str, target: Path, timeout: float = 300) -> str:
    """Stream ``url`` into ``target`` (via a .part file), bounded; returns its sha256."""
    tmp = target.with_name(f".{target.name}.part")
    h = hashlib.sha256()
    size = 0
    try:
        with _open(url, None, timeout) as resp, open(tmp, "wb") as fh:
            while (chunk := resp.read(_CHUNK)) and size <= MAX_WHEEL_BYTES:
                size += len(chunk)
                h.update(chunk)
                fh.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _errors(url, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if size > MAX_WHEEL_BYTES:
        tmp.unlink()
        raise InfraError(f"{_redact(url)}: larger than {MAX_WHEEL_BYTES} bytes")
    os.replace(tmp, target)
    return h.hexdigest()


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
    return paths.cache_dir() / "releases"


def _bare(filename: str) -> bool:
    """A listed file name is a bare name: no directory part, no NUL, not . or .."""
    return (
        bool(filename)
        and "/" not in filename
        and "\\" not in filename
        and "\x00" not in filename
        and filename not in (".", "..")
        and len(filename.encode("utf-8", "replace")) <= 255
    )


def download_release(spec: str, index_url: str = DEFAULT_INDEX) -> list[Path]:
    """Every wheel of NAME==VERSION, downloaded (cached by sha256) and verified."""
    name, version = parse_spec(spec)
    wheels: list[Listed] = []
    for f in list_files(index_url, name):
        if not f.filename.endswith(".whl") or not _bare(f.filename):
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
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{dest}: cannot create the cache: {exc.strerror or exc}") from None
    out: list[Path] = []
    for i, f in enumerate(sorted(wheels, key=lambda x: x.filename), 1):
        target = dest / f.filename
        expected = f.hashes.get("sha256")
        if target.is_file() and expected and sha256_file(target) == expected:
            out.append(target)
            continue
        console.info(f"downloading [{i}/{len(wheels)}] {f.filename}")
        digest = _download(f.url, target)
        if expected and digest != expected:
            target.unlink(missing_ok=True)
            raise WheelsFailed(f"{f.filename}: sha256 {digest} differs from the index's {expected}")
        out.append(target)
    return out
