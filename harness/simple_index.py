"""The simple repository API (PEP 503 HTML, PEP 691 JSON): one parser for every reader.

Used by ``--release`` (download a published release) and by promotion (what an index
already has). Stdlib only, so ``harness verify`` does not import requests/twine for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)


@dataclass(frozen=True, kw_only=True)
class Listed:
    filename: str
    url: str
    hashes: Mapping[str, str]
    upload_time: datetime | None = None  # PEP 700 (JSON pages of PyPI and some others)


class _Links(HTMLParser):
    """PEP 503 anchors: (href, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_simple_html(page_url: str, text: str) -> dict[str, Listed]:
    parser = _Links()
    parser.feed(text)
    out: dict[str, Listed] = {}
    for href, label in parser.links:
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        filename = unquote(parts.path.rsplit("/", 1)[-1]) or label
        hashes: dict[str, str] = {}
        if "=" in parts.fragment:
            algo, _, digest = parts.fragment.partition("=")
            hashes[algo.lower()] = digest.lower()
        out[filename] = Listed(filename=filename, url=url.split("#", 1)[0], hashes=hashes)
    return out


def parse_simple_json(page_url: str, doc: Any) -> dict[str, Listed]:
    out: dict[str, Listed] = {}
    files = doc.get("files", []) if isinstance(doc, dict) else []
    for f in files if isinstance(files, list) else []:
        if not isinstance(f, dict) or not isinstance(f.get("filename"), str):
            continue
        hashes = f.get("hashes") if isinstance(f.get("hashes"), dict) else {}
        out[f["filename"]] = Listed(
            filename=f["filename"],
            url=urljoin(page_url, str(f.get("url", ""))),
            hashes={str(k).lower(): str(v).lower() for k, v in (hashes or {}).items()},
            upload_time=_upload_time(f.get("upload-time")),
        )
    return out


def _upload_time(value: Any) -> datetime | None:
    """PEP 700 ``upload-time`` (ISO 8601, UTC): None when absent or not a timestamp."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
