"""One message Mailpit captured, in full: what the mail checks read."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Mail:
    """One captured message in full (/api/v1/message/{id})."""

    id: str
    subject: str
    sender: str
    to: tuple[str, ...]
    text: str
    html: str
    headers: dict[str, list[str]] = dataclasses.field(default_factory=dict)
