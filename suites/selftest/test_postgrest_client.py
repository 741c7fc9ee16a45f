"""The PostgREST client puts on the wire what supabase-js (postgrest-js) puts there, reads the
count and errors as it does, and reports an unreachable server in one line."""

from __future__ import annotations

import uuid

import httpx
import pytest

from soberharness.clients.postgrest import PostgrestClient, PostgrestUnavailable

URL = "http://rest.example/rest/v1"


def _recording(status: int = 200, body: bytes = b"[]", headers: dict[str, str] | None = None):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers=headers or {})

    transport = httpx.MockTransport(handler)
    return seen, PostgrestClient(URL, "anon-key", "user-jwt", transport=transport)


def test_select_sends_profile_filters_and_embedding() -> None:
    seen, client = _recording()
    key = uuid.UUID(int=7)
    client.select("comments", {"id": key, "video_id": None}, "*,posts(*)", schema="public")
    (req,) = seen
    assert req.method == "GET" and req.url.path == "/rest/v1/comments"
    assert list(req.url.params.multi_items()) == [
        ("select", "*,posts(*)"), ("id", f"eq.{key}"), ("video_id", "is.null")]
    assert req.headers["apikey"] == "anon-key"
    assert req.headers["authorization"] == "Bearer user-jwt"
    assert req.headers["accept-profile"] == "public"
    assert "content-profile" not in req.headers and "content-type" not in req.headers
    assert "prefer" not in req.headers


def test_writes_send_content_profile_prefer_and_on_conflict() -> None:
    seen, client = _recording(201, b"", {"content-range": "*/1"})
    answer = client.upsert("likes", {"id": uuid.UUID(int=1)}, ("user_id", "post_id"),
                           ignore_duplicates=True, schema="public", count="exact")
    client.insert("objects", {"name": "a"}, schema="storage", count="exact")
    client.update("posts", {"body": "x"}, {"id": "1"}, count="exact")
    client.delete("posts", {"id": "1"})
    upsert, insert, update, delete = seen
    assert upsert.url.params["on_conflict"] == "user_id,post_id"
    assert upsert.headers["prefer"] == "resolution=ignore-duplicates,count=exact"
    assert upsert.headers["content-profile"] == "public"
    assert upsert.headers["content-type"] == "application/json"
    assert upsert.content == b'{"id":"00000000-0000-0000-0000-000000000001"}'
    assert insert.headers["content-profile"] == "storage" and "on_conflict" not in insert.url.params
    assert insert.headers["prefer"] == "count=exact"
    assert update.method == "PATCH" and update.url.params["id"] == "eq.1"
    assert delete.method == "DELETE" and "prefer" not in delete.headers
    assert answer.status == 201 and answer.count == 1 and answer.body is None


@pytest.mark.parametrize(("header", "count"), [("0-0/1", 1), ("*/0", 0), ("0-4/*", None),
                                              (None, None)])
def test_count_is_the_total_of_content_range(header: str | None, count: int | None) -> None:
    _seen, client = _recording(204, b"", {"content-range": header} if header else {})
    assert client.delete("posts", {"id": "1"}, count="exact").count == count


def test_error_body_is_read_as_postgrest_writes_it() -> None:
    body = (b'{"code":"42501","details":null,"hint":null,'
            b'"message":"new row violates row-level security policy for table \\"posts\\""}')
    _seen, client = _recording(403, body)
    answer = client.insert("posts", {"id": "1"})
    assert not answer.ok and answer.error is not None
    assert answer.error.code == "42501" and "row-level security" in answer.error.message


def test_unreachable_and_slow_servers_are_one_line() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler, words in ((refuse, "unreachable"), (stall, "did not answer")):
        client = PostgrestClient(URL, "k", transport=httpx.MockTransport(handler), timeout=0.5)
        with pytest.raises(PostgrestUnavailable) as info:
            client.select("posts")
        assert words in str(info.value) and "\n" not in str(info.value)
