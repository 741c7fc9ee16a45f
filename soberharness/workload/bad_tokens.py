"""Forged variants of a real access token: what the stack must refuse.

    expired(token, secret)   same claims, exp in the past, correctly signed
    tampered(token, **set)   payload changed (e.g. role=service_role), signature kept
    alg_none(token)          header alg=none, no signature
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def expired(token: str, secret: str, seconds_ago: int = 120) -> str:
    claims = _payload(token)
    now = int(time.time())
    claims["iat"] = now - 3600 - seconds_ago
    claims["exp"] = now - seconds_ago
    return jwt.encode(claims, secret, algorithm="HS256")


def tampered(token: str, **changes: Any) -> str:
    header, _, signature = token.split(".")
    claims = _payload(token) | changes
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def alg_none(token: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_payload(token)).encode())}."
