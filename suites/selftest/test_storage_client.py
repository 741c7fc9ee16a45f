"""The harness's Storage API client against a protocol double (never the system under test).

`StorageProtocolDouble` answers the routes the way supabase/storage's sources say it does
(src/http/routes/*: paths, bodies, `{Id, Key}` upload answers, `{signedURL}`, the error body
`{"statusCode": "404", "error": ..., "message": ...}` sent with HTTP 400, TUS 1.0.0 headers). It
holds objects in a dict and knows nothing of policies: it exists only to test the client's own
logic (URLs, headers, bodies, error parsing, timeouts, the TUS loop). What the Storage API
really does is asserted by suites/storage against a real one.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

import httpx
import pytest

from soberharness.clients.storage import (
    StorageClient,
    StorageError,
    Transform,
    object_path,
)

KEY = "anon-key-of-the-double"
BASE = "http://storage.double/storage/v1"


def _error(status_code: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(400, json={"statusCode": str(status_code), "error": code,
                                     "code": code, "message": message})


class StorageProtocolDouble:
    """A MockTransport handler speaking the Storage API's wire format; records requests."""

    prefix = "/storage/v1"

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.objects: dict[str, bytes] = {}
        self.buckets: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = urllib.parse.unquote(request.url.path.removeprefix(self.prefix))
        is_json = request.headers.get("content-type", "").startswith("application/json")
        body = json.loads(request.content) if is_json and request.content else {}
        m = request.method
        if path == "/bucket" and m == "POST":
            if body["id"] in self.buckets:
                return _error(409, "Duplicate", "The resource already exists")
            self.buckets[body["id"]] = {"id": body["id"], "name": body["name"],
                                        "public": body.get("public", False),
                                        "file_size_limit": body.get("file_size_limit"),
                                        "allowed_mime_types": body.get("allowed_mime_types")}
            return httpx.Response(200, json={"name": body["name"]})
        if path == "/bucket" and m == "GET":
            return httpx.Response(200, json=list(self.buckets.values()))
        if path.startswith("/bucket/"):
            bucket = path.removeprefix("/bucket/")
            if bucket.endswith("/empty"):
                return httpx.Response(200, json={"message": "Successfully emptied"})
            if bucket not in self.buckets:
                return _error(404, "NoSuchBucket", "Bucket not found")
            if m == "GET":
                return httpx.Response(200, json=self.buckets[bucket])
            if m == "PUT":
                self.buckets[bucket].update(body)
                return httpx.Response(200, json={"message": "Successfully updated"})
            del self.buckets[bucket]
            return httpx.Response(200, json={"message": "Successfully deleted"})
        if path.startswith("/object/sign/") and m == "POST":
            key = path.removeprefix("/object/sign/")
            if "paths" in body:
                bucket = key
                return httpx.Response(200, json=[
                    {"path": p, "signedURL": f"/object/sign/{bucket}/{p}?token=t-{p}",
                     "error": None} if f"{bucket}/{p}" in self.objects else
                    {"path": p, "signedURL": None, "error": "Either the object does not exist "
                     "or you do not have access to it"} for p in body["paths"]])
            return httpx.Response(200, json={"signedURL": f"/object/sign/{key}?token=t-{key}"})
        if path.startswith("/object/sign/") and m == "GET":
            key = path.removeprefix("/object/sign/")
            if request.url.params.get("token") != f"t-{key}":
                return _error(400, "InvalidSignature", "The signature is invalid")
            return httpx.Response(200, content=self.objects[key])
        if path.startswith("/object/upload/sign/") and m == "POST":
            key = path.removeprefix("/object/upload/sign/")
            return httpx.Response(200, json={"url": f"/object/upload/sign/{key}?token=u-{key}",
                                             "token": f"u-{key}"})
        if path.startswith("/object/upload/sign/") and m == "PUT":
            key = path.removeprefix("/object/upload/sign/")
            self.objects[key] = request.content
            return httpx.Response(200, json={"Key": key})
        if path.startswith("/object/list/"):
            bucket = path.removeprefix("/object/list/")
            prefix = f"{bucket}/{body['prefix']}"
            return httpx.Response(200, json=[
                {"name": k.removeprefix(prefix), "id": "00000000-0000-0000-0000-000000000001",
                 "metadata": {"size": len(v)}}
                for k, v in sorted(self.objects.items()) if k.startswith(prefix)])
        if path.startswith("/object/list-v2/"):
            return httpx.Response(200, json={"hasNext": True, "nextCursor": "c2",
                                             "folders": [{"name": "f/"}],
                                             "objects": [{"name": "f/a"}]})
        if path in ("/object/move", "/object/copy"):
            source = f"{body['bucketId']}/{body['sourceKey']}"
            dest = f"{body.get('destinationBucket') or body['bucketId']}/{body['destinationKey']}"
            if source not in self.objects:
                return _error(404, "NoSuchKey", "Object not found")
            self.objects[dest] = self.objects[source]
            if path == "/object/move":
                del self.objects[source]
                return httpx.Response(200, json={"message": "Successfully moved"})
            return httpx.Response(200, json={"Id": "id-copy", "Key": dest})
        for scope in ("/object/authenticated/", "/object/public/", "/render/image/authenticated/",
                      "/render/image/public/"):
            if path.startswith(scope):
                key = path.removeprefix(scope)
                if key not in self.objects:
                    return _error(404, "NoSuchKey", "Object not found")
                if m == "HEAD":
                    return httpx.Response(200)
                return httpx.Response(200, content=self.objects[key],
                                      headers={"content-type": "image/png"})
        if path.startswith("/object/info/authenticated/"):
            key = path.removeprefix("/object/info/authenticated/")
            return httpx.Response(200, json={"name": key.split("/", 1)[1],
                                             "size": len(self.objects[key])})
        if path.startswith("/upload/resumable"):
            return self._tus(request, path)
        if path.startswith("/object/"):
            key = path.removeprefix("/object/")
            if m in ("POST", "PUT"):
                if key in self.objects and request.headers.get("x-upsert") != "true":
                    return _error(409, "Duplicate", "The resource already exists")
                self.objects[key] = request.content
                return httpx.Response(200, json={"Id": "id-1", "Key": key})
            if m == "DELETE" and "prefixes" in body:
                gone = [p for p in body["prefixes"] if self.objects.pop(f"{key}/{p}", None)]
                return httpx.Response(200, json=[{"name": p} for p in gone])
            if m == "DELETE":
                if self.objects.pop(key, None) is None:
                    return _error(404, "NoSuchKey", "Object not found")
                return httpx.Response(200, json={"message": "Successfully deleted"})
        return _error(404, "not_found", f"Route {m}:{path} not found")

    def _tus(self, request: httpx.Request, path: str) -> httpx.Response:
        if request.headers.get("tus-resumable") != "1.0.0":
            return httpx.Response(412)
        if request.method == "POST":
            meta = dict(item.split(" ") for item in request.headers["upload-metadata"].split(","))
            decoded = {k: base64.b64decode(v).decode() for k, v in meta.items()}
            upload_id = base64.urlsafe_b64encode(
                f"{decoded['bucketName']}/{decoded['objectName']}".encode()).decode()
            self.uploads[upload_id] = {"length": int(request.headers["upload-length"]),
                                       "data": b"", "meta": decoded}
            # Absolute, as the API answers it (STORAGE_PUBLIC_URL / forwarded host).
            return httpx.Response(201, headers={
                "location": f"https://public.example/storage/v1/upload/resumable/{upload_id}"})
        upload_id = path.removeprefix("/upload/resumable/")
        upload = self.uploads[upload_id]
        if request.method == "HEAD":
            return httpx.Response(200, headers={"upload-offset": str(len(upload["data"])),
                                                "upload-length": str(upload["length"])})
        if int(request.headers["upload-offset"]) != len(upload["data"]):
            return httpx.Response(409)
        upload["data"] += request.content
        if len(upload["data"]) == upload["length"]:
            meta = upload["meta"]
            self.objects[f"{meta['bucketName']}/{meta['objectName']}"] = upload["data"]
        return httpx.Response(204, headers={"upload-offset": str(len(upload["data"]))})


@pytest.fixture
def double() -> StorageProtocolDouble:
    return StorageProtocolDouble()


@pytest.fixture
def client(double: StorageProtocolDouble) -> StorageClient:
    return StorageClient(BASE, KEY, "user-token", transport=double.transport())


def test_every_request_carries_the_key_and_the_token(double: StorageProtocolDouble,
                                                     client: StorageClient) -> None:
    client.upload("videos", "u1/a.mp4", b"x")
    request = double.requests[-1]
    assert (request.headers["apikey"], request.headers["authorization"]) == (
        KEY, "Bearer user-token")
    assert StorageClient(BASE, KEY, transport=double.transport()).token == KEY


def test_upload_paths_headers_and_upsert(double: StorageProtocolDouble,
                                         client: StorageClient) -> None:
    uploaded = client.upload("videos", "u1/my clip#1.mp4", b"one", content_type="video/mp4")
    request = double.requests[-1]
    assert request.method == "POST"
    assert request.url.raw_path == b"/storage/v1/object/videos/u1/my%20clip%231.mp4"
    assert (request.headers["content-type"], request.headers["x-upsert"]) == ("video/mp4",
                                                                              "false")
    assert (uploaded.key, uploaded.id) == ("videos/u1/my clip#1.mp4", "id-1")
    with pytest.raises(StorageError) as duplicate:
        client.upload("videos", "u1/my clip#1.mp4", b"two")
    assert (duplicate.value.status, duplicate.value.status_code, duplicate.value.code) == (
        400, 409, "Duplicate")
    client.upload("videos", "u1/my clip#1.mp4", b"two", upsert=True, method="PUT")
    assert double.requests[-1].method == "PUT"
    assert double.requests[-1].headers["x-upsert"] == "true"
    assert double.objects["videos/u1/my clip#1.mp4"] == b"two"


def test_download_info_exists_and_a_refusal(double: StorageProtocolDouble,
                                            client: StorageClient) -> None:
    double.objects["videos/u1/a.png"] = b"png"
    got = client.download("videos", "u1/a.png")
    assert (got.data, got.content_type) == (b"png", "image/png")
    assert double.requests[-1].url.path == "/storage/v1/object/authenticated/videos/u1/a.png"
    assert client.info("videos", "u1/a.png") == {"name": "u1/a.png", "size": 3}
    assert client.exists("videos", "u1/a.png") and not client.exists("videos", "u1/b.png")
    with pytest.raises(StorageError) as missing:
        client.download("videos", "u1/b.png")
    error = missing.value
    assert (error.status, error.status_code, error.code, error.message) == (
        400, 404, "NoSuchKey", "Object not found")
    assert str(error) == ("GET /storage/v1/object/authenticated/videos/u1/b.png: "
                          "404 NoSuchKey: Object not found")


def test_public_download_sends_no_key(double: StorageProtocolDouble,
                                      client: StorageClient) -> None:
    double.objects["avatars/u1/a.png"] = b"a"
    assert client.download_public("avatars", "u1/a.png").data == b"a"
    request = double.requests[-1]
    assert request.url.path == "/storage/v1/object/public/avatars/u1/a.png"
    assert "apikey" not in request.headers and "authorization" not in request.headers


def test_buckets(double: StorageProtocolDouble, client: StorageClient) -> None:
    assert client.create_bucket("b1", public=True, file_size_limit=10,
                                allowed_mime_types=["image/png"]) == "b1"
    assert json.loads(double.requests[-1].content) == {
        "id": "b1", "name": "b1", "public": True, "file_size_limit": 10,
        "allowed_mime_types": ["image/png"]}
    bucket = client.get_bucket("b1")
    assert (bucket.id, bucket.public, bucket.file_size_limit, bucket.allowed_mime_types) == (
        "b1", True, 10, ("image/png",))
    client.update_bucket("b1", public=False)
    assert json.loads(double.requests[-1].content) == {"public": False}
    assert [b.public for b in client.list_buckets()] == [False]
    assert client.empty_bucket("b1") == "Successfully emptied"
    assert double.requests[-1].url.path == "/storage/v1/bucket/b1/empty"
    assert client.delete_bucket("b1") == "Successfully deleted"
    with pytest.raises(StorageError) as gone:
        client.get_bucket("b1")
    assert gone.value.status_code == 404


def test_list_move_copy_delete(double: StorageProtocolDouble, client: StorageClient) -> None:
    for name in ("u1/a", "u1/b", "u2/c"):
        double.objects[f"videos/{name}"] = name.encode()
    listed = client.list("videos", "u1/", limit=10, search="a")
    assert json.loads(double.requests[-1].content) == {
        "prefix": "u1/", "limit": 10, "offset": 0, "search": "a",
        "sortBy": {"column": "name", "order": "asc"}}
    assert [e.name for e in listed] == ["a", "b"] and not listed[0].is_folder
    page = client.list_v2("videos", "f/", limit=1, with_delimiter=True)
    assert (page.has_next, page.next_cursor, len(page.folders), len(page.objects)) == (
        True, "c2", 1, 1)
    client.move("videos", "u1/a", "u1/z")
    assert json.loads(double.requests[-1].content) == {
        "bucketId": "videos", "sourceKey": "u1/a", "destinationKey": "u1/z"}
    assert "videos/u1/a" not in double.objects and double.objects["videos/u1/z"] == b"u1/a"
    copied = client.copy("videos", "u1/z", "u9/z", destination_bucket="avatars")
    assert copied.key == "avatars/u9/z" and double.objects["avatars/u9/z"] == b"u1/a"
    assert client.remove("videos", "u1/z") == "Successfully deleted"
    deleted = client.remove_many("videos", ["u1/b", "u2/missing"])
    assert double.requests[-1].method == "DELETE"
    assert json.loads(double.requests[-1].content) == {"prefixes": ["u1/b", "u2/missing"]}
    assert deleted == [{"name": "u1/b"}]


def test_signed_urls_are_fetched_without_a_key(double: StorageProtocolDouble,
                                               client: StorageClient) -> None:
    double.objects["videos/u1/a.mp4"] = b"clip"
    signed = client.sign("videos", "u1/a.mp4", 60, transform=Transform(width=10))
    assert json.loads(double.requests[-1].content) == {"expiresIn": 60,
                                                       "transform": {"width": 10}}
    assert signed.token == "t-videos/u1/a.mp4"
    assert client.download_signed(signed.signed_url or "").data == b"clip"
    request = double.requests[-1]
    assert "authorization" not in request.headers and "apikey" not in request.headers
    with pytest.raises(StorageError) as tampered:
        client.download_signed((signed.signed_url or "") + "x")
    assert tampered.value.code == "InvalidSignature"
    many = client.sign_many("videos", ["u1/a.mp4", "u1/none"], 30)
    assert [(s.path, s.signed_url is not None, s.error is not None) for s in many] == [
        ("u1/a.mp4", True, False), ("u1/none", False, True)]
    upload = client.create_signed_upload("videos", "u1/b.mp4", upsert=True)
    assert double.requests[-1].headers["x-upsert"] == "true"
    client.upload_to_signed(upload, b"signed")
    assert double.requests[-1].url.params["token"] == "u-videos/u1/b.mp4"
    assert double.objects["videos/u1/b.mp4"] == b"signed"


def test_render_builds_the_transform_query(double: StorageProtocolDouble,
                                           client: StorageClient) -> None:
    double.objects["avatars/u1/a.png"] = b"img"
    client.render("avatars", "u1/a.png", Transform(width=5, height=6, resize="contain",
                                                   format="webp", quality=50))
    request = double.requests[-1]
    assert request.url.path == "/storage/v1/render/image/authenticated/avatars/u1/a.png"
    assert dict(request.url.params) == {"width": "5", "height": "6", "resize": "contain",
                                        "format": "webp", "quality": "50"}
    client.render("avatars", "u1/a.png", Transform(width=5), public=True)
    assert double.requests[-1].url.path == "/storage/v1/render/image/public/avatars/u1/a.png"
    assert "authorization" not in double.requests[-1].headers


def test_resumable_upload_in_chunks(double: StorageProtocolDouble,
                                    client: StorageClient) -> None:
    data = bytes(range(256)) * 10
    location = client.upload_resumable("videos", "u1/big.bin", data, chunk_size=1000,
                                       content_type="video/mp4")
    assert location.startswith("/upload/resumable/")  # made relative to the client's base
    patches = [r for r in double.requests if r.method == "PATCH"]
    assert [r.headers["upload-offset"] for r in patches] == ["0", "1000", "2000"]
    assert all(r.headers["content-type"] == "application/offset+octet-stream" for r in patches)
    create = next(r for r in double.requests if r.method == "POST")
    assert create.headers["upload-length"] == str(len(data))
    assert double.objects["videos/u1/big.bin"] == data
    assert client.resumable_offset(location) == len(data)


def test_timeouts_and_unreachable_are_one_typed_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = StorageClient(BASE, KEY, timeout_s=0.5, transport=httpx.MockTransport(slow))
    assert client._http.timeout.read == 0.5
    with pytest.raises(StorageError) as timed_out:
        client.download("videos", "u1/a")
    assert (timed_out.value.status, timed_out.value.code) == (0, "timeout")
    assert "0.5s" in timed_out.value.message
    down = StorageClient(BASE, KEY, transport=httpx.MockTransport(refused))
    with pytest.raises(StorageError) as unreachable:
        down.status()
    assert (unreachable.value.status, unreachable.value.code) == (0, "unreachable")


def test_a_non_json_error_body_is_still_parsed() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    client = StorageClient(BASE, KEY, transport=httpx.MockTransport(gateway))
    with pytest.raises(StorageError) as caught:
        client.list_buckets()
    assert (caught.value.status, caught.value.status_code, caught.value.code) == (
        502, 502, "Bad Gateway")


def test_object_path_quotes_segments_and_keeps_slashes() -> None:
    assert object_path("u1/a b/c?d.png") == "u1/a%20b/c%3Fd.png"
