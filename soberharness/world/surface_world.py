"""The world the exposed-surface checks call functions and read views in.

The matrix world (one owner per privacy level, the shared actors) plus rows that only a history
leaves behind, so that a function or a bare statement has something to leak: for each owner O_p,
a comment and a like by the follower on O_p's hidden post (their author no longer sees them),
and a comment and a like by `blocked` and by `blocker` on O_p's visible post (made before the
block). Every text is distinct and searchable.
"""

from __future__ import annotations

import dataclasses

from soberharness.world.entities import Comment, Like, Post, Privacy, User, Viewer, World
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world


@dataclasses.dataclass(frozen=True)
class SurfaceWorld:
    matrix: MatrixWorld
    viewers: dict[str, Viewer]  # actor label -> viewer: shared actors and "self:<privacy>"

    @property
    def world(self) -> World:
        return self.matrix.world

    def label_of(self, viewer: Viewer) -> str:
        for label, v in self.viewers.items():
            if v == viewer:
                return label
        return str(viewer)


def build_surface_world(run_id: str = "") -> SurfaceWorld:
    """A fresh surface world; ids and handles are its own (`<run_id>_surface`), apart from the
    matrix world of the same run."""
    mw = build_matrix_world(f"{run_id}_surface" if run_id else "surface")
    follower, blocked, blocker = (mw.users[a] for a in ("follower", "blocked", "blocker"))
    for p, owner in mw.owners.items():
        hidden: Post = mw.hidden_posts[p]
        visible: Post = mw.posts[p]
        mw.world.add(Post(hidden.id, owner.id, body=f"hidden thoughts of O_{p}", hidden=True))
        _reactions(mw, p, "follower_on_hidden", follower, hidden)
        _reactions(mw, p, "blocked_on_visible", blocked, visible)
        _reactions(mw, p, "blocker_on_visible", blocker, visible)
    viewers = dict(mw.actors) | {f"self:{p.value}": Viewer.of(o) for p, o in mw.owners.items()}
    return SurfaceWorld(mw, viewers)


def _reactions(mw: MatrixWorld, p: Privacy, name: str, who: User, post: Post) -> None:
    mw.world.add(Comment(mw.id(f"{name}_comment/{p}"), who.id, post.ref, body=f"{name} {p}"))
    # One like per user and parent: the matrix world may already hold this one.
    if not any(isinstance(e, Like) and e.user == who.id and e.parent == post.ref
               for e in mw.world.entities()):
        mw.world.add(Like(mw.id(f"{name}_like/{p}"), who.id, post.ref))
