"""A small typed client for the Supabase Storage API's HTTP routes, as its sources define them
(supabase/storage src/app.ts and src/http/routes/{bucket,object,render,tus}):

  buckets   POST /bucket, GET /bucket, GET|PUT|DELETE /bucket/:id, POST /bucket/:id/empty
  objects   POST|PUT /object/:bucket/*name (x-upsert), GET|HEAD /object/authenticated/...,
            GET /object/public/..., GET /object/info/[public/]..., POST /object/list/:bucket,
            POST /object/list-v2/:bucket, POST /object/move, POST /object/copy,
            DELETE /object/:bucket/*name, DELETE /object/:bucket {prefixes}
  signed    POST /object/sign/:bucket/*name {expiresIn, transform?} -> {signedURL},
            POST /object/sign/:bucket {expiresIn, paths}, GET /object/sign/...?token=,
            POST /object/upload/sign/:bucket/*name -> {url, token},
            PUT /object/upload/sign/:bucket/*name?token=
  render    GET /render/image/{authenticated,public,sign}/:bucket/*name?width&height&resize&
            format&quality
  resumable TUS 1.0.0 under /upload/resumable (POST creates, PATCH appends, HEAD tells offset)

`base_url` is the API's root (the gateway's `/storage/v1`, or the service itself). Every request
sends `apikey` and `Authorization: Bearer <token>` (the token defaults to the key). Errors come as
`{"statusCode": "404", "error": "not_found", "message": "Object not found"}`, usually with HTTP
400 whatever the statusCode says; both are kept in one `StorageError`. Every call has a
timeout; a transport failure is a `StorageError` too (status 0), never a bare httpx traceback.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx

Resize = Literal["cover", "contain", "fill"]
Format = Literal["origin", "avif", "webp"]
SortOrder = Literal["asc", "desc"]
TUS_VERSION = "1.0.0"
DEFAULT_TIMEOUT_S = 10.0


class StorageError(Exception):
    """The Storage API refused a request (or could not be reached: status 0).

    `status` is the HTTP status, `status_code` the one the body names (the API often answers
    HTTP 400 with `statusCode: "404"`), `code`/`error` its error code, `message` its text."""

    def __init__(self, method: str, path: str, status: int, status_code: int, code: str,
                 message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.status_code = status_code
        self.code = code
        self.message = message
        super().__init__(f"{method} {path}: {status_code} {code}: {message}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> StorageError:
        request = response.request
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        raw_code = body.get("statusCode", response.status_code)
        try:
            status_code = int(raw_code)
        except (TypeError, ValueError):
            status_code = response.status_code
        code = str(body.get("code") or body.get("error") or response.reason_phrase)
        message = str(body.get("message") or response.text[:200])
        return cls(request.method, request.url.path, response.status_code, status_code, code,
                   message)


@dataclasses.dataclass(frozen=True)
class Bucket:
    id: str
    name: str
    public: bool
    file_size_limit: int | None
    allowed_mime_types: tuple[str, ...] | None
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bucket:
        mimes = data.get("allowed_mime_types")
        limit = data.get("file_size_limit")
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            public=bool(data.get("public")),
            file_size_limit=int(limit) if limit is not None else None,
            allowed_mime_types=tuple(mimes) if mimes is not None else None,
            raw=dict(data),
        )


@dataclasses.dataclass(frozen=True)
class Uploaded:
    """What an upload answers: the object's id (when the API says it) and `<bucket>/<name>`."""

    key: str
    id: str | None


@dataclasses.dataclass(frozen=True)
class Download:
    data: bytes
    content_type: str
    headers: Mapping[str, str] = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class Listed:
    """One entry of a v1 listing: a file (with id and metadata) or a folder (id None)."""

    name: str
    id: str | None
    metadata: dict[str, Any] | None

    @property
    def is_folder(self) -> bool:
        return self.id is None


@dataclasses.dataclass(frozen=True)
class ListedV2:
    objects: tuple[dict[str, Any], ...]
    folders: tuple[dict[str, Any], ...]
    has_next: bool
    next_cursor: str | None


@dataclasses.dataclass(frozen=True)
class SignedUrl:
    """A signed path as the API answers it (`/object/sign/<bucket>/<name>?token=...`), or an
    error for that path (sign many)."""

    path: str
    signed_url: str | None
    error: str | None = None

    @property
    def token(self) -> str:
        query = urllib.parse.urlsplit(self.signed_url or "").query
        return urllib.parse.parse_qs(query).get("token", [""])[0]


@dataclasses.dataclass(frozen=True)
class SignedUpload:
    url: str  # /object/upload/sign/<bucket>/<name>?token=...
    token: str


@dataclasses.dataclass(frozen=True)
class Transform:
    """Image transformation options (src/http/schemas/transformations.ts)."""

    width: int | None = None
    height: int | None = None
    resize: Resize | None = None
    format: Format | None = None
    quality: int | None = None

    def query(self) -> dict[str, str]:
        return {k: str(v) for k, v in dataclasses.asdict(self).items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def object_path(name: str) -> str:
    """An object name as a URL path: each segment quoted, the slashes kept."""
    return "/".join(urllib.parse.quote(part, safe="") for part in name.split("/"))


def _tus_metadata(values: Mapping[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class StorageClient:
    """One caller (a key and optionally a user's access token) talking to one Storage API."""

    def __init__(
        self,
        base_url: str,
        apikey: str,
        token: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.apikey = apikey
        self.token = token or apikey
        self.timeout_s = timeout_s
        self._transport = transport
        self.last_status = 0  # the HTTP status of the last answer (0: none yet)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            headers={"apikey": apikey, "authorization": f"Bearer {self.token}"},
            transport=transport,
        )

    def as_token(self, token: str | None) -> StorageClient:
        """The same API as another caller (None: the key alone, i.e. anon with the anon key)."""
        return StorageClient(self.base_url, self.apikey, token, timeout_s=self.timeout_s,
                             transport=self._transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StorageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, anonymous: bool = False,
              timeout_s: float | None = None, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(
            method, path,
            timeout=httpx.Timeout(timeout_s) if timeout_s else httpx.USE_CLIENT_DEFAULT,
            **kwargs,
        )
        if anonymous:  # public objects and signed URLs: no key, no token
            del request.headers["apikey"]
            del request.headers["authorization"]
        try:
            response = self._http.send(request)
        except httpx.TimeoutException as exc:
            raise StorageError(method, path, 0, 0, "timeout",
                               f"no answer within {timeout_s or self.timeout_s:g}s "
                               f"({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise StorageError(method, path, 0, 0, "unreachable",
                               f"{self.base_url}: {type(exc).__name__}: {exc}") from None
        self.last_status = response.status_code
        if response.status_code >= 400:
            raise StorageError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise StorageError(method, path, response.status_code, response.status_code,
                               "bad_response", f"not JSON: {response.text[:120]!r}") from None

    # -- health -----------------------------------------------------------------------------

    def status(self) -> bool:
        """GET /status answers 200 when the API is up."""
        return self._send("GET", "/status").status_code == 200

    # -- buckets ----------------------------------------------------------------------------

    def create_bucket(self, bucket_id: str, *, public: bool = False,
                      file_size_limit: int | str | None = None,
                      allowed_mime_types: Iterable[str] | None = None) -> str:
        body: dict[str, Any] = {"id": bucket_id, "name": bucket_id, "public": public}
        if file_size_limit is not None:
            body["file_size_limit"] = file_size_limit
        if allowed_mime_types is not None:
            body["allowed_mime_types"] = list(allowed_mime_types)
        return str(self._json("POST", "/bucket", json=body)["name"])

    def get_bucket(self, bucket_id: str) -> Bucket:
        return Bucket.from_json(self._json("GET", f"/bucket/{object_path(bucket_id)}"))

    def list_buckets(self) -> list[Bucket]:
        return [Bucket.from_json(b) for b in self._json("GET", "/bucket")]

    def update_bucket(self, bucket_id: str, *, public: bool | None = None,
                      file_size_limit: int | str | None = None,
                      allowed_mime_types: Iterable[str] | None = None) -> str:
        body: dict[str, Any] = {}
        if public is not None:
            body["public"] = public
        if file_size_limit is not None:
            body["file_size_limit"] = file_size_limit
        if allowed_mime_types is not None:
            body["allowed_mime_types"] = list(allowed_mime_types)
        return str(self._json("PUT", f"/bucket/{object_path(bucket_id)}", json=body)["message"])

    def empty_bucket(self, bucket_id: str) -> str:
        return str(self._json("POST", f"/bucket/{object_path(bucket_id)}/empty")["message"])

    def delete_bucket(self, bucket_id: str) -> str:
        return str(self._json("DELETE", f"/bucket/{object_path(bucket_id)}")["message"])

    # -- objects ----------------------------------------------------------------------------

    def upload(self, bucket: str, name: str, data: bytes, *,
               content_type: str = "application/octet-stream", upsert: bool = False,
               method: Literal["POST", "PUT"] = "POST", cache_control: str | None = None,
               timeout_s: float | None = None) -> Uploaded:
        """POST creates (x-upsert: true replaces), PUT replaces an existing object."""
        headers = {"content-type": content_type, "x-upsert": "true" if upsert else "false"}
        if cache_control:
            headers["cache-control"] = cache_control
        body = self._json(method, f"/object/{object_path(bucket)}/{object_path(name)}",
                          content=data, headers=headers, timeout_s=timeout_s)
        return Uploaded(key=str(body.get("Key", "")), id=body.get("Id"))

    def download(self, bucket: str, name: str, *, timeout_s: float | None = None) -> Download:
        return self._download(f"/object/authenticated/{object_path(bucket)}/{object_path(name)}",
                              timeout_s=timeout_s)

    def download_public(self, bucket: str, name: str) -> Download:
        return self._download(f"/object/public/{object_path(bucket)}/{object_path(name)}",
                              anonymous=True)

    def _download(self, path: str, *, anonymous: bool = False,
                  params: Mapping[str, str] | None = None,
                  timeout_s: float | None = None) -> Download:
        response = self._send("GET", path, anonymous=anonymous, params=params,
                              timeout_s=timeout_s)
        return Download(response.content, response.headers.get("content-type", ""),
                        dict(response.headers))

    def info(self, bucket: str, name: str, *, public: bool = False) -> dict[str, Any]:
        scope = "info/public" if public else "info/authenticated"
        info = self._json("GET", f"/object/{scope}/{object_path(bucket)}/{object_path(name)}",
                          anonymous=public)
        return dict(info)

    def exists(self, bucket: str, name: str) -> bool:
        """HEAD /object/authenticated/...: True on 200, False when refused or absent."""
        try:
            self._send("HEAD", f"/object/authenticated/{object_path(bucket)}/{object_path(name)}")
        except StorageError as exc:
            if exc.status in (400, 403, 404):
                return False
            raise
        return True

    def list(self, bucket: str, prefix: str = "", *, limit: int = 100, offset: int = 0,
             search: str | None = None, sort_column: str = "name",
             sort_order: SortOrder = "asc") -> list[Listed]:
        body: dict[str, Any] = {"prefix": prefix, "limit": limit, "offset": offset,
                                "sortBy": {"column": sort_column, "order": sort_order}}
        if search is not None:
            body["search"] = search
        rows = self._json("POST", f"/object/list/{object_path(bucket)}", json=body)
        return [Listed(str(r["name"]), r.get("id"), r.get("metadata")) for r in rows]

    def list_v2(self, bucket: str, prefix: str = "", *, limit: int = 100,
                cursor: str | None = None, with_delimiter: bool = False) -> ListedV2:
        body: dict[str, Any] = {"prefix": prefix, "limit": limit, "with_delimiter": with_delimiter}
        if cursor:
            body["cursor"] = cursor
        data = self._json("POST", f"/object/list-v2/{object_path(bucket)}", json=body)
        return ListedV2(tuple(data.get("objects") or ()), tuple(data.get("folders") or ()),
                        bool(data.get("hasNext")), data.get("nextCursor"))

    def move(self, bucket: str, source: str, destination: str,
             destination_bucket: str | None = None) -> str:
        body = {"bucketId": bucket, "sourceKey": source, "destinationKey": destination}
        if destination_bucket:
            body["destinationBucket"] = destination_bucket
        return str(self._json("POST", "/object/move", json=body)["message"])

    def copy(self, bucket: str, source: str, destination: str,
             destination_bucket: str | None = None) -> Uploaded:
        body = {"bucketId": bucket, "sourceKey": source, "destinationKey": destination}
        if destination_bucket:
            body["destinationBucket"] = destination_bucket
        data = self._json("POST", "/object/copy", json=body)
        return Uploaded(key=str(data.get("Key", "")), id=data.get("Id"))

    def remove(self, bucket: str, name: str) -> str:
        path = f"/object/{object_path(bucket)}/{object_path(name)}"
        return str(self._json("DELETE", path)["message"])

    def remove_many(self, bucket: str, names: Iterable[str]) -> list[dict[str, Any]]:
        """DELETE /object/:bucket {prefixes}: the objects actually deleted (a refusal is 200
        with fewer rows, possibly none)."""
        return list(self._json("DELETE", f"/object/{object_path(bucket)}",
                               json={"prefixes": list(names)}))

    # -- signed URLs ------------------------------------------------------------------------

    def sign(self, bucket: str, name: str, expires_in: int,
             transform: Transform | None = None) -> SignedUrl:
        body: dict[str, Any] = {"expiresIn": expires_in}
        if transform is not None:
            body["transform"] = transform.body()
        data = self._json("POST", f"/object/sign/{object_path(bucket)}/{object_path(name)}",
                          json=body)
        return SignedUrl(f"{bucket}/{name}", str(data["signedURL"]))

    def sign_many(self, bucket: str, names: Iterable[str], expires_in: int) -> list[SignedUrl]:
        data = self._json("POST", f"/object/sign/{object_path(bucket)}",
                          json={"expiresIn": expires_in, "paths": list(names)})
        return [SignedUrl(str(d.get("path") or ""), d.get("signedURL"), d.get("error"))
                for d in data]

    def download_signed(self, signed_url: str) -> Download:
        """GET a signed path (as the API answered it, relative to base_url), without a key."""
        path, _, query = signed_url.partition("?")
        return self._download(path, anonymous=True, params=dict(urllib.parse.parse_qsl(query)))

    def create_signed_upload(self, bucket: str, name: str, *, upsert: bool = False
                             ) -> SignedUpload:
        data = self._json(
            "POST", f"/object/upload/sign/{object_path(bucket)}/{object_path(name)}",
            headers={"x-upsert": "true" if upsert else "false"},
        )
        return SignedUpload(str(data["url"]), str(data.get("token") or ""))

    def upload_to_signed(self, signed: SignedUpload | str, data: bytes, *,
                         content_type: str = "application/octet-stream") -> Uploaded:
        url = signed.url if isinstance(signed, SignedUpload) else signed
        path, _, query = url.partition("?")
        body = self._json("PUT", path, anonymous=True, content=data,
                          params=dict(urllib.parse.parse_qsl(query)),
                          headers={"content-type": content_type})
        return Uploaded(key=str(body.get("Key", "")), id=body.get("Id"))

    # -- image transformation ---------------------------------------------------------------

    def render(self, bucket: str, name: str, transform: Transform, *,
               public: bool = False) -> Download:
        scope = "public" if public else "authenticated"
        return self._download(
            f"/render/image/{scope}/{object_path(bucket)}/{object_path(name)}",
            anonymous=public, params=transform.query(),
        )

    def render_signed(self, signed_url: str) -> Download:
        """A signed URL made with a transform, fetched from /render/image/sign/..."""
        path, _, query = signed_url.partition("?")
        render_path = path.replace("/object/sign/", "/render/image/sign/", 1)
        return self._download(render_path, anonymous=True,
                              params=dict(urllib.parse.parse_qsl(query)))

    # -- resumable (TUS 1.0.0) --------------------------------------------------------------

    def upload_resumable(self, bucket: str, name: str, data: bytes, *,
                         content_type: str = "application/octet-stream",
                         chunk_size: int = 6 * 1024 * 1024, upsert: bool = False,
                         timeout_s: float | None = None) -> str:
        """Create a TUS upload and send `data` in chunks; returns the upload's location."""
        location = self.create_resumable(bucket, name, len(data), content_type=content_type,
                                         upsert=upsert)
        offset = self.resumable_offset(location)
        while offset < len(data):
            offset = self.append_resumable(location, offset, data[offset:offset + chunk_size],
                                           timeout_s=timeout_s)
        return location

    def create_resumable(self, bucket: str, name: str, length: int, *,
                         content_type: str = "application/octet-stream",
                         upsert: bool = False) -> str:
        metadata = _tus_metadata({"bucketName": bucket, "objectName": name,
                                  "contentType": content_type})
        response = self._send("POST", "/upload/resumable", headers={
            "tus-resumable": TUS_VERSION, "upload-length": str(length),
            "upload-metadata": metadata, "x-upsert": "true" if upsert else "false",
        })
        location = response.headers.get("location")
        if not location:
            raise StorageError("POST", "/upload/resumable", response.status_code,
                               response.status_code, "bad_response", "no Location header")
        return self._relative(location)

    def resumable_offset(self, location: str) -> int:
        response = self._send("HEAD", location, headers={"tus-resumable": TUS_VERSION})
        return int(response.headers.get("upload-offset", "0"))

    def append_resumable(self, location: str, offset: int, chunk: bytes, *,
                         timeout_s: float | None = None) -> int:
        response = self._send("PATCH", location, content=chunk, timeout_s=timeout_s, headers={
            "tus-resumable": TUS_VERSION, "upload-offset": str(offset),
            "content-type": "application/offset+octet-stream",
        })
        return int(response.headers.get("upload-offset", str(offset + len(chunk))))

    def _relative(self, location: str) -> str:
        """A Location the API answered (absolute, maybe behind a proxy) as a path under
        base_url."""
        path = urllib.parse.urlsplit(location).path
        marker = "/upload/resumable/"
        index = path.find(marker)
        return path[index:] if index >= 0 else path
