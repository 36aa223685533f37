"""`--to TARGET` values: pypi, testpypi, a PyPI-compatible upload URL, s3://bucket/prefix."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from harness.errors import UsageError

PYPI_UPLOAD = "https://upload.pypi.org/legacy/"
PYPI_SIMPLE = "https://pypi.org/simple/"
TESTPYPI_UPLOAD = "https://test.pypi.org/legacy/"
TESTPYPI_SIMPLE = "https://test.pypi.org/simple/"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class TargetKind(StrEnum):
    PYPI = "pypi"  # any PyPI-compatible upload endpoint (twine)
    S3 = "s3"  # a bucket + prefix served as a PEP 503 simple index


@dataclass(frozen=True, kw_only=True)
class Target:
    kind: TargetKind
    label: str  # what the user wrote, without credentials: the journal key
    upload_url: str = ""  # PYPI
    simple_url: str = ""  # PYPI: where to ask which files exist
    pypi_rules: bool = True  # refuse what PyPI refuses (platform tags, name/version)
    # the index is warehouse (PyPI, TestPyPI, or a ".../legacy/" upload URL): its index-side
    # rules apply too (no new files in a release older than 14 days, no content twice)
    warehouse: bool = False
    bucket: str = ""  # S3
    prefix: str = ""  # S3, no leading/trailing slash
    endpoint_url: str | None = None  # S3-compatible stores


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(spec: str, *, endpoint_url: str | None = None) -> Target:
    spec = spec.strip()
    if spec == "pypi":
        return Target(
            kind=TargetKind.PYPI,
            label=spec,
            upload_url=PYPI_UPLOAD,
            simple_url=PYPI_SIMPLE,
            warehouse=True,
        )
    if spec == "testpypi":
        return Target(
            kind=TargetKind.PYPI,
            label=spec,
            upload_url=TESTPYPI_UPLOAD,
            simple_url=TESTPYPI_SIMPLE,
            warehouse=True,
        )
    parts = urlsplit(spec)
    if parts.scheme == "s3":
        return _s3(spec, parts.netloc, parts.path, endpoint_url)
    if parts.scheme in ("http", "https"):
        return _repository(spec)
    raise UsageError(
        f"--to {_safe(spec)}: expected pypi, testpypi, an http(s) upload URL or s3://bucket/prefix"
    )


def _safe(spec: str) -> str:
    parts = urlsplit(spec)
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, f"***@{host}{port}", parts.path, "", ""))
    return spec


def _repository(spec: str) -> Target:
    parts = urlsplit(spec)
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"--to {_safe(spec)}: credentials in the URL are not accepted; "
            "set TWINE_USERNAME and TWINE_PASSWORD instead"
        )
    if not parts.hostname:
        raise UsageError(f"--to {spec}: no host")
    if parts.query or parts.fragment:
        raise UsageError(f"--to {spec}: an upload URL takes no query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"--to {spec}: refusing to send credentials over plain http to {parts.hostname}"
        )
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    upload = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    if upload == PYPI_UPLOAD:
        return parse_target("pypi")
    if upload == TESTPYPI_UPLOAD:
        return parse_target("testpypi")
    # warehouse-style ".../legacy/" uploads are browsed at ".../simple/"; pypiserver and
    # most others take uploads at the root and serve "/simple/" under it.
    base = path[: -len("legacy/")] if path.endswith("/legacy/") else path
    simple = urlunsplit((parts.scheme, parts.netloc, base + "simple/", "", ""))
    return Target(
        kind=TargetKind.PYPI,
        label=upload,
        upload_url=upload,
        simple_url=simple,
        warehouse=path.endswith("/legacy/"),
    )


def _s3(spec: str, bucket: str, path: str, endpoint_url: str | None) -> Target:
    if not _BUCKET.match(bucket):
        raise UsageError(f"--to {spec}: {bucket!r} is not a valid bucket name")
    prefix = path.strip("/")
    if any(seg in ("", ".", "..") for seg in prefix.split("/")) and prefix:
        raise UsageError(f"--to {spec}: the prefix has empty, '.' or '..' segments")
    label = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return Target(
        kind=TargetKind.S3,
        label=label,
        bucket=bucket,
        prefix=prefix,
        pypi_rules=False,
        endpoint_url=endpoint_url,
    )
