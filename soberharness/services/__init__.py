"""One module per service of the self-hosted stack: its compose services, its path behind the
gateway, where it answers without side effects, and (where the harness has one) its client.
Targets, the environment probe and the suites read these instead of repeating them.

`ALL` lists them; `BY_NAME` finds one by its name (the value of targets.base.Service).
"""

from __future__ import annotations

from soberharness.services import (
    auth,
    functions,
    imgproxy,
    mail,
    postgres,
    proxy,
    realtime,
    rest,
    storage,
)
from soberharness.services.facts import ServiceFacts

ALL: tuple[ServiceFacts, ...] = (
    postgres.FACTS, auth.FACTS, rest.FACTS, realtime.FACTS, storage.FACTS, imgproxy.FACTS,
    functions.FACTS, mail.FACTS, proxy.FACTS,
)
BY_NAME: dict[str, ServiceFacts] = {f.name: f for f in ALL}
