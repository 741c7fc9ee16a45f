"""Access models with one planted rule: what the rules would be with a known defect, to predict
exactly which cells a planted policy opens (the selftests and the destructive planted-defect
tests compare the cells reported with the cells these models and the true one disagree on)."""

from __future__ import annotations

from soberharness.access.model import AccessModel
from soberharness.world.entities import Role, StoredObject, Viewer


def video_read_leak(*roles: Role) -> type[AccessModel]:
    """The model plus `create policy .. on storage.objects for select to <roles> using
    (bucket_id = 'videos')`: those roles read every video object."""

    class VideoReadLeak(AccessModel):
        def _read_object(self, viewer: Viewer, obj: StoredObject) -> bool:
            if obj.bucket == "videos" and viewer.role in roles:
                return True
            return super()._read_object(viewer, obj)

    return VideoReadLeak
