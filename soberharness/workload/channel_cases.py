"""The cells of the private channel matrix over the matrix world: every actor towards every
owner, on that owner's live room and on a private topic the stack does not use, for broadcast
and presence, receive and send; each with the rules' answer (access/channels.py)."""

from __future__ import annotations

from soberharness.access.channels import ChannelOp, Extension, live_topic, may
from soberharness.access.model import AccessModel
from soberharness.records.channels import ChannelCell
from soberharness.world.entities import Viewer
from soberharness.world.matrix_world import ACTORS, MatrixWorld

# A private topic no policy of the stack admits: only the service role may use it.
OTHER_PREFIX = "room:"


def channel_cells(mw: MatrixWorld) -> list[tuple[Viewer, ChannelCell]]:
    """Every cell, with the viewer that asks it."""
    model = AccessModel(mw.world)
    cells: list[tuple[Viewer, ChannelCell]] = []
    for privacy, owner in mw.owners.items():
        topics = {f"live:O_{privacy.value}": live_topic(owner.id),
                  f"room:O_{privacy.value}": f"{OTHER_PREFIX}{owner.id}"}
        for actor in ACTORS:
            viewer = mw.viewer(actor, privacy)
            label = f"{actor} towards O_{privacy.value}"
            for topic_label, topic in topics.items():
                for ext in Extension:
                    for op in ChannelOp:
                        cell = ChannelCell(label, topic_label, topic, ext.value, op.value,
                                           may(model, viewer, topic, op))
                        cells.append((viewer, cell))
    return cells
