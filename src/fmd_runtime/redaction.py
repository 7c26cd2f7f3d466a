"""Secret redaction: the one function every message passes before it is logged, audited or raised.

Audit rows, alert texts, retry logs and fan-out outcomes all go through `redact`, so a password
in a connection string or a SAS signature in a URL never reaches a table or a log.

Example:
    >>> redact("login failed: Server=x;User Id=u;Password=hunter2;")
    'login failed: Server=x;User Id=u;Password=***;'
"""

from __future__ import annotations

import re

_KV_KEYS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|apikey|account[_-]?key|sharedaccesskey"
    r"|access[_-]?key|subscription[_-]?key|client[_-]?secret|signature|sig|credentials?"
)
_VALUE = r"(\"[^\"]*\"|'[^']*'|[^;&\s,'\"}\]]+)"
_SECRET_PATTERNS = [
    # Authorization headers: keep the scheme, drop the credential
    re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z-]+\s+)?)" + _VALUE),
    # key=value / key: value pairs in connection strings, SAS URLs (sig=), JSON and messages
    re.compile(r"(?i)\b([\w-]*?(?:" + _KV_KEYS + r")[\"']?\s*[=:]\s*)" + _VALUE),
    # bearer tokens in prose
    re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]{12,}=*)"),
    # credentials embedded in URLs: scheme://user:pass@host
    re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(?=@)"),
]
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BASE64_KEY = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{80,}={0,2}")  # storage account keys


def _mask_key(m: re.Match[str]) -> str:
    text = m.group(0)
    mixed = (
        any(c.isdigit() for c in text)
        and any(c.isupper() for c in text)
        and any(c.islower() for c in text)
    )
    # random base64 mixes cases and digits; long words and paths rarely do
    return "***" if text.endswith("=") or (mixed and text.count("/") < 3) else text


def _mask(m: re.Match[str]) -> str:
    value = m.group(2)
    if value[:1] in "\"'" and len(value) >= 2:
        return m.group(1) + value[0] + "***" + value[0]
    return m.group(1) + "***"


def scrub(text: str) -> str:
    """`redact` without folding or shortening: for JSON documents whose layout must survive.

    Example:
        >>> scrub('{"password": "hunter2"}')
        '{"password": "***"}'
    """
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_mask, text)
    text = _JWT.sub("***", text)
    return _BASE64_KEY.sub(_mask_key, text)


def redact(text: str | None, *, max_length: int = 1000) -> str | None:
    """Remove secrets (passwords, keys, SAS signatures, tokens, URL credentials); fold to one line.

    Covers ``Password=``/``pwd=``/``AccountKey=``/``SharedAccessKey=`` pairs in connection
    strings, ``sig=`` in SAS URLs, ``"password": "..."`` in JSON, Authorization headers, bearer
    tokens, JWTs, long base64 keys and ``scheme://user:pass@host``.

    Args:
        text: the text (an error message, a detail).
        max_length: longest result kept.

    Returns:
        The text on one line with secret values replaced by ``***`` (None stays None).

    Example:
        >>> redact("login failed: Server=x;User Id=u;Password=hunter2;")
        'login failed: Server=x;User Id=u;Password=***;'
    """
    if text is None:
        return None
    return scrub(" ".join(str(text).split()))[:max_length]


__all__ = ["redact", "scrub"]
