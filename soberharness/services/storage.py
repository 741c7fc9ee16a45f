"""The Storage API: buckets and objects, behind RLS on storage.objects."""

from __future__ import annotations

from soberharness.clients.storage import StorageClient
from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("storage", "Storage API", compose=("storage", "gateway"),
                     gateway_path="/storage/v1", health_path="/status")


def client(url: str, api_key: str, timeout_s: float = 15.0) -> StorageClient:
    """A Storage API client at `url` (the target's storage root), sending `api_key`."""
    return StorageClient(url, api_key, timeout_s=timeout_s)
