"""`StorageApiDouble`: a protocol double of the Supabase Storage API that enforces access the way
the API does, by running its SQL as the caller in a real database.

Only for the harness's own tests of its storage code (selftests): the storage matrix over HTTP,
the per-case HTTP forms, the bucket-administration checks, and (served on loopback) the whole
storage suite through a remote target file. It is not the Storage API: no backend but a dict of
bytes, no image transformation (an authenticated render answers the stored bytes; the public
and signed render routes are absent), no S3 protocol. It speaks the routes, bodies and error
shape of supabase/storage (src/http/routes/{bucket,object,render,tus}) and, as that API does
(src/storage/object.ts, uploader.ts, storage.ts, database/pg.ts,
internal/database/postgres/scope.ts):

- verifies the bearer token (HS256, the target's JWT secret); the caller is the token's `role`
  claim (anon without one) and the object owner its `sub`;
- runs each database step in a transaction that first sets `role`, `request.jwt.claims`,
  `request.jwt.claim.role`/`sub`, `request.method`/`path`/`headers`, `storage.operation` and
  `storage.allow_delete_query`, so the database's RLS policies decide;
- checks permission before writing: an upload INSERTs as the caller and rolls back (with
  x-upsert, INSERT .. ON CONFLICT DO UPDATE .. RETURNING *), then writes as superuser; a move
  SELECTs the source and UPDATEs name/bucket_id/owner as the caller and rolls back; a copy
  SELECTs the source as the caller and tries the insert of the copy; deletes run as the caller
  and delete what they return; reads, info, list (storage.search), list-v2 (a plain SELECT by
  prefix, rolled up into folders with `with_delimiter`), sign, sign-many and render SELECT as
  the caller and answer 404 (sign-many: an error per path) for a row not returned;
- signs URLs with the JWT secret: download tokens `{url, scope: download}`, upload tokens
  `{owner, url, upsert, scope: upload}` made after the caller's upload permission test; a signed
  URL is served (or uploaded to, as superuser with the token's owner) without a key when its
  token is valid, of that scope and for exactly that object;
- resumable uploads (TUS 1.0.0, `storage_double_resumable`): create and every PATCH test the
  caller's upload permission; the object is written as superuser when the last byte arrives;
- refuses `POST /bucket/:id/empty` to every role but service_role (v1.70's route guard).

Planted behaviours (`PLANTED`) make it wrong on purpose, for the checks' own tests; so do
`CONTRACT_PLANTED` (server errors of the bucket listing, for the contract suite's selftest).
GET /documentation/json describes its read bucket routes (`storage_double_openapi`).
`cross_bucket=False` behaves as a Storage API before v1.0.0: `destinationBucket` is ignored.
Errors are HTTP 400 (403 for a role refused by a route guard) with `{"statusCode": "<code>",
"error": ..., "message": ...}`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import jwt
import psycopg

from soberharness.access.storage_keys import accepts_object_key
from soberharness.testing.storage_double_openapi import (
    CONTRACT_PLANTED,
    DELETE_FIRST_BUCKET,
    PG_INTEGER_MAX,
    WindowError,
    listing_window,
    openapi_description,
)
from soberharness.testing.storage_double_resumable import TUS_VERSION, Resumable, tus_metadata

PREFIX = "/storage/v1"
SERVICE_ROLE = "service_role"
STATEMENT_TIMEOUT = "5s"
# As v1.44.2 did: any caller empties a bucket (no role guard; the permission probe deleted by id
# where a name belongs, matching nothing, and an admin job then emptied the bucket).
EMPTY_FOR_ANY_ROLE = "empty-bucket-for-any-role"
# As v1.48.12 to v1.70.0 did: the permission probe deletes (as the caller, rolled back) only the
# first object the caller sees; when that one delete goes through, the admin job empties all.
EMPTY_IF_FIRST_DELETABLE = "empty-bucket-if-first-object-deletable"
PLANTED = frozenset({EMPTY_FOR_ANY_ROLE, EMPTY_IF_FIRST_DELETABLE})

# Route operations (src/http/routes/operations.ts), set as storage.operation.
OPERATIONS = {
    "bucket.create": "storage.bucket.create", "bucket.list": "storage.bucket.list",
    "bucket.get": "storage.bucket.get", "bucket.update": "storage.bucket.update",
    "bucket.delete": "storage.bucket.delete", "bucket.empty": "storage.bucket.empty",
    "upload": "storage.object.upload", "get": "storage.object.get_authenticated",
    "info": "object.get_authenticated_info", "list": "storage.object.list",
    "move": "storage.object.move", "copy": "storage.object.copy",
    "delete": "storage.object.delete", "delete_many": "storage.object.delete_many",
    "sign": "storage.object.sign", "render": "storage.render.image_authenticated",
    "list_v2": "storage.object.list_v2", "sign_many": "storage.object.sign_many",
    "sign_upload": "storage.object.sign_upload_url",
    "tus_create": "storage.tus.upload.create", "tus_part": "storage.tus.upload.part",
}
# Signed tokens say what they are for (src/internal/auth: SIGNED_URL_SCOPE_*).
SCOPE_DOWNLOAD, SCOPE_UPLOAD = "download", "upload"
UPLOAD_SIGNED_URL_EXPIRY_S = 7200  # UPLOAD_SIGNED_URL_EXPIRATION_TIME's default
SIGN_MANY_MISSING = "Either the object does not exist or you do not have access to it"


class ApiError(Exception):
    def __init__(self, status_code: int, error: str, message: str, http: int = 400) -> None:
        super().__init__(message)
        self.status_code, self.error, self.message, self.http = status_code, error, message, http

    def response(self) -> httpx.Response:
        return httpx.Response(self.http, json={"statusCode": str(self.status_code),
                                               "error": self.error, "code": self.error,
                                               "message": self.message})


class _Rollback(Exception):
    """Ends a permission test: what the caller did is rolled back."""


def _writable(name: str) -> None:
    """The Storage API writes only names of its key characters (access.storage_keys)."""
    if not accepts_object_key(name):
        raise ApiError(400, "InvalidKey", f"Invalid key: {name}")


def _no_such_key() -> ApiError:
    return ApiError(404, "NoSuchKey", "Object not found")


def _from_pg(exc: psycopg.Error) -> ApiError:
    match exc.sqlstate:
        case "42501":
            return ApiError(403, "Unauthorized", "new row violates row-level security policy")
        case "23505":
            return ApiError(409, "Duplicate", "The resource already exists")
        case "23503":
            return ApiError(404, "Bucket not found", "Bucket not found")
    return ApiError(500, "DatabaseError", f"{exc.sqlstate}: {exc}")


class Caller:
    def __init__(self, claims: dict[str, Any], token: str) -> None:
        self.claims = claims
        self.token = token
        self.role = str(claims.get("role") or "anon")
        self.sub = str(claims["sub"]) if claims.get("sub") else None

    @property
    def owner(self) -> str | None:
        """objects.owner: the sub when it is a uuid (owner_id keeps it as text)."""
        try:
            return str(uuid.UUID(self.sub)) if self.sub else None
        except ValueError:
            return None


class StorageApiDouble:
    """An httpx transport handler; `files` holds the bytes, the database the rows."""

    def __init__(self, dsn: str, jwt_secret: str, *, cross_bucket: bool = True,
                 planted: frozenset[str] = frozenset()) -> None:
        unknown = planted - PLANTED - CONTRACT_PLANTED
        if unknown:
            raise ValueError(f"no such planted behaviour: {sorted(unknown)}")
        self.secret = jwt_secret
        self.cross_bucket = cross_bucket
        self.planted = planted
        self.files: dict[tuple[str, str], bytes] = {}
        self.uploads: dict[str, Resumable] = {}  # resumable uploads by id
        self.requests: list[httpx.Request] = []
        self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        self.conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        self._method = self._path = ""

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> StorageApiDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raw = request.url.raw_path.decode().split("?", 1)[0]
        if not raw.startswith(PREFIX):
            return ApiError(404, "not_found", f"Route {request.method}:{raw} not found").response()
        parts = [urllib.parse.unquote(p) for p in raw[len(PREFIX):].strip("/").split("/")]
        self._method, self._path = request.method, raw[len(PREFIX):]
        try:
            if parts == ["status"]:
                return httpx.Response(200)
            if parts == ["documentation", "json"] and request.method == "GET":
                return _json(openapi_description())
            return self._route(request, parts, self._caller(request))
        except ApiError as exc:
            return exc.response()
        except psycopg.Error as exc:
            return _from_pg(exc).response()

    def _caller(self, request: httpx.Request) -> Caller:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or request.headers.get("apikey", "")
        if not token:
            return Caller({"role": "anon"}, "")
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"],
                                options={"verify_aud": False})
        except jwt.PyJWTError as exc:
            raise ApiError(403, "InvalidJWT", str(exc)) from None
        return Caller(dict(claims), token)

    def _route(self, request: httpx.Request, parts: list[str], caller: Caller) -> httpx.Response:
        m = request.method
        body: Any = {}
        if request.headers.get("content-type", "").startswith("application/json") and \
                request.content:
            body = json.loads(request.content)
        head, rest = parts[0], parts[1:]
        if head == "bucket":
            return self._bucket(m, rest, body, caller, request.url.params)
        if head == "upload" and rest[:1] == ["resumable"]:
            return self._resumable(request, rest[1:], caller)
        if head == "render" and rest[:2] == ["image", "authenticated"] and m == "GET":
            return self._read(caller, rest[2], "/".join(rest[3:]), "render")
        if head != "object":
            raise ApiError(404, "not_found", f"Route {m}:{self._path} not found")
        return self._object(request, m, rest, body, caller)

    def _object(self, request: httpx.Request, m: str, rest: list[str], body: Any,
                caller: Caller) -> httpx.Response:
        first = rest[0] if rest else ""
        if m in ("GET", "HEAD") and first == "authenticated":
            return self._read(caller, rest[1], "/".join(rest[2:]), "get", head=m == "HEAD")
        if m == "GET" and first == "info" and rest[1:2] == ["authenticated"]:
            return self._info(caller, rest[2], "/".join(rest[3:]))
        if m == "GET" and first == "public":
            return self._public(rest[1], "/".join(rest[2:]))
        if m == "POST" and first == "list":
            return self._list(caller, rest[1], body)
        if m == "POST" and first == "list-v2":
            return self._list_v2(caller, rest[1], body)
        if first == "upload" and rest[1:2] == ["sign"] and len(rest) > 3:
            bucket, name = rest[2], "/".join(rest[3:])
            if m == "POST":
                return self._sign_upload(caller, bucket, name, request)
            if m == "PUT":
                return self._upload_signed(request, bucket, name)
        if m == "POST" and first == "move":
            return self._move(caller, body)
        if m == "POST" and first == "copy":
            return self._copy(caller, body, request.headers.get("x-upsert") == "true")
        if m == "POST" and first == "sign" and len(rest) > 2:
            return self._sign(caller, rest[1], "/".join(rest[2:]), body)
        if m == "POST" and first == "sign" and len(rest) == 2:
            return self._sign_many(caller, rest[1], body)
        if m == "GET" and first == "sign":
            return self._signed(rest[1], "/".join(rest[2:]), request.url.params.get("token", ""))
        if m in ("POST", "PUT") and len(rest) > 1:
            upsert = m == "PUT" or request.headers.get("x-upsert") == "true"
            return self._upload(caller, rest[0], "/".join(rest[1:]), request, upsert)
        if m == "DELETE" and len(rest) == 1:
            return self._delete_many(caller, rest[0], list(body.get("prefixes") or []))
        if m == "DELETE" and len(rest) > 1:
            return self._delete(caller, rest[0], "/".join(rest[1:]))
        raise ApiError(404, "not_found", f"Route {m}:{self._path} not found")

    @contextlib.contextmanager
    def _as(self, caller: Caller, operation: str) -> Iterator[psycopg.Connection]:
        """One transaction as the caller, scoped as the Storage API scopes it."""
        with self.conn.transaction():
            self.conn.execute(
                "SELECT set_config('role', %(role)s, true), "
                "set_config('request.jwt.claim.role', %(role)s, true), "
                "set_config('request.jwt', %(jwt)s, true), "
                "set_config('request.jwt.claim.sub', %(sub)s, true), "
                "set_config('request.jwt.claims', %(claims)s, true), "
                "set_config('request.headers', %(headers)s, true), "
                "set_config('request.method', %(method)s, true), "
                "set_config('request.path', %(path)s, true), "
                "set_config('storage.operation', %(operation)s, true), "
                "set_config('storage.allow_delete_query', 'true', true)",
                {"role": caller.role, "jwt": caller.token, "sub": caller.sub or "",
                 "claims": json.dumps(caller.claims), "headers": "{}",
                 "method": self._method, "path": self._path,
                 "operation": OPERATIONS[operation]},
            )
            yield self.conn

    @contextlib.contextmanager
    def _admin(self) -> Iterator[psycopg.Connection]:
        """One transaction as the superuser the API keeps for its own writes."""
        with self.conn.transaction():
            self.conn.execute("SELECT set_config('storage.allow_delete_query', 'true', true)")
            yield self.conn

    def _test_permission(self, caller: Caller, operation: str,
                         probe: Callable[[psycopg.Connection], None]) -> None:
        """Run `probe` as the caller and roll it back; a refusal is raised."""
        try:
            with self._as(caller, operation) as conn:
                probe(conn)
                raise _Rollback
        except _Rollback:
            return

    def _find(self, conn: psycopg.Connection, bucket: str, name: str) -> dict[str, Any]:
        row = conn.execute(
            "SELECT id, name, bucket_id, owner, owner_id, version, metadata, created_at, "
            "updated_at FROM storage.objects WHERE name = %s AND bucket_id = %s LIMIT 1",
            (name, bucket)).fetchone()
        if row is None:
            raise _no_such_key()
        keys = ("id", "name", "bucket_id", "owner", "owner_id", "version", "metadata",
                "created_at", "updated_at")
        return dict(zip(keys, row, strict=True))

    # -- buckets ----------------------------------------------------------------------------

    def _bucket(self, m: str, rest: list[str], body: Any, caller: Caller,
                params: Mapping[str, str]) -> httpx.Response:
        columns = "id, name, public, file_size_limit, allowed_mime_types"
        if m == "POST" and not rest:
            with self._as(caller, "bucket.create") as conn:
                conn.execute(
                    "INSERT INTO storage.buckets (id, name, owner, owner_id, public, "
                    "file_size_limit, allowed_mime_types) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (body["id"], body.get("name") or body["id"], caller.owner, caller.sub,
                     bool(body.get("public")), body.get("file_size_limit"),
                     body.get("allowed_mime_types")))
            return _json({"name": body.get("name") or body["id"]})
        if m == "GET" and not rest:
            try:
                offset, limit = listing_window(params, self.planted)
            except WindowError as exc:
                raise ApiError(exc.http, "invalid" if exc.http < 500 else "internal",
                               str(exc), exc.http) from None
            with self._as(caller, "bucket.list") as conn:
                rows = conn.execute(f"SELECT {columns} FROM storage.buckets ORDER BY id").fetchall()
            window = rows[offset:] if limit is None else rows[offset:offset + limit]
            return _json([_bucket_json(r) for r in window])
        bucket = rest[0]
        if m == "GET" and len(rest) == 1:
            with self._as(caller, "bucket.get") as conn:
                row = conn.execute(f"SELECT {columns} FROM storage.buckets WHERE id = %s",
                                   (bucket,)).fetchone()
            if row is None:
                raise ApiError(404, "Bucket not found", "Bucket not found")
            return _json(_bucket_json(row))
        if m == "PUT" and len(rest) == 1:
            return self._update_bucket(caller, bucket, body)
        if m == "POST" and rest[1:] == ["empty"]:
            return self._empty_bucket(caller, bucket)
        if m == "DELETE" and len(rest) == 1:
            return self._delete_bucket(caller, bucket)
        raise ApiError(404, "not_found", f"Route {m}:{self._path} not found")

    def _update_bucket(self, caller: Caller, bucket: str, body: Any) -> httpx.Response:
        if not isinstance(body, dict) or not _valid_update(body):
            raise ApiError(400, "InvalidRequest", "body/ must be a bucket's settings")
        fields = [f for f in ("public", "file_size_limit", "allowed_mime_types") if f in body]
        if not fields:
            raise ApiError(400, "InvalidRequest", "No content provided")
        sets = ", ".join(f"{f} = %({f})s" for f in fields)
        with self._as(caller, "bucket.update") as conn:
            row = conn.execute(f"UPDATE storage.buckets SET {sets} WHERE id = %(id)s RETURNING id",
                               {**body, "id": bucket}).fetchone()
        if row is None:
            raise ApiError(404, "Bucket not found", "Bucket not found")
        return _json({"message": "Successfully updated"})

    def _empty_bucket(self, caller: Caller, bucket: str) -> httpx.Response:
        probe_first = EMPTY_IF_FIRST_DELETABLE in self.planted
        if caller.role != SERVICE_ROLE and not (EMPTY_FOR_ANY_ROLE in self.planted
                                                or probe_first):
            raise ApiError(403, "AccessDenied", "Access denied: Invalid role", http=403)
        if caller.role != SERVICE_ROLE and probe_first:
            self._probe_first_delete(caller, bucket)
        with self._as(caller, "bucket.empty") as conn:
            if conn.execute("SELECT 1 FROM storage.buckets WHERE id = %s",
                            (bucket,)).fetchone() is None:
                raise ApiError(404, "Bucket not found", "Bucket not found")
            seen = conn.execute("SELECT 1 FROM storage.objects WHERE bucket_id = %s LIMIT 1",
                                (bucket,)).fetchone()
        if seen is not None:  # the admin job deletes everything in the bucket
            with self._admin() as conn:
                gone = conn.execute("DELETE FROM storage.objects WHERE bucket_id = %s "
                                    "RETURNING name", (bucket,)).fetchall()
            for (name,) in gone:
                self.files.pop((bucket, str(name)), None)
        return _json({"message": "Successfully emptied"})

    def _probe_first_delete(self, caller: Caller, bucket: str) -> None:
        """The planted v1.48.12 probe: the caller's delete of the first object it sees, rolled
        back; refused only when that one delete removes nothing."""
        with contextlib.suppress(_Rollback), self._as(caller, "bucket.empty") as conn:
            first = conn.execute("SELECT name FROM storage.objects WHERE bucket_id = %s "
                                 "ORDER BY name LIMIT 1", (bucket,)).fetchone()
            if first is None:
                raise ApiError(400, "NoSuchKey", "Object not found")
            gone = conn.execute("DELETE FROM storage.objects WHERE bucket_id = %s AND name = %s "
                                "RETURNING 1", (bucket, first[0])).fetchone()
            if gone is None:
                raise ApiError(400, "NoSuchKey", "Object not found")
            raise _Rollback

    def _delete_bucket(self, caller: Caller, bucket: str) -> httpx.Response:
        if DELETE_FIRST_BUCKET in self.planted:
            with self._admin() as conn:
                first = conn.execute("SELECT id FROM storage.buckets WHERE NOT EXISTS (SELECT 1 "
                                     "FROM storage.objects o WHERE o.bucket_id = buckets.id) "
                                     "ORDER BY id LIMIT 1").fetchone()
            bucket = str(first[0]) if first else bucket
        with self._admin() as conn:
            if conn.execute("SELECT 1 FROM storage.objects WHERE bucket_id = %s LIMIT 1",
                            (bucket,)).fetchone():
                raise ApiError(409, "InvalidRequest", "The bucket you tried to delete is not "
                               "empty")
        with self._as(caller, "bucket.delete") as conn:
            row = conn.execute("DELETE FROM storage.buckets WHERE id = %s RETURNING id",
                               (bucket,)).fetchone()
        if row is None:
            raise ApiError(404, "Bucket not found", "Bucket not found")
        return _json({"message": "Successfully deleted"})

    # -- objects ----------------------------------------------------------------------------

    def _upload(self, caller: Caller, bucket: str, name: str, request: httpx.Request,
                upsert: bool) -> httpx.Response:
        _writable(name)
        data = request.content
        mime = request.headers.get("content-type", "application/octet-stream")
        self._bucket_allows(bucket, len(data), mime)
        self._can_upload(caller, bucket, name, mime, len(data), upsert)
        object_id = self._write(bucket, name, caller, {"mimetype": mime, "size": len(data)})
        self.files[(bucket, name)] = data
        return _json({"Id": object_id, "Key": f"{bucket}/{name}"})

    def _bucket_allows(self, bucket: str, size: int, mime: str) -> None:
        with self._admin() as conn:
            row = conn.execute("SELECT file_size_limit, allowed_mime_types FROM storage.buckets "
                               "WHERE id = %s", (bucket,)).fetchone()
        if row is None:
            raise ApiError(404, "Bucket not found", "Bucket not found")
        limit, mimes = row
        if limit is not None and size > int(limit):
            raise ApiError(413, "Payload too large",
                           "The object exceeded the maximum allowed size")
        if mimes is not None and not any(
                mime == m or (m.endswith("/*") and mime.startswith(m[:-1])) for m in mimes):
            raise ApiError(415, "invalid_mime_type", f"mime type {mime} is not supported")

    def _can_upload(self, caller: Caller, bucket: str, name: str, mime: str, size: int,
                    upsert: bool, operation: str = "upload") -> None:
        values = (bucket, name, caller.owner, caller.sub, "1",
                  json.dumps({"mimetype": mime, "size": size}))
        insert = ("INSERT INTO storage.objects (bucket_id, name, owner, owner_id, version, "
                  "metadata) VALUES (%s, %s, %s, %s, %s, %s)")
        if upsert:
            insert += (" ON CONFLICT (name, bucket_id) DO UPDATE SET metadata = "
                       "EXCLUDED.metadata, version = EXCLUDED.version, owner = EXCLUDED.owner, "
                       "owner_id = EXCLUDED.owner_id RETURNING *")
        self._test_permission(caller, operation, lambda conn: conn.execute(insert, values))

    def _write(self, bucket: str, name: str, caller: Caller, metadata: dict[str, Any]) -> str:
        with self._admin() as conn:
            row = conn.execute(
                "INSERT INTO storage.objects (bucket_id, name, owner, owner_id, version, "
                "metadata) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name, bucket_id) DO "
                "UPDATE SET metadata = EXCLUDED.metadata, version = EXCLUDED.version, "
                "owner = EXCLUDED.owner, owner_id = EXCLUDED.owner_id RETURNING id",
                (bucket, name, caller.owner, caller.sub, str(uuid.uuid4()),
                 json.dumps(metadata))).fetchone()
        assert row is not None
        return str(row[0])

    def _read(self, caller: Caller, bucket: str, name: str, operation: str, *,
              head: bool = False) -> httpx.Response:
        with self._as(caller, operation) as conn:
            self._find(conn, bucket, name)
        data = self.files.get((bucket, name))
        if data is None:
            raise _no_such_key()
        return httpx.Response(200, content=b"" if head else data,
                              headers={"content-type": "image/png"})

    def _info(self, caller: Caller, bucket: str, name: str) -> httpx.Response:
        with self._as(caller, "info") as conn:
            row = self._find(conn, bucket, name)
        return _json(row)

    def _public(self, bucket: str, name: str) -> httpx.Response:
        with self._admin() as conn:
            public = conn.execute("SELECT public FROM storage.buckets WHERE id = %s",
                                  (bucket,)).fetchone()
            if not public or not public[0]:
                raise ApiError(400, "InvalidRequest", "Bucket not found or not public")
            self._find(conn, bucket, name)
        return httpx.Response(200, content=self.files.get((bucket, name), b""),
                              headers={"content-type": "image/png"})

    def _list(self, caller: Caller, bucket: str, body: Any) -> httpx.Response:
        prefix = str(body.get("prefix") or "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        search = str(body.get("search") or "")
        sort = body.get("sortBy") or {}
        with self._as(caller, "list") as conn:
            cur = conn.execute(
                "SELECT * FROM storage.search(%s, %s, %s, %s, %s, %s, %s, %s)",
                (prefix, bucket, int(body.get("limit") or 100), len((prefix + search).split("/")),
                 int(body.get("offset") or 0), search, sort.get("column", "name"),
                 sort.get("order", "asc")))
            names = [d.name for d in cur.description or ()]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return _json(rows)

    def _move(self, caller: Caller, body: Any) -> httpx.Response:
        bucket, source, dest = body["bucketId"], body["sourceKey"], body["destinationKey"]
        into = (body.get("destinationBucket") or bucket) if self.cross_bucket else bucket
        _writable(dest)

        def probe(conn: psycopg.Connection) -> None:
            self._find(conn, bucket, source)
            moved = conn.execute(
                "UPDATE storage.objects SET name = %s, version = %s, bucket_id = %s, "
                "owner = coalesce(%s, owner), owner_id = coalesce(%s, owner_id) "
                "WHERE bucket_id = %s AND name = %s RETURNING *",
                (dest, str(uuid.uuid4()), into, caller.owner, caller.sub, bucket,
                 source)).fetchone()
            if moved is None:
                raise _no_such_key()

        self._test_permission(caller, "move", probe)
        if (bucket, source) == (into, dest):
            return _json({"message": "Successfully moved"})
        with self._admin() as conn:
            conn.execute(
                "UPDATE storage.objects SET name = %s, bucket_id = %s, version = %s, "
                "owner = coalesce(%s, owner), owner_id = coalesce(%s, owner_id) "
                "WHERE bucket_id = %s AND name = %s",
                (dest, into, str(uuid.uuid4()), caller.owner, caller.sub, bucket, source))
        self.files[(into, dest)] = self.files.pop((bucket, source), b"")
        return _json({"message": "Successfully moved"})

    def _copy(self, caller: Caller, body: Any, upsert: bool) -> httpx.Response:
        bucket, source, dest = body["bucketId"], body["sourceKey"], body["destinationKey"]
        into = (body.get("destinationBucket") or bucket) if self.cross_bucket else bucket
        _writable(dest)
        with self._as(caller, "copy") as conn:
            found = self._find(conn, bucket, source)
        metadata = found["metadata"] or {}
        self._can_upload(caller, into, dest, str(metadata.get("mimetype") or ""),
                         int(metadata.get("size") or 0), upsert)
        object_id = self._write(into, dest, caller, dict(metadata))
        self.files[(into, dest)] = self.files.get((bucket, source), b"")
        return _json({"Id": object_id, "Key": f"{into}/{dest}"})

    def _delete(self, caller: Caller, bucket: str, name: str) -> httpx.Response:
        with self._admin() as conn:
            self._find(conn, bucket, name)
        with self._as(caller, "delete") as conn:
            row = conn.execute("DELETE FROM storage.objects WHERE name = %s AND bucket_id = %s "
                               "RETURNING *", (name, bucket)).fetchone()
        if row is None:
            raise ApiError(403, "AccessDenied", "Access denied")
        self.files.pop((bucket, name), None)
        return _json({"message": "Successfully deleted"})

    def _delete_many(self, caller: Caller, bucket: str, prefixes: list[str]) -> httpx.Response:
        with self._as(caller, "delete_many") as conn:
            rows = conn.execute("DELETE FROM storage.objects WHERE bucket_id = %s AND "
                                "name = ANY(%s) RETURNING name, bucket_id",
                                (bucket, prefixes)).fetchall()
        for name, _ in rows:
            self.files.pop((bucket, str(name)), None)
        return _json([{"name": n, "bucket_id": b} for n, b in rows])

    def _list_v2(self, caller: Caller, bucket: str, body: Any) -> httpx.Response:
        """listObjectsV2 (src/storage/object.ts): a page of objects under `prefix` by name, the
        caller's SELECT deciding what is seen; with `with_delimiter`, deeper names roll up into
        their folders (the API asks storage.search_v2; here the page is rolled up in Python)."""
        prefix = str(body.get("prefix") or "")
        limit = min(int(body.get("limit") or 1000), 1000)
        desc = (body.get("sortBy") or {}).get("order") == "desc"
        after = _cursor_after(body.get("cursor"))
        sql = ("SELECT id, name, metadata, updated_at, created_at, last_accessed_at FROM "
               "storage.objects WHERE bucket_id = %s AND name LIKE %s")
        values: list[Any] = [bucket, _like_prefix(prefix)]
        if after:
            sql += f' AND name COLLATE "C" {"<" if desc else ">"} %s'
            values.append(after)
        sql += f' ORDER BY name COLLATE "C" {"DESC" if desc else "ASC"}'
        with self._as(caller, "list_v2") as conn:
            cur = conn.execute(sql, values)
            names = [d.name for d in cur.description or ()]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        if body.get("with_delimiter"):
            rows = _rolled_up(rows, prefix, bucket)
        page, more = rows[:limit], len(rows) > limit
        last = str(page[-1]["name"]) if more else None
        return _json({
            "hasNext": more,
            "nextCursor": base64.b64encode(f"l:{last}".encode()).decode() if last else None,
            "nextCursorKey": last,
            "folders": [r for r in page if r["id"] is None],
            "objects": [r for r in page if r["id"] is not None],
        })

    def _sign(self, caller: Caller, bucket: str, name: str, body: Any) -> httpx.Response:
        with self._as(caller, "sign") as conn:
            self._find(conn, bucket, name)
        token = self._token({"url": f"{bucket}/{name}", "scope": SCOPE_DOWNLOAD},
                            _expires_in(body))
        # signObjectUrl: with a transform, the URL is the render route's
        route = "render/image" if body.get("transform") else "object"
        return _json({"signedURL": f"/{route}/sign/{_url_path(bucket, name)}?token={token}"})

    def _sign_many(self, caller: Caller, bucket: str, body: Any) -> httpx.Response:
        """signObjectUrls: one answer per path, an error for those the caller cannot SELECT."""
        paths = [str(p) for p in body.get("paths") or []]
        if not paths:
            raise ApiError(400, "InvalidRequest", "body must have required property 'paths'")
        expires = _expires_in(body)
        with self._as(caller, "sign_many") as conn:
            seen = {str(n) for (n,) in conn.execute(
                "SELECT name FROM storage.objects WHERE bucket_id = %s AND name = ANY(%s)",
                (bucket, paths)).fetchall()}
        answers = []
        for path in paths:
            url = None
            if path in seen:
                token = self._token({"url": f"{bucket}/{path}", "scope": SCOPE_DOWNLOAD}, expires)
                url = f"/object/sign/{_url_path(bucket, path)}?token={token}"
            answers.append({"error": None if url else SIGN_MANY_MISSING, "path": path,
                            "signedURL": url})
        return _json(answers)

    def _signed(self, bucket: str, name: str, token: str) -> httpx.Response:
        self._verify(token, bucket, name, SCOPE_DOWNLOAD)
        with self._admin() as conn:
            self._find(conn, bucket, name)
        return httpx.Response(200, content=self.files.get((bucket, name), b""),
                              headers={"content-type": "image/png"})

    def _sign_upload(self, caller: Caller, bucket: str, name: str,
                     request: httpx.Request) -> httpx.Response:
        """signUploadObjectUrl: the caller's upload permission is tested first (with the
        content type and length the request announces)."""
        upsert = request.headers.get("x-upsert") == "true"
        length = request.headers.get("content-length", "")
        self._can_upload(caller, bucket, name, request.headers.get("content-type", ""),
                         int(length) if length.isdigit() else 0, upsert, "sign_upload")
        url = f"{bucket}/{name}"
        token = self._token({"owner": caller.sub, "url": url, "upsert": upsert,
                             "scope": SCOPE_UPLOAD}, UPLOAD_SIGNED_URL_EXPIRY_S)
        return _json({"url": f"/object/upload/sign/{_url_path(bucket, name)}?token={token}",
                      "token": token})

    def _upload_signed(self, request: httpx.Request, bucket: str, name: str) -> httpx.Response:
        """uploadSignedObject: the token names the object, the owner and x-upsert; the upload
        itself runs as superuser (a plain upload over an existing object is a duplicate)."""
        claims = self._verify(request.url.params.get("token", ""), bucket, name, SCOPE_UPLOAD)
        data = request.content
        mime = request.headers.get("content-type", "application/octet-stream")
        self._bucket_allows(bucket, len(data), mime)
        owner = Caller({"role": SERVICE_ROLE, "sub": claims.get("owner")}, "")
        if not claims.get("upsert"):
            with self._admin() as conn:
                if conn.execute("SELECT 1 FROM storage.objects WHERE bucket_id = %s AND "
                                "name = %s", (bucket, name)).fetchone():
                    raise ApiError(409, "Duplicate", "The resource already exists")
        self._write(bucket, name, owner, {"mimetype": mime, "size": len(data)})
        self.files[(bucket, name)] = data
        return _json({"Key": f"{bucket}/{name}"})

    def _token(self, claims: dict[str, Any], expires_in: int) -> str:
        return jwt.encode({**claims, "iat": int(time.time()),
                           "exp": int(time.time()) + expires_in}, self.secret, algorithm="HS256")

    def _verify(self, token: str, bucket: str, name: str, scope: str) -> dict[str, Any]:
        """verifyObjectSignature: a valid token, of this scope, for exactly this object."""
        try:
            claims = dict(jwt.decode(token, self.secret, algorithms=["HS256"]))
        except jwt.PyJWTError as exc:
            raise ApiError(400, "InvalidJWT", str(exc)) from None
        if claims.get("scope") != scope:
            raise ApiError(400, "InvalidSignature", f"Token is not scoped for {scope}")
        if claims.get("url") != f"{bucket}/{name}":
            raise ApiError(400, "InvalidSignature", "The url do not match the signature")
        return claims

    # -- resumable uploads (TUS 1.0.0) --------------------------------------------------------

    def _resumable(self, request: httpx.Request, rest: list[str],
                   caller: Caller) -> httpx.Response:
        """TUS under /upload/resumable (src/http/routes/tus): errors answer the error's
        statusCode as the HTTP status, with the message as plain text."""
        try:
            if request.method == "POST" and not rest:
                return self._tus_create(request, caller)
            upload = self.uploads.get(rest[0]) if len(rest) == 1 else None
            if upload is None:
                raise ApiError(404, "NotFound", "The file for this url was not found")
            if request.method == "HEAD":
                return _tus(200, {"upload-offset": str(len(upload.data)),
                                  "upload-length": str(upload.length),
                                  "cache-control": "no-store"})
            if request.method == "PATCH":
                return self._tus_append(request, upload, caller)
            raise ApiError(404, "not_found", f"Route {request.method}:{self._path} not found")
        except ApiError as exc:
            return _tus(exc.status_code, {}, exc.message)
        except psycopg.Error as exc:
            error = _from_pg(exc)
            return _tus(error.status_code, {}, error.message)

    def _tus_create(self, request: httpx.Request, caller: Caller) -> httpx.Response:
        if request.headers.get("tus-resumable") != TUS_VERSION:
            raise ApiError(412, "UnsupportedVersion", "Unsupported version")
        meta = tus_metadata(request.headers.get("upload-metadata", ""))
        bucket, name = meta.get("bucketName", ""), meta.get("objectName", "")
        length = request.headers.get("upload-length", "")
        if not (bucket and name):
            raise ApiError(400, "MetadataRequired", "Metadata header is required")
        if not length.isdigit():
            raise ApiError(400, "InvalidRequest", "Upload-Length or Upload-Defer-Length "
                           "header required")
        upload = Resumable(bucket, name, int(length), meta.get("contentType") or
                           "application/octet-stream", request.headers.get("x-upsert") == "true")
        self._can_upload(caller, bucket, name, upload.mime, upload.length, upload.upsert,
                         "tus_create")
        self._bucket_allows(bucket, upload.length, upload.mime)
        self.uploads[upload.id] = upload
        return _tus(201, {"location": f"{request.url.scheme}://{request.url.netloc.decode()}"
                                      f"{PREFIX}/upload/resumable/{upload.id}"})

    def _tus_append(self, request: httpx.Request, upload: Resumable,
                    caller: Caller) -> httpx.Response:
        if request.headers.get("content-type") != "application/offset+octet-stream":
            raise ApiError(415, "InvalidContentType", "Unsupported Media Type")
        if request.headers.get("upload-offset") != str(len(upload.data)):
            raise ApiError(409, "InvalidOffset", "Upload-Offset conflict")
        if len(upload.data) + len(request.content) > upload.length:
            raise ApiError(413, "EntityTooLarge", "Maximum size exceeded")
        self._can_upload(caller, upload.bucket, upload.name, upload.mime, upload.length,
                         upload.upsert, "tus_part")
        upload.data.extend(request.content)
        headers = {"upload-offset": str(len(upload.data))}
        if len(upload.data) == upload.length:  # onUploadFinish: completeUpload as superuser
            self._write(upload.bucket, upload.name, caller,
                        {"mimetype": upload.mime, "size": upload.length})
            self.files[(upload.bucket, upload.name)] = bytes(upload.data)
            headers["tus-complete"] = "1"
        return _tus(204, headers)


def _expires_in(body: Any) -> int:
    expires = body.get("expiresIn")
    if not isinstance(expires, int) or expires < 1:
        raise ApiError(400, "InvalidRequest", "body/expiresIn must be >= 1")
    return expires


def _valid_update(body: dict[str, Any]) -> bool:
    """A bucket update's fields have the types the columns take (else the API answers 400)."""
    limit = body.get("file_size_limit")
    mimes = body.get("allowed_mime_types")
    return (set(body) <= {"public", "file_size_limit", "allowed_mime_types"}
            and isinstance(body.get("public", False), bool)
            and (limit is None or (type(limit) is int and 0 <= limit <= PG_INTEGER_MAX))
            and (mimes is None or (isinstance(mimes, list)
                                   and all(isinstance(m, str) for m in mimes))))


def _url_path(bucket: str, name: str) -> str:
    return "/".join(urllib.parse.quote(p, safe="") for p in f"{bucket}/{name}".split("/"))


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _cursor_after(cursor: object) -> str:
    """The name a v2 listing's continuation token starts after ('l:<name>' lines, base64)."""
    if not cursor:
        return ""
    lines = base64.b64decode(str(cursor)).decode().split("\n")
    for line in lines:
        if not line[1:2] == ":" or line[0] not in "loca":
            raise ApiError(400, "InvalidParameter", "Invalid Parameter continuation token")
    return next((line[2:] for line in lines if line.startswith("l:")), "")


def _rolled_up(rows: list[dict[str, Any]], prefix: str, bucket: str) -> list[dict[str, Any]]:
    """Names deeper than the prefix's level as one folder entry each (id None, name ending /)."""
    out: list[dict[str, Any]] = []
    for row in rows:
        rest = str(row["name"])[len(prefix):]
        if "/" not in rest:
            out.append(row)
            continue
        folder = prefix + rest.split("/", 1)[0] + "/"
        if not out or out[-1]["name"] != folder:
            out.append({"id": None, "name": folder, "bucket_id": bucket})
    return out


def _tus(status: int, headers: dict[str, str], text: str = "") -> httpx.Response:
    return httpx.Response(status, content=text.encode(),
                          headers={"tus-resumable": TUS_VERSION, **headers})


def _bucket_json(row: tuple[Any, ...]) -> dict[str, Any]:
    bucket_id, name, public, limit, mimes = row
    return {"id": bucket_id, "name": name, "public": public, "file_size_limit": limit,
            "allowed_mime_types": mimes}


def _json(value: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(value, default=_plain).encode(),
                          headers={"content-type": "application/json"})


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID | dt.datetime):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
