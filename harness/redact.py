"""Secrets never reach stdout, stderr, the journal or an exception message we print.

Every line the promotion prints or records passes through a Redactor: it knows the
secrets in play (TWINE_PASSWORD, AWS keys, any *_TOKEN/*_PASSWORD/*_SECRET variable),
their URL-quoted and HTTP Basic forms, and strips ``user:password@`` from URLs.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LEN = 4
MIN_GUESSED_LEN = 8  # a variable merely *named* like a secret: skip short values ("true")
_KNOWN_SECRETS = frozenset({"TWINE_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
_SECRET_ENV = re.compile(r"(PASSWORD|TOKEN|SECRET|SECRET_ACCESS_KEY|_KEY)$", re.IGNORECASE)
_NOT_SECRET_ENV = frozenset({"AWS_ACCESS_KEY_ID", "TWINE_USERNAME", "PYTHONHASHSEED"})
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        return cls(
            value
            for name, value in env.items()
            if name.upper() in _KNOWN_SECRETS
            or (
                _SECRET_ENV.search(name)
                and name.upper() not in _NOT_SECRET_ENV
                and len(value) >= MIN_GUESSED_LEN
            )
        )

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LEN:
            return
        self._secrets.add(secret)
        self._secrets.add(quote(secret, safe=""))
        self._secrets.add(quote(secret))

    def add_basic_auth(self, username: str, password: str) -> None:
        """The Authorization header value of these credentials is a secret too."""
        self.add(password)
        self.add(base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text
