"""A small S3 client (path-style, AWS Signature V4 over httpx) for S3-compatible stores: the
few calls moving files between two clouds needs (buckets, put, get, head, delete, list).

Every request has a timeout; an answer the call did not expect raises HarnessError with one
line (status, the store's error code), never the secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from urllib.parse import quote

import httpx

from soberharness.errors import HarnessError

TIMEOUT_S = 30.0
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SAFE = "-_.~"


@dataclasses.dataclass(frozen=True)
class S3Store:
    """Where a store answers and who signs: endpoint like http://127.0.0.1:7070."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def __repr__(self) -> str:  # never the secret
        return f"S3Store({self.endpoint!r}, access_key={self.access_key!r})"


@dataclasses.dataclass(frozen=True)
class ObjectHead:
    key: str
    size: int
    etag: str
    metadata: dict[str, str]


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{quote(k, safe=_SAFE)}={quote(v, safe=_SAFE)}"
                    for k, v in sorted(params.items()))


def sign(store: S3Store, method: str, path: str, params: Mapping[str, str],
         headers: Mapping[str, str], payload_sha256: str, now: dt.datetime) -> dict[str, str]:
    """The headers to add (x-amz-date, x-amz-content-sha256, Authorization) for a request to
    `path` (already URI-encoded) with `headers` (lower-case names, host included)."""
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    signed = {**{k.lower(): str(v).strip() for k, v in headers.items()},
              "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256}
    names = sorted(signed)
    canonical = "\n".join([method, path, canonical_query(params),
                           "".join(f"{n}:{signed[n]}\n" for n in names), ";".join(names),
                           payload_sha256])
    scope = f"{date}/{store.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(store.secret_key, date, store.region), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    return {"x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256,
            "authorization": (f"AWS4-HMAC-SHA256 Credential={store.access_key}/{scope}, "
                              f"SignedHeaders={';'.join(names)}, Signature={signature}")}


def object_path(bucket: str, key: str = "") -> str:
    path = "/" + quote(bucket, safe=_SAFE)
    if key:
        path += "/" + quote(key, safe=_SAFE + "/")
    return path


class S3Client:
    def __init__(self, store: S3Store, timeout: float = TIMEOUT_S) -> None:
        self.store = store
        self._http = httpx.Client(base_url=store.endpoint, timeout=timeout)
        self._host = httpx.URL(store.endpoint).netloc.decode()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> S3Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, bucket: str, key: str = "", body: bytes = b"",
                params: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> httpx.Response:
        path, query = object_path(bucket, key), dict(params or {})
        extra = {k.lower(): v for k, v in (headers or {}).items()}
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = sign(self.store, method, path, query, {"host": self._host, **extra}, payload,
                      dt.datetime.now(dt.UTC))
        try:
            return self._http.request(method, path, params=query, content=body or None,
                                      headers={**extra, **signed})
        except httpx.HTTPError as exc:
            raise HarnessError(f"S3 store {self.store.endpoint} did not answer {method} "
                               f"{path}: {type(exc).__name__}") from None

    def _expect(self, response: httpx.Response, *ok: int) -> httpx.Response:
        if response.status_code not in ok:
            code = re.search(r"<Code>([^<]+)</Code>", response.text)
            raise HarnessError(f"S3 {response.request.method} {response.request.url.path}: "
                               f"{response.status_code} {code.group(1) if code else ''}".strip())
        return response

    def create_bucket(self, bucket: str) -> None:
        self._expect(self.request("PUT", bucket), 200)

    def put_object(self, bucket: str, key: str, body: bytes,
                   metadata: Mapping[str, str] | None = None) -> str:
        headers = {f"x-amz-meta-{k}": v for k, v in (metadata or {}).items()}
        response = self._expect(self.request("PUT", bucket, key, body, headers=headers), 200)
        return response.headers.get("etag", "").strip('"')

    def get_object(self, bucket: str, key: str) -> bytes | None:
        response = self.request("GET", bucket, key)
        if response.status_code == 404:
            return None
        return self._expect(response, 200).content

    def head_object(self, bucket: str, key: str) -> ObjectHead | None:
        response = self.request("HEAD", bucket, key)
        if response.status_code == 404:
            return None
        self._expect(response, 200)
        meta = {k[len("x-amz-meta-"):]: v for k, v in response.headers.items()
                if k.lower().startswith("x-amz-meta-")}
        return ObjectHead(key, int(response.headers.get("content-length", "0")),
                          response.headers.get("etag", "").strip('"'), meta)

    def delete_object(self, bucket: str, key: str) -> None:
        self._expect(self.request("DELETE", bucket, key), 204, 200)

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, int]]:
        """(key, size) of every object, following continuation tokens."""
        token = ""
        while True:
            params = {"list-type": "2", "prefix": prefix}
            if token:
                params["continuation-token"] = token
            text = self._expect(self.request("GET", bucket, params=params), 200).text
            for block in re.findall(r"<Contents>(.*?)</Contents>", text, re.S):
                key = re.search(r"<Key>(.*?)</Key>", block, re.S)
                size = re.search(r"<Size>(\d+)</Size>", block)
                if key:
                    yield _unescape(key.group(1)), int(size.group(1)) if size else 0
            more = re.search(r"<NextContinuationToken>(.*?)</NextContinuationToken>", text)
            if "<IsTruncated>true</IsTruncated>" not in text or not more:
                return
            token = _unescape(more.group(1))


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))
