"""Who may join, receive and send on SoberTube's private Realtime channels (the rules of
docs/access-decisions.md, "Realtime channels").

The stack's one private topic family is a user's live room, `live:<user id>`: receiving
(broadcast and presence; joining is receiving) follows the reading rule of the owner's visible
content (R1..R7); sending (a broadcast, or tracking one's presence) that of commenting on it:
signed in, able to see it, and no block either way between sender and owner. The service role
bypasses RLS and may do everything; every other private topic admits no one else.
"""

from __future__ import annotations

import enum
import re
import uuid

from soberharness.access.model import AccessModel
from soberharness.world.entities import Viewer

LIVE_PREFIX = "live:"
_LIVE = re.compile(r"^live:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


class Extension(enum.StrEnum):
    """What a private channel carries, as realtime.messages.extension names it."""

    BROADCAST = "broadcast"
    PRESENCE = "presence"


class ChannelOp(enum.StrEnum):
    """Receive (select as the user: joining and hearing) or send (insert as the user)."""

    READ = "read"
    WRITE = "write"


def live_topic(owner: uuid.UUID) -> str:
    """The topic of owner's live room."""
    return f"{LIVE_PREFIX}{owner}"


def live_owner(topic: str) -> uuid.UUID | None:
    """The owner of a live room topic; None for any other topic."""
    match = _LIVE.match(topic)
    return uuid.UUID(match.group(1)) if match else None


def may(model: AccessModel, viewer: Viewer, topic: str, op: ChannelOp) -> bool:
    """May the viewer receive (READ) or send (WRITE) on this private topic? The same answer
    for broadcast and presence."""
    if model.is_service(viewer):
        return True
    owner = live_owner(topic)
    if owner is None or not model.sees_content(viewer, owner):
        return False
    if op is ChannelOp.READ:
        return True
    me = model.me(viewer)
    return me is not None and not model.blocked_between(me, owner)
