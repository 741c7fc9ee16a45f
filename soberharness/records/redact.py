"""Mask secrets (keys, tokens, passwords in URLs) in text bound for logs and reports."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# Three base64url segments, the first two starting like a JSON object ("{" -> "eyJ").
# Covers access tokens, API keys and refresh-token-bearing JWTs wherever they appear.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# user:password@host in connection strings and URLs.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s/]+)(?=@)", re.I)
# Authorization / apikey values and key=value pairs naming a secret.
_BEARER = re.compile(r"(?P<head>\bBearer\s+)(?P<pw>[A-Za-z0-9._~+/=-]{8,})", re.I)
_NAMED = re.compile(
    r"(?P<head>\b(?:apikey|api_key|password|passwd|secret|token|refresh_token|access_token"
    r"|service_role_key|anon_key|jwt_secret)\b[\"']?\s*[:=]\s*[\"']?)(?P<pw>[^\s\"'&,;}]{4,})",
    re.I,
)
_MIN_SECRET = 4  # shorter strings would mask ordinary words


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every given secret and anything that looks like a token replaced by ***."""
    for secret in sorted(
        {s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True
    ):
        text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _BEARER.sub(lambda m: m.group("head") + MASK, text)
    text = _NAMED.sub(lambda m: m.group("head") + MASK, text)
    return text
