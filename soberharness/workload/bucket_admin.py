"""Bucket administration only service_role may do, tried by other callers: create, update, empty
and delete. Emptying and deleting are tried on a bucket the test made for itself, never on the
shared world's buckets (a Storage API that lets them through, as v1.44.2 let any signed-in user
empty a bucket, would otherwise wipe the world the other tests read).

Each call that is not refused is named with the call, the caller and the status it answered."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from soberharness.clients.storage import StorageClient, StorageError

# What the Storage API answers a refused administration call with (statusCode of the body).
REFUSALS = frozenset({400, 401, 403, 404, 409})


def visible_to_everyone(bucket: str) -> list[str]:
    """Policies letting anon and signed-in users see `bucket` and its objects (nothing more):
    where they cannot see it, an empty or delete is refused before the API's own guard is
    reached (v1.44.2 let anyone empty a bucket they could see). Changes the target's policies:
    only on a target that opted in to destructive work, undone by `invisible_again`."""
    name = _policy(bucket)
    literal = "'" + bucket.replace("'", "''") + "'"
    return [
        f"create policy {name} on storage.buckets for select to anon, authenticated "
        f"using (id = {literal})",
        f"create policy {name} on storage.objects for select to anon, authenticated "
        f"using (bucket_id = {literal})",
    ]


def deletable_by_owner(bucket: str) -> list[str]:
    """A policy letting a signed-in user delete their own objects of `bucket`: the caller may
    then delete the bucket's first object, which v1.48.12 to v1.70.0 took as leave to empty
    the whole bucket (their probe deleted only that object). Undone by `invisible_again`."""
    literal = "'" + bucket.replace("'", "''") + "'"
    return [f"create policy {_policy(bucket)}_del on storage.objects for delete to authenticated "
            f"using (bucket_id = {literal} and owner = auth.uid())"]


def invisible_again(bucket: str) -> list[str]:
    name = _policy(bucket)
    return [f"drop policy if exists {name} on storage.buckets",
            f"drop policy if exists {name} on storage.objects",
            f"drop policy if exists {name}_del on storage.objects"]


def _policy(bucket: str) -> str:
    return "sober_visible_" + "".join(ch if ch.isalnum() else "_" for ch in bucket)[:40]


@dataclasses.dataclass(frozen=True)
class AdminCall:
    call: str  # the request, e.g. "POST /bucket/<id>/empty"
    run: Callable[[StorageClient], object]


def admin_calls(own_bucket: str, new_bucket: str) -> list[AdminCall]:
    """The service-only calls: creating `new_bucket`, and changing, emptying and deleting
    `own_bucket` (a bucket of the test's own)."""
    return [
        AdminCall(f"POST /bucket {{id: {new_bucket}, public: true}}",
                  lambda c: c.create_bucket(new_bucket, public=True)),
        AdminCall(f"PUT /bucket/{own_bucket} {{public: true}}",
                  lambda c: c.update_bucket(own_bucket, public=True)),
        AdminCall(f"POST /bucket/{own_bucket}/empty", lambda c: c.empty_bucket(own_bucket)),
        AdminCall(f"DELETE /bucket/{own_bucket}", lambda c: c.delete_bucket(own_bucket)),
    ]


def unrefused(caller: str, client: StorageClient, calls: list[AdminCall]) -> list[str]:
    """Run each call as `client`; one line per call not refused: the call, the caller and the
    status (a 2xx it should not have given, or an error that is not a refusal)."""
    out: list[str] = []
    for call in calls:
        try:
            answer = call.run(client)
        except StorageError as exc:
            if exc.status_code in REFUSALS or exc.status in REFUSALS:
                continue
            out.append(f"{call.call} by {caller}: answered {exc.status} "
                       f"({exc.status_code} {exc.code}: {exc.message}), not a refusal")
            continue
        out.append(f"{call.call} by {caller}: answered {client.last_status} {answer!r}, "
                   "must be refused")
    return out
