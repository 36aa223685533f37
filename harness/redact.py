"""Secrets never reach stdout, stderr, a report, the journal or an exception message we print.

One mechanism: a Redactor knows the secrets in play (TWINE_PASSWORD, AWS keys, any
*_TOKEN/*_PASSWORD/*_SECRET/*_KEY variable of the environment), their URL-quoted and HTTP
Basic forms, and strips ``user:password@`` from URLs. ``scrub`` applies it to every string
of a value (dataclasses, dicts, lists), and is called at each boundary where text leaves the
process: the report writer, the promotion journal, the console. Linear in the text size.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LEN = 4
MIN_GUESSED_LEN = 8  # a variable merely *named* like a secret: skip short values ("true")
MAX_DEPTH = 64  # deeper nesting (from a smoke run's JSON) is replaced by a marker
_KNOWN_SECRETS = frozenset(
    {"TWINE_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HARNESS_REPORT_KEY"}
)
_SECRET_ENV = re.compile(r"(PASSWORD|TOKEN|SECRET|SECRET_ACCESS_KEY|_KEY)$", re.IGNORECASE)
_NOT_SECRET_ENV = frozenset({"AWS_ACCESS_KEY_ID", "TWINE_USERNAME", "PYTHONHASHSEED"})
# Anchored on the literal "://" (found by a fast scan) and bounded (user info is at most
# 4096 characters), so the pass stays linear: a pattern starting with an unbounded scheme
# is quadratic on a long line of letters.
_USERINFO = re.compile(r"://[^/@\s]{1,4096}@")
_T = TypeVar("_T")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] | None = None
        for s in secrets:
            self.add(s)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        redactor = cls(
            value
            for name, value in env.items()
            if name.upper() in _KNOWN_SECRETS
            or (
                _SECRET_ENV.search(name)
                and name.upper() not in _NOT_SECRET_ENV
                and len(value) >= MIN_GUESSED_LEN
            )
        )
        password = env.get("TWINE_PASSWORD", "")
        if password:
            redactor.add_basic_auth(env.get("TWINE_USERNAME", "") or "__token__", password)
        return redactor

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LEN:
            return
        self._secrets.add(secret)
        self._secrets.add(quote(secret, safe=""))
        self._secrets.add(quote(secret))
        self._ordered = None

    def add_basic_auth(self, username: str, password: str) -> None:
        """The Authorization header value of these credentials is a secret too."""
        self.add(password)
        self.add(base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))

    def __call__(self, text: str) -> str:
        if "://" in text:
            text = _USERINFO.sub(f"://{MASK}@", text)
        if self._ordered is None:
            self._ordered = sorted(self._secrets, key=len, reverse=True)
        for secret in self._ordered:  # str.replace: one linear pass per secret
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def from_environment() -> Redactor:
    """The redactor of this process's environment (read anew: tests change it)."""
    return Redactor.from_env(os.environ)


def redact(text: str) -> str:
    """Mask the secrets of this process's environment in ``text``."""
    return from_environment()(text)


def scrub(value: _T, redactor: Callable[[str], str] | None = None) -> _T:
    """``value`` with every string in it redacted: str, dict keys and values, lists, tuples,
    and the fields of (frozen) dataclasses. Enums and non-text values pass unchanged."""
    fn = redactor if redactor is not None else from_environment()
    return _scrub(value, fn, 0)  # type: ignore[no-any-return]


def _scrub(value: Any, fn: Callable[[str], str], depth: int) -> Any:
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict | list | tuple) or dataclasses.is_dataclass(value):
        if depth >= MAX_DEPTH:
            return f"<nested deeper than {MAX_DEPTH} levels: dropped>"
    else:
        return value
    if isinstance(value, dict):
        return {_scrub(k, fn, depth + 1): _scrub(v, fn, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, fn, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v, fn, depth + 1) for v in value)
    assert not isinstance(value, type)
    changes = {
        f.name: _scrub(getattr(value, f.name), fn, depth + 1)
        for f in dataclasses.fields(value)
        if f.init
    }
    return dataclasses.replace(value, **changes)
