"""What `StorageApiDouble` keeps of a resumable (TUS 1.0.0) upload between requests, and the
TUS header formats it reads, as supabase/storage's TUS route uses them (src/http/routes/tus,
src/storage/protocols/tus): an upload's id is `<bucket>/<object>/<version>` in base64url, its
`Upload-Metadata` carries bucketName, objectName and contentType. Only for the harness's own
tests (see storage_protocol_double)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import uuid

TUS_VERSION = "1.0.0"


@dataclasses.dataclass
class Resumable:
    """One upload in progress: where it goes, how long it will be, the bytes so far."""

    bucket: str
    name: str
    length: int
    mime: str
    upsert: bool
    version: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    data: bytearray = dataclasses.field(default_factory=bytearray)

    @property
    def id(self) -> str:
        raw = f"{self.bucket}/{self.name}/{self.version}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def tus_metadata(header: str) -> dict[str, str]:
    """`Upload-Metadata: key base64value,key2 base64value2` as a dict ({} for a bad header)."""
    values: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            values[key] = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return {}
    return values
