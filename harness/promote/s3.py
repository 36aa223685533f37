"""An S3 (or S3-compatible) bucket served as a PEP 503 simple index that pip can use.

Layout under ``s3://bucket/prefix``::

    prefix/packages/<project>/<wheel>       the files (sha256 and Requires-Python in metadata)
    prefix/simple/<project>/index.html      the project page (and the same page at the key
    prefix/simple/<project>/                 ending in "/", for plain REST endpoints)
    prefix/simple/index.html, prefix/simple/ the root page

pip: ``pip install --index-url https://<endpoint>/<bucket>/<prefix>/simple/ <project>``.
Files first, then project pages, the root page last: an interrupted promotion never
advertises a file that is not there. A file already present with the same sha256 is not
sent again; with other content it is an error (never overwritten).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from harness.errors import InfraError, UsageError
from harness.promote.destination import Item, Presence, Remote, TransientError, hash_stream
from harness.promote.targets import Target, TargetKind
from harness.redact import Redactor

WHEEL_CONTENT_TYPE = "application/octet-stream"
PAGE_CONTENT_TYPE = "text/html; charset=utf-8"
META_SHA256 = "sha256"
META_REQUIRES_PYTHON = "requires-python"
_TRANSIENT = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
)


@dataclass(frozen=True, kw_only=True)
class MirrorFile:
    filename: str
    sha256: str
    requires_python: str | None


def project_page(project: str, files: Sequence[MirrorFile]) -> str:
    """PEP 503 project page; links relative to ``simple/<project>/``."""
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        '    <meta name="pypi:repository-version" content="1.0">',
        f"    <title>Links for {html.escape(project)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {html.escape(project)}</h1>",
    ]
    for f in sorted(files, key=lambda f: f.filename):
        href = f"../../packages/{quote(project)}/{quote(f.filename)}#sha256={f.sha256}"
        rp = (
            f' data-requires-python="{html.escape(f.requires_python, quote=True)}"'
            if f.requires_python
            else ""
        )
        lines.append(f'    <a href="{html.escape(href)}"{rp}>{html.escape(f.filename)}</a><br>')
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines)


def root_page(projects: Sequence[str]) -> str:
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        '    <meta name="pypi:repository-version" content="1.0">',
        "    <title>Simple index</title>",
        "  </head>",
        "  <body>",
    ]
    for p in sorted(set(projects)):
        lines.append(f'    <a href="{quote(p)}/">{html.escape(p)}</a><br>')
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines)


class S3Mirror:
    def __init__(self, target: Target, *, redact: Redactor, client: Any = None) -> None:
        assert target.kind is TargetKind.S3
        self.target = target
        self._redact = redact
        if client is None:
            config = Config(
                # No hidden retries: a PUT whose answer was lost must not be sent again
                # blindly; the engine retries after asking (HEAD) whether it landed.
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=10,
                read_timeout=120,
                # S3-compatible stores differ on the newer default checksums; we send
                # Content-MD5 ourselves, which every store verifies.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"} if target.endpoint_url else None,
            )
            try:
                client = boto3.client("s3", endpoint_url=target.endpoint_url, config=config)
            except BotoCoreError as exc:
                raise UsageError(self._redact(f"--to {target.label}: {exc}")) from None
        self._s3 = client

    # ----------------------------------------------------------------- keys

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.target.prefix, *parts) if p)

    def file_key(self, item: Item) -> str:
        return self._key("packages", item.project, item.filename)

    def location(self, key: str) -> str:
        return f"s3://{self.target.bucket}/{key}"

    # ----------------------------------------------------------------- errors

    def _call(self, what: str, fn: Any, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.target.bucket, **kwargs)
        except NoCredentialsError:
            raise UsageError(
                f"--to {self.target.label}: no AWS credentials (AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, a profile, or an instance role)"
            ) from None
        except _TRANSIENT as exc:
            raise TransientError(self._redact(f"{what}: {exc}")) from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if missing_ok and (status == 404 or code in ("404", "NoSuchKey", "NotFound")):
                return None
            msg = self._redact(f"{what}: {code or status} {err.get('Message', '')}".strip())
            if status >= 500 or code in ("SlowDown", "InternalError", "RequestTimeout"):
                raise TransientError(msg) from None
            if code == "NoSuchBucket":
                raise InfraError(f"{self.target.label}: bucket does not exist") from None
            if status == 403 or code in ("AccessDenied", "InvalidAccessKeyId"):
                raise InfraError(f"{self.target.label}: access denied ({msg})") from None
            raise InfraError(f"{self.target.label}: {msg}") from None
        except BotoCoreError as exc:
            raise InfraError(self._redact(f"{self.target.label}: {what}: {exc}")) from None

    def _head(self, key: str) -> dict[str, Any] | None:
        head = self._call(f"HEAD {key}", self._s3.head_object, missing_ok=True, Key=key)
        return None if head is None else dict(head)

    # ----------------------------------------------------------------- files

    def check(self, item: Item, *, fresh: bool = False) -> Presence:
        key = self.file_key(item)
        head = self._head(key)
        if head is None:
            return Presence(remote=Remote.ABSENT, location="")
        recorded = (head.get("Metadata") or {}).get(META_SHA256)
        if recorded is None:
            obj = self._call(f"GET {key}", self._s3.get_object, Key=key)
            recorded = hash_stream(obj["Body"], "sha256", item.size) or "larger than ours"
        if recorded == item.sha256:
            return Presence(remote=Remote.SAME, location=self.location(key))
        return Presence(remote=Remote.DIFFERENT, location=self.location(key), detail=recorded)

    def refusals(self, item: Item, presence: Presence) -> list[str]:
        return []  # a bucket takes any new key; a key with other content is never overwritten

    def put(self, item: Item) -> str:
        key = self.file_key(item)
        md5 = hashlib.md5()
        with item.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                md5.update(chunk)
        metadata = {META_SHA256: item.sha256}
        if item.requires_python:
            metadata[META_REQUIRES_PYTHON] = quote(item.requires_python, safe="<>=!~,. *")
        with item.path.open("rb") as body:
            self._call(
                f"PUT {key}",
                self._s3.put_object,
                Key=key,
                Body=body,
                ContentType=WHEEL_CONTENT_TYPE,
                ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
                CacheControl="public, max-age=31536000, immutable",
                Metadata=metadata,
            )
        return self.location(key)

    # ----------------------------------------------------------------- index

    def _list(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        token: str | None = None
        for _ in range(100_000):  # bounded: 100k pages of 1000 keys
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(f"LIST {prefix}", self._s3.list_objects_v2, **kwargs)
            yield page
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def mirror_files(self, project: str, known: Sequence[Item]) -> list[MirrorFile]:
        """Every wheel of the project in the mirror (not only this promotion's)."""
        by_name = {i.filename: i for i in known}
        prefix = self._key("packages", project) + "/"
        out: list[MirrorFile] = []
        for page in self._list(prefix):
            for obj in page.get("Contents", []):
                filename = str(obj["Key"])[len(prefix) :]
                if "/" in filename or not filename.endswith(".whl"):
                    continue
                if filename in by_name:
                    i = by_name[filename]
                    out.append(MirrorFile(filename=filename, sha256=i.sha256,
                                          requires_python=i.requires_python))  # fmt: skip
                    continue
                head = self._head(str(obj["Key"])) or {}
                meta = head.get("Metadata") or {}
                if META_SHA256 not in meta:
                    continue  # not uploaded by the harness: never advertise an unpinned file
                rp = meta.get(META_REQUIRES_PYTHON)
                out.append(
                    MirrorFile(
                        filename=filename,
                        sha256=str(meta[META_SHA256]),
                        requires_python=unquote(rp) if rp else None,
                    )
                )
        return out

    def projects(self) -> list[str]:
        prefix = self._key("packages") + "/"
        names: list[str] = []
        for page in self._list(prefix, delimiter="/"):
            for cp in page.get("CommonPrefixes", []):
                names.append(str(cp["Prefix"])[len(prefix) :].strip("/"))
        return names

    def _write_page(self, keys: Sequence[str], text: str) -> list[tuple[str, str]]:
        data = text.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        written: list[tuple[str, str]] = []
        for key in keys:
            head = self._head(key)
            if head is not None and (head.get("Metadata") or {}).get(META_SHA256) == digest:
                continue  # already this page: idempotent reruns write nothing
            self._call(
                f"PUT {key}",
                self._s3.put_object,
                Key=key,
                Body=data,
                ContentType=PAGE_CONTENT_TYPE,
                ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode("ascii"),
                CacheControl="no-cache",
                Metadata={META_SHA256: digest},
            )
            written.append((key, digest))
        return written

    def finish(self, items: Sequence[Item]) -> list[tuple[str, str]]:
        written: list[tuple[str, str]] = []
        for project in sorted({i.project for i in items}):
            files = self.mirror_files(project, [i for i in items if i.project == project])
            page = project_page(project, files)
            base = self._key("simple", project)
            written += self._write_page([f"{base}/index.html", f"{base}/"], page)
        base = self._key("simple")
        written += self._write_page([f"{base}/index.html", f"{base}/"], root_page(self.projects()))
        return written

    def close(self) -> None:
        close = getattr(self._s3, "close", None)
        if callable(close):
            close()
