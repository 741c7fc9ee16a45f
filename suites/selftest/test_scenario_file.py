"""Scenario files: names resolve to one world; mistakes are one clear line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.world.entities import FollowStatus, Privacy
from soberharness.world.scenario_file import ScenarioError, load_scenario

GOOD = """
description = "two users"
follows = [["b", "a", "pending"]]
posts = [{ name = "p", author = "a", hidden = true }]
comments = [{ name = "c", author = "b", on = "p" }]
expect = [{ viewer = "b", table = "posts", misses = ["p"] }]

[users]
a = { privacy = "private" }
b = { moderator = true }
"""


def test_names_resolve_to_one_world(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    users = {u.handle: u for u in scenario.world.users.values()}
    assert users["two_a"].privacy is Privacy.PRIVATE and users["two_b"].moderator
    (follow,) = scenario.world.follows
    assert (follow.follower, follow.followee) == (users["two_b"].id, users["two_a"].id)
    assert follow.status is FollowStatus.PENDING
    (post,) = scenario.world.posts.values()
    (comment,) = scenario.world.comments.values()
    assert post.hidden and comment.parent == post.ref
    (expectation,) = scenario.expectations
    assert expectation.misses == {post.id} and expectation.viewer.moderator


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('posts = [{ name = "p", author = "zed" }]\n[users]\na = {}\n', "unknown user 'zed'"),
        ('likes = [{ user = "a", on = "nope" }]\n[users]\na = {}\n', "unknown post or video"),
        ('expect = [{ viewer = "a", table = "blocks" }]\n[users]\na = {}\n', "expect.table"),
        ("users = [", "two.toml"),
    ],
)
def test_mistakes_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "two.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)
