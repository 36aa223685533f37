"""A PyPI-compatible index: ask its simple API what it has, upload with twine's library.

Before uploading, the index's simple page of the project (PEP 691 JSON, or PEP 503 HTML)
says which files it already holds: same name and sha256 is skipped, same name with other
content is an error (PyPI never lets a file name be reused). Uploads go through
``twine.repository.Repository`` one attempt at a time; the engine retries after asking the
index again, so a file that landed despite an error answer is never sent twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from twine.exceptions import TwineException
from twine.package import PackageFile
from twine.settings import Settings
from urllib3.util.retry import Retry

from harness import __version__
from harness.errors import InfraError, UsageError, WheelsFailed
from harness.promote import warehouse
from harness.promote.destination import (
    Item,
    Presence,
    Remote,
    TransientError,
    hash_file,
    hash_stream,
)
from harness.promote.targets import Target, TargetKind
from harness.redact import Redactor
from harness.simple_index import SIMPLE_ACCEPT, Listed, parse_simple_html, parse_simple_json

TOKEN_USERNAME = "__token__"  # noqa: S105 (PyPI's API-token user name)
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0
MAX_REDIRECTS = 5
MAX_PAGE_BYTES = 64 * 1024 * 1024  # one project page of the simple API
log = logging.getLogger(__name__)
logging.getLogger("twine").addHandler(logging.NullHandler())


@dataclass(frozen=True, kw_only=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def credentials_from_env(env: Mapping[str, str]) -> Credentials | None:
    """TWINE_USERNAME/TWINE_PASSWORD; a password alone is an API token (__token__)."""
    password = env.get("TWINE_PASSWORD", "")
    if not password:
        return None
    username = env.get("TWINE_USERNAME", "") or TOKEN_USERNAME
    return Credentials(username=username, password=password)


class _TimeoutAdapter(HTTPAdapter):
    """twine's session sends without a timeout; a stalled index must not hang a release."""

    def send(  # noqa: PLR0917 (the signature of HTTPAdapter.send)
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=timeout if timeout is not None else (CONNECT_TIMEOUT, READ_TIMEOUT),
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class PypiIndex:
    """One PyPI-compatible index: listing through its simple API, uploads through twine."""

    def __init__(
        self,
        target: Target,
        *,
        credentials: Credentials | None,
        redact: Redactor,
        need_upload: bool = True,
    ) -> None:
        assert target.kind is TargetKind.PYPI
        self.target = target
        self._redact = redact
        self._cache: dict[str, dict[str, Listed]] = {}
        if credentials is not None:
            redact.add_basic_auth(credentials.username, credentials.password)
        elif need_upload:
            raise UsageError(
                f"--to {target.label}: no credentials; set TWINE_PASSWORD to an API token "
                "(and TWINE_USERNAME for a username/password index)"
            )
        self._credentials = credentials
        # Listing: same-origin requests carry the credentials (a private index may want
        # them for `list`/`download`); other origins never see them.
        self._session = requests.Session()
        retry = Retry(total=3, connect=3, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504))
        for scheme in ("http://", "https://"):
            self._session.mount(scheme, _TimeoutAdapter(max_retries=retry))
        self._session.headers["User-Agent"] = f"wheel-harness/{__version__} (promote)"
        self._upload_origin = _origin(target.upload_url)
        self._repository: Any = None

    # ----------------------------------------------------------------- listing

    def _auth_for(self, url: str) -> tuple[str, str] | None:
        if self._credentials is None or _origin(url) != self._upload_origin:
            return None
        return (self._credentials.username, self._credentials.password)

    def _get(
        self, url: str, *, stream: bool = False, accept: str = "*/*"
    ) -> requests.Response | None:
        """GET following redirects only within the same origin. A redirect elsewhere (such
        as pypiserver's default fallback to pypi.org for a project it does not hold) means
        "not on this index": None."""
        start = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                resp = self._session.get(
                    url,
                    headers={"Accept": accept},
                    auth=self._auth_for(url),
                    allow_redirects=False,
                    stream=stream,
                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                )
            except requests.RequestException as exc:
                raise InfraError(
                    self._redact(f"{self.target.label}: cannot reach {url}: {_why(exc)}")
                ) from None
            if resp.is_redirect:
                nxt = urljoin(url, resp.headers.get("location", ""))
                resp.close()
                if _origin(nxt) != start:
                    log.info("%s redirects to another origin: not on this index", url)
                    return None
                url = nxt
                continue
            return resp
        raise InfraError(f"{self.target.label}: too many redirects from {url}")

    def listing(self, project: str, *, fresh: bool = False) -> dict[str, Listed]:
        if not fresh and project in self._cache:
            return self._cache[project]
        url = urljoin(self.target.simple_url, f"{project}/")
        resp = self._get(url, accept=SIMPLE_ACCEPT, stream=True)
        if resp is None:  # redirected to another index: the project is not on this one
            self._cache[project] = {}
            return {}
        with contextlib.closing(resp):
            if resp.status_code == 404:
                found: dict[str, Listed] = {}
            elif resp.status_code in (401, 403):
                raise InfraError(
                    f"{self.target.label}: {url} answered HTTP {resp.status_code}: "
                    "the credentials do not allow listing"
                )
            elif resp.status_code != 200:
                raise InfraError(f"{self.target.label}: {url} answered HTTP {resp.status_code}")
            else:
                body = self._bounded_body(resp, url)
                if "json" in resp.headers.get("content-type", ""):
                    try:
                        found = parse_simple_json(url, json.loads(body))
                    except (ValueError, RecursionError):
                        raise InfraError(f"{self.target.label}: {url}: invalid JSON") from None
                else:
                    found = parse_simple_html(url, body.decode("utf-8", "replace"))
        self._cache[project] = found
        return found

    def _bounded_body(self, resp: requests.Response, url: str) -> bytes:
        """The page, read in chunks up to MAX_PAGE_BYTES (a hostile index cannot make us
        hold gigabytes)."""
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in resp.iter_content(chunk_size=1024 * 1024):
                total += len(chunk)
                if total > MAX_PAGE_BYTES:
                    raise InfraError(
                        f"{self.target.label}: {url}: page larger than {MAX_PAGE_BYTES} bytes"
                    )
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise InfraError(
                self._redact(f"{self.target.label}: reading {url}: {_why(exc)}")
            ) from None
        return b"".join(chunks)

    def check(self, item: Item, *, fresh: bool = False) -> Presence:
        listed = self.listing(item.project, fresh=fresh).get(item.filename)
        if listed is None:
            return Presence(remote=Remote.ABSENT, location="")
        same = self._same_content(item, listed)
        if same:
            return Presence(remote=Remote.SAME, location=listed.url)
        detail = listed.hashes.get("sha256", "content differs")
        return Presence(remote=Remote.DIFFERENT, location=listed.url, detail=detail)

    def refusals(self, item: Item, presence: Presence) -> list[str]:
        """Warehouse's index-side rules (harness.promote.warehouse) for a file not there yet;
        other indexes (pypiserver, devpi, ...) have none of them."""
        if not self.target.warehouse or presence.remote is not Remote.ABSENT:
            return []
        listing = self.listing(item.project)
        return warehouse.refusals(item.filename, item.sha256, listing, now=datetime.now(UTC))

    def _same_content(self, item: Item, listed: Listed) -> bool:
        if "sha256" in listed.hashes:
            return listed.hashes["sha256"] == item.sha256
        for algo, digest in sorted(listed.hashes.items()):
            if algo in hashlib.algorithms_guaranteed:
                return hash_file(item.path, algo) == digest
        # no usable hash on the page: fetch the file and compare
        resp = self._get(listed.url, stream=True)
        if resp is None:
            raise InfraError(
                f"{self.target.label}: {item.filename} is listed but {listed.url} redirects "
                "to another origin"
            )
        with contextlib.closing(resp):
            if resp.status_code != 200:
                raise InfraError(
                    f"{self.target.label}: {item.filename} is listed but {listed.url} "
                    f"answered HTTP {resp.status_code}"
                )
            fetched = hash_stream(resp.raw, "sha256", item.size)
        return fetched == item.sha256

    # ----------------------------------------------------------------- upload

    def _repo(self) -> Any:
        if self._repository is None:
            creds = self._credentials
            assert creds is not None
            try:
                settings = Settings(
                    repository_url=self.target.upload_url,
                    username=creds.username,
                    password=creds.password,
                    non_interactive=True,
                    disable_progress_bar=True,
                )
                repo = settings.create_repository()
            except TwineException as exc:
                raise UsageError(self._redact(f"--to {self.target.label}: {exc}")) from None
            retry = Retry(total=3, connect=3, allowed_methods=["GET"], status_forcelist=())
            for scheme in ("http://", "https://"):
                repo.session.mount(scheme, _TimeoutAdapter(max_retries=retry))
            self._repository = repo
        return self._repository

    def put(self, item: Item) -> str:
        try:
            package = PackageFile.from_filename(str(item.path), None)
        except TwineException as exc:
            raise WheelsFailed(self._redact(f"{item.path}: twine cannot read it: {exc}")) from None
        repo = self._repo()
        try:
            # twine prints "Uploading …" with rich on stdout: keep stdout for our output.
            with contextlib.redirect_stdout(io.StringIO()):
                resp = repo.upload(package, max_redirects=1)  # one attempt; we retry
        except requests.RequestException as exc:
            raise TransientError(self._redact(_why(exc))) from None
        status = int(resp.status_code)
        reason = self._redact(f"HTTP {status} {resp.reason or ''}".strip())
        text = self._redact((resp.text or "").strip().splitlines()[0][:200] if resp.text else "")
        resp.close()
        if status == 200:
            return self._location(item)
        if resp.is_redirect:
            raise InfraError(
                f"{self.target.label}: upload of {item.filename} was redirected; refusing "
                "to follow (wrong URL? use the upload endpoint, e.g. …/legacy/)"
            )
        if status >= 500 or status == 429:
            raise TransientError(reason)
        if status in (401, 403):
            raise InfraError(
                f"{self.target.label}: {reason} uploading {item.filename}: "
                "the credentials were rejected or may not upload this project"
            )
        if status == 409 or (status == 400 and "already" in f"{reason} {text}".lower()):
            presence = self.check(item, fresh=True)
            if presence.remote is Remote.SAME:
                return presence.location
            raise WheelsFailed(
                f"{self.target.label}: {item.filename}: the index refuses the name ({reason}"
                f"{': ' + text if text else ''}); a file name can never be reused, bump the "
                "version or add a build tag"
            )
        raise WheelsFailed(
            f"{self.target.label}: {item.filename} rejected: {reason}{': ' + text if text else ''}"
        )

    def _location(self, item: Item) -> str:
        try:
            listed = self.listing(item.project, fresh=True).get(item.filename)
        except InfraError:
            listed = None
        if listed is not None:
            return listed.url
        return urljoin(self.target.simple_url, f"{item.project}/")

    def finish(self, items: Sequence[Item]) -> list[tuple[str, str]]:
        return []

    def close(self) -> None:
        self._session.close()
        if self._repository is not None:
            self._repository.close()

    def files(self) -> Iterator[Listed]:  # pragma: no cover - debugging aid
        for listed in self._cache.values():
            yield from listed.values()


def _why(exc: BaseException) -> str:
    """A short cause for a requests/urllib3 failure (their messages can be very long)."""
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        for marker in (
            "RemoteDisconnected",
            "Connection refused",
            "Connection reset",
            "Connection aborted",
            "BrokenPipe",
        ):
            if marker in text:
                return f"connection failed ({marker})"
        return "connection failed"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
