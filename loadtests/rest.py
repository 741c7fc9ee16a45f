"""Load on SoberTube's REST API (PostgREST): feed, profile, like, comment and post mixes per
kind of user (lurker, poster, commenter), signed in with JWTs minted from the target's secret.

    SOBER_LOAD_JWT_SECRET=… SOBER_LOAD_ANON_KEY=… [SOBER_LOAD_SERVICE_KEY=…] \\
    .venv/bin/locust -f loadtests/rest.py --headless -u 50 -r 10 -t 30s \\
        --host https://api.example/rest/v1 [--population users.json] \\
        [--max-error-rate 0.01 --max-p95-ms 500 --max-p99-ms 1500]

The host is the PostgREST base (tables at <host>/<table>). At the end the thresholds decide
the exit code (0 pass, 1 broken, 2 bad configuration) and a JSON summary is written to
reports/load/rest.json (--summary-out). The mixes and requests live in
soberharness.workload.rest_load; this file only wires them to locust.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from locust import HttpUser
from locust.clients import ResponseContextManager

from soberharness.clients.realtime import fanout_marker
from soberharness.workload import rest_load as rl
from soberharness.workload.locust_support import register

RUN_ID = uuid.uuid4().hex[:12]
CONFIG = register("rest", required=(rl.ENDPOINT[rl.Action.FEED],))


class SoberUser(HttpUser):
    abstract = True
    mix: rl.UserClassMix

    def wait_time(self) -> float:
        low, high = self.mix.think_s
        return random.uniform(low, high) * CONFIG.think_scale

    def on_start(self) -> None:
        self.me = CONFIG.users().pick(random.Random())
        self.headers = rl.rest_headers(CONFIG.anon_key, rl.user_token(self.me, CONFIG.jwt_secret))
        self.handles = CONFIG.users().handles()
        self.seen_posts: list[str] = []

    # -- actions ------------------------------------------------------------------------------
    def feed(self) -> None:
        with self._get("/posts", rl.feed_params(self.me.follows), rl.Action.FEED) as response:
            if _expect(response, 200):
                self._remember(response)

    def profile(self) -> None:
        params = rl.profile_params(random.choice(self.handles))
        with self._get("/profiles", params, rl.Action.PROFILE) as response:
            if _expect(response, 200):
                self._remember(response)

    def like(self) -> None:
        post = self._a_post()
        if post is None:
            return
        params, body = rl.like_request(self.me, post)
        self._write("/likes", body, rl.Action.LIKE, params, rl.LIKE_PREFER)

    def comment(self) -> None:
        post = self._a_post()
        if post is not None:
            self._write("/comments", rl.comment_body(self.me, post, "one day at a time"),
                        rl.Action.COMMENT)

    def post(self) -> None:
        text = f"grateful today {fanout_marker(RUN_ID, time.time())}"
        self._write("/posts", rl.post_body(self.me, text), rl.Action.POST)

    # -- plumbing -----------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str], action: rl.Action
             ) -> ResponseContextManager:
        return self.client.get(path, params=params, headers=self.headers,
                               name=rl.ENDPOINT[action], catch_response=True)

    def _write(self, path: str, body: dict[str, Any], action: rl.Action,
               params: dict[str, str] | None = None, prefer: str = rl.WRITE_PREFER) -> None:
        with self.client.post(path, params=params or {}, json=body,
                              headers=rl.write_headers(self.headers, prefer),
                              name=rl.ENDPOINT[action], catch_response=True) as response:
            _expect(response, 201)

    def _remember(self, response: ResponseContextManager) -> None:
        try:
            found = rl.post_ids(response.json())
        except ValueError:
            response.failure("answer is not JSON")
            return
        if found:
            self.seen_posts = found[:50]

    def _a_post(self) -> str | None:
        if not self.seen_posts:
            self.feed()
        return random.choice(self.seen_posts) if self.seen_posts else None


def _expect(response: ResponseContextManager, status: int) -> bool:
    if response.status_code != status:
        response.failure(f"HTTP {response.status_code} (expected {status}): "
                         f"{(response.text or '')[:120]}")
        return False
    response.success()
    return True


ACTIONS: dict[rl.Action, Callable[[SoberUser], None]] = {
    rl.Action.FEED: SoberUser.feed,
    rl.Action.PROFILE: SoberUser.profile,
    rl.Action.LIKE: SoberUser.like,
    rl.Action.COMMENT: SoberUser.comment,
    rl.Action.POST: SoberUser.post,
}


def _tasks(mix: rl.UserClassMix) -> dict[Callable[..., None], int]:
    return {ACTIONS[action]: weight for action, weight in mix.tasks.items() if weight}


class Lurker(SoberUser):
    mix = rl.LURKER
    weight = mix.weight
    tasks = _tasks(mix)


class Poster(SoberUser):
    mix = rl.POSTER
    weight = mix.weight
    tasks = _tasks(mix)


class Commenter(SoberUser):
    mix = rl.COMMENTER
    weight = mix.weight
    tasks = _tasks(mix)
