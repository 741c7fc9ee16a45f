"""Capacity of the Realtime load generator: idle sockets one process holds and messages per
second it receives, against `RealtimeProtocolDouble` (its own process) on 127.0.0.1.

`python -m soberharness.bench.realtime_capacity [--sockets N] [--messages M] [--vsn V]`

The process is gevent-patched first, as a locust worker is, and uses the locust user's
transport (soberharness.clients.realtime_sync, the RealtimeSession protocol). It opens N
sockets and joins one channel on each, holds them idle through two heartbeat rounds, then asks
the double to broadcast M messages to all of them and times their arrival, twice: decoded by
the protocol (as the locust user does), and counted without decoding (the reference measured
in the same run). Printed as a benchmark with the ratio, never asserted: it says how many
subscribers one load process carries, and when to go distributed.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import psutil  # noqa: E402

from soberharness.clients import realtime as rp  # noqa: E402
from soberharness.clients.realtime_sync import SyncRealtimeClient  # noqa: E402
from soberharness.db.claims import sign  # noqa: E402
from soberharness.errors import HarnessError  # noqa: E402
from soberharness.services import realtime  # noqa: E402

SECRET = "capacity-bench-secret-not-a-real-key-0123456789"
TOPIC = "capacity"
OPEN_AT_ONCE = 100


class Double:
    """The protocol double as a child process, driven through its stdin."""

    def __init__(self) -> None:
        env = dict(os.environ) | {"SOBER_DOUBLE_JWT_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "soberharness.testing.realtime_protocol_double"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self._line(30)
        if not line.startswith("port "):
            raise HarnessError(f"realtime double did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/realtime/v1"

    def _line(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        with gevent.Timeout(timeout_s, HarnessError("realtime double did not answer")):
            return self.proc.stdout.readline().strip()

    def ask(self, command: str, timeout_s: float = 600) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line(timeout_s)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _flood(double: Double, clients: list[SyncRealtimeClient], messages: int, decode: bool,
           timeout_s: float) -> tuple[float, int, float]:
    """Seconds until every socket got `messages` frames, frames received, double's send s."""
    for c in clients:
        c.decode = decode
    start = {id(c): c.frames for c in clients}
    began = time.perf_counter()
    sent = float(double.ask(f"flood {rp.channel_topic(TOPIC)} {messages} 64").split()[1])
    want = len(clients) * messages
    deadline = began + timeout_s
    got = 0
    while time.perf_counter() < deadline:
        got = sum(c.frames - start[id(c)] for c in clients)
        if got >= want:
            break
        gevent.sleep(0.01)
    return time.perf_counter() - began, got, sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=50, help="broadcasts per flood")
    parser.add_argument("--vsn", default=rp.VSN_1, choices=[rp.VSN_1, rp.VSN_2])
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    token = sign({"role": "authenticated", "sub": "bench", "exp": int(time.time()) + 3600},
                 SECRET)
    anon = sign({"role": "anon", "exp": int(time.time()) + 3600}, SECRET)
    me = psutil.Process()
    rss_before = me.memory_info().rss
    double = Double()
    clients: list[SyncRealtimeClient] = []
    failed: list[str] = []
    try:
        def open_one(_: int) -> None:
            try:
                client = realtime.sync_client(double.url, anon, args.vsn, heartbeat_interval_s=2.0)
                client.join(TOPIC, token, timeout_s=30)
                clients.append(client)
            except (HarnessError, OSError) as exc:
                failed.append(str(exc))

        began = time.perf_counter()
        gevent.pool.Pool(OPEN_AT_ONCE).map(open_one, range(args.sockets))
        opened_s = time.perf_counter() - began
        for _ in range(2):  # two heartbeat rounds while idle
            for c in clients:
                c.tick()
            gevent.sleep(2.1)
        held = sum(1 for c in clients if not c.closed_reason and all(
            ch.joined for ch in c.session.channels.values()))
        rss = me.memory_info().rss - rss_before
        print(f"realtime capacity (one gevent process, vsn {args.vsn}, protocol double on "
              f"127.0.0.1)")
        print(f"  idle sockets held: {held} of {args.sockets} asked ({len(failed)} failed to "
              f"open), opened in {opened_s:.1f}s ({held / opened_s:,.0f}/s), "
              f"{rss / max(held, 1) / 1024:.0f} KiB each")
        if failed:
            print(f"  first open failure: {failed[0]}")
        decoded_s, decoded_n, sent_s = _flood(double, clients, args.messages, True,
                                              args.timeout)
        raw_s, raw_n, raw_sent_s = _flood(double, clients, args.messages, False, args.timeout)
        decoded_rate, raw_rate = decoded_n / decoded_s, raw_n / raw_s
        print(f"  messages received, decoded by the protocol: {decoded_rate:,.0f}/s "
              f"({decoded_n} in {decoded_s:.2f}s; the double needed {sent_s:.2f}s to send)")
        print(f"  reference, frames counted without decoding: {raw_rate:,.0f}/s "
              f"({raw_n} in {raw_s:.2f}s; the double needed {raw_sent_s:.2f}s)")
        print(f"  ratio decoded/raw: {decoded_rate / raw_rate if raw_rate else 0.0:.2f}")
        bound = "the double's sending" if sent_s > 0.8 * decoded_s else "this process"
        print(f"  bounded by: {bound} (load avg {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores)")
    finally:
        pool = gevent.pool.Pool(OPEN_AT_ONCE)
        pool.map(lambda c: c.close(), clients)
        double.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
