"""An optional HMAC-SHA256 signature of report.json, so CI can refuse a report its own
verify job did not write.

With ``HARNESS_REPORT_KEY`` set, ``harness verify`` writes ``report.json.sig`` next to
report.json: ``hmac-sha256:<hex>`` over the exact bytes of report.json. ``harness promote``
with the same variable set refuses a report without a valid signature. The key is a secret
(never printed; redacted like the others).
"""

from __future__ import annotations

import hashlib
import hmac

KEY_ENV = "HARNESS_REPORT_KEY"
SIG_SUFFIX = ".sig"
_PREFIX = "hmac-sha256:"


def sign(data: bytes, key: str) -> str:
    return _PREFIX + hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest()


def verify_signature(data: bytes, signature: str, key: str) -> bool:
    return hmac.compare_digest(
        sign(data, key).encode(), signature.strip().encode("ascii", "replace")
    )
