"""Storage API throughput and latency per object size, and transform latency, each beside a
reference measured in the same run on the same machine (never a timed assert).

- upload/download: `rounds` uploads then downloads of one object size; latency percentiles
  (p50, p95, max) and throughput (size / median latency). The reference is the API's own
  `GET /status` round trip (the HTTP floor: what a request costs before any bytes or SQL), so
  `x status` says how many empty round trips one transfer costs.
- transform: `/render/image` latency for a small resize of one image, beside the plain
  download of the same object (`x download`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
import time
from collections.abc import Callable, Sequence

from soberharness.clients.storage import StorageClient, Transform

KIB = 1024
MIB = 1024 * KIB


def _ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


@dataclasses.dataclass(frozen=True)
class Latencies:
    samples_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=20, method="inclusive")[18]

    def summary(self) -> dict[str, float]:
        return {"p50_ms": round(self.p50, 2), "p95_ms": round(self.p95, 2),
                "max_ms": round(max(self.samples_ms), 2), "rounds": len(self.samples_ms)}


@dataclasses.dataclass(frozen=True)
class SizeFigures:
    size: int
    upload: Latencies
    download: Latencies
    reference: Latencies  # GET /status in the same run
    intact: bool  # every download returned the uploaded bytes

    def mib_per_s(self, lat: Latencies) -> float:
        return (self.size / MIB) / (lat.p50 / 1000) if lat.p50 else 0.0

    def summary(self) -> dict[str, object]:
        ref = self.reference.p50
        return {
            "size_bytes": self.size,
            "upload": self.upload.summary() | {
                "mib_per_s": round(self.mib_per_s(self.upload), 2),
                "x_status": round(self.upload.p50 / ref, 1) if ref else None},
            "download": self.download.summary() | {
                "mib_per_s": round(self.mib_per_s(self.download), 2),
                "x_status": round(self.download.p50 / ref, 1) if ref else None},
            "status_p50_ms": round(ref, 2),
            "intact": self.intact,
        }

    def line(self) -> str:
        return (f"{_size_label(self.size)}: upload p50 {self.upload.p50:.1f} ms "
                f"({self.mib_per_s(self.upload):.1f} MiB/s, "
                f"{self.upload.p50 / self.reference.p50:.1f}x status), download p50 "
                f"{self.download.p50:.1f} ms ({self.mib_per_s(self.download):.1f} MiB/s, "
                f"{self.download.p50 / self.reference.p50:.1f}x status)")


def _size_label(size: int) -> str:
    return f"{size // MIB} MiB" if size >= MIB else f"{size // KIB} KiB"


def payload(size: int) -> bytes:
    block = hashlib.sha256(str(size).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def status_latency(client: StorageClient, rounds: int) -> Latencies:
    return Latencies(tuple(_ms(client.status) for _ in range(rounds)))


def transfer(client: StorageClient, bucket: str, folder: str, size: int, rounds: int,
             timeout_s: float = 120.0) -> SizeFigures:
    """Upload and download one object of `size` bytes `rounds` times (upsert), interleaved
    with status round trips as the reference."""
    data = payload(size)
    name = f"{folder}/bench-{size}.bin"
    ups, downs, refs = [], [], []
    intact = True
    for _ in range(rounds):
        refs.append(_ms(client.status))
        ups.append(_ms(lambda: client.upload(bucket, name, data, upsert=True,
                                             timeout_s=timeout_s)))
        started = time.perf_counter()
        got = client.download(bucket, name, timeout_s=timeout_s).data
        downs.append((time.perf_counter() - started) * 1000)
        intact = intact and got == data
    client.remove(bucket, name)
    return SizeFigures(size, Latencies(tuple(ups)), Latencies(tuple(downs)),
                       Latencies(tuple(refs)), intact)


def transform_latency(client: StorageClient, bucket: str, name: str, rounds: int,
                      transform: Transform) -> tuple[Latencies, Latencies]:
    """Render latency and plain download latency of the same object, interleaved."""
    renders, downloads = [], []
    for _ in range(rounds):
        downloads.append(_ms(lambda: client.download(bucket, name)))
        renders.append(_ms(lambda: client.render(bucket, name, transform)))
    return Latencies(tuple(renders)), Latencies(tuple(downloads))


def rounds_for(size: int, deep: bool) -> int:
    if size >= 16 * MIB:
        return 3
    if size >= MIB:
        return 20 if deep else 5
    return 100 if deep else 20


def sizes(deep: bool) -> Sequence[int]:
    return (KIB, MIB, 50 * MIB) if deep else (KIB, MIB)
