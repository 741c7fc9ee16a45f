"""The Realtime suite's RestWriter (its writes through PostgREST, built by services.rest) against
the PostgREST protocol double over a scratch database: an author's post is inserted, changed and
deleted as that author; the same write in someone else's name is refused and named."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.errors import HarnessError
from soberharness.runner.rest_matrix import RestKeys
from soberharness.targets.base import Target
from soberharness.testing.postgrest_protocol_double import BASE_URL, PostgrestProtocolDouble
from soberharness.workload.realtime_fanout import RestWriter
from soberharness.world.entities import Post, User, Viewer, World


def _body(dsn: str, post: Post) -> str | None:
    with db_session.connect(dsn) as conn:
        row = conn.execute("select body from public.posts where id = %s", (post.id,)).fetchone()
    return row[0] if row else None


def test_rest_writer_writes_as_the_viewer(target: Target, scratch_database: str) -> None:
    secret = target.keys.jwt_secret
    assert secret
    author, other = User(uuid.uuid4(), "writer_a"), User(uuid.uuid4(), "writer_b")
    world = World()
    world.add(author)
    world.add(other)
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, world)
    double = PostgrestProtocolDouble(scratch_database, secret)
    writer = RestWriter(BASE_URL, RestKeys.minted(secret).anon_key, secret, transport=double)
    try:
        post = Post(uuid.uuid4(), author.id, body="first")
        writer.insert(Viewer.of(author), post)
        assert _body(scratch_database, post) == "first"
        writer.update(Viewer.of(author), post, dataclasses.replace(post, body="second"))
        assert _body(scratch_database, post) == "second"
        forged = Post(uuid.uuid4(), author.id, body="forged")
        with pytest.raises(HarnessError, match=f"POST /posts as {other.id}"):
            writer.insert(Viewer.of(other), forged)
        assert _body(scratch_database, forged) is None
        writer.delete(Viewer.of(author), post)
        assert _body(scratch_database, post) is None
    finally:
        writer.close()
        double.close()
