"""Fan-out under load: N subscribers x M writers on the matrix world, judged by the delivery
checker (completeness, duplicates, leaks, order) with latency = receive time minus the commit
time Realtime carries in each event.

Subscribers cycle through the matrix's actors (subscriber `i` plays actor `i mod 11`, named
`<actor>#<i>`), so leaks are judged too; writers are the three owners and the follower, each
inserting posts from its own thread and writer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable

from soberharness.checker import realtime_delivery as rd
from soberharness.records.realtime import Subscription
from soberharness.workload import realtime_fanout as rf
from soberharness.workload.realtime_plans import matrix_subscribers
from soberharness.world.entities import Post, Privacy, Viewer
from soberharness.world.matrix_world import MatrixWorld

OPEN_AT_ONCE = 50  # sockets being opened concurrently


@dataclasses.dataclass(frozen=True)
class LoadShape:
    subscribers: int = 200
    writers: int = 4
    posts_each: int = 5
    interval_s: float = 0.2
    tag: str = ""  # tells repeated runs on one world apart


def load_subscribers(mw: MatrixWorld, n: int) -> dict[str, Viewer]:
    actors = list(matrix_subscribers(mw).items())
    return {f"{actors[i % len(actors)][0]}#{i}": actors[i % len(actors)][1] for i in range(n)}


def load_writers(mw: MatrixWorld, n: int) -> list[Viewer]:
    people = [Viewer.of(mw.owners[p]) for p in Privacy] + [Viewer.of(mw.users["follower"])]
    return [people[i % len(people)] for i in range(n)]


async def fanout_under_load(endpoint: rf.RealtimeEndpoint, ledger: rf.FanoutLedger,
                            mw: MatrixWorld, shape: LoadShape,
                            writer_for: Callable[[], rf.Writer], *,
                            timeout_s: float = 30.0) -> tuple[rd.DeliveryReport, float]:
    """Open the subscribers, let the writers post, judge. Returns the report and the seconds
    the writes took. `ledger.subscribers` must be `load_subscribers(mw, shape.subscribers)`."""
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(name: str, viewer: Viewer) -> rf.Listener:
        async with gate:
            return await rf.open_listener(endpoint, name, viewer, (Subscription("posts"),),
                                          f"sober-load-{mw.run_id or 'x'}-{name}")

    tasks = [asyncio.create_task(one(n, v)) for n, v in ledger.subscribers.items()]
    done = await asyncio.gather(*tasks, return_exceptions=True)
    listeners = [x for x in done if isinstance(x, rf.Listener)]
    try:
        failed = [x for x in done if not isinstance(x, rf.Listener)]
        if failed:
            raise failed[0]  # type: ignore[misc]
        began = time.monotonic()
        await asyncio.to_thread(_write_all, ledger, mw, shape, writer_for)
        took = time.monotonic() - began
        report = await rf.settle_and_judge(ledger.changes, listeners, timeout_s=timeout_s)
    finally:
        await rf.close_all(listeners)
    return report, took


def _write_all(ledger: rf.FanoutLedger, mw: MatrixWorld, shape: LoadShape,
               writer_for: Callable[[], rf.Writer]) -> None:
    errors: list[BaseException] = []

    def run(w: int, viewer: Viewer) -> None:
        try:
            via = writer_for()
            assert viewer.user_id is not None
            for k in range(shape.posts_each):
                post = Post(mw.id(f"rt/load/{shape.tag}/{w}/{k}"), viewer.user_id, f"load {w}/{k}")
                ledger.insert(viewer, post, via=via)
                time.sleep(shape.interval_s)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, v), daemon=True)
               for w, v in enumerate(load_writers(mw, shape.writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
