"""The containers target's image override file: which local image stands for each official image
the compose file pins (where no registry is reachable), and which compose services have none,
with the reason. The target leaves those services out, so suites needing them skip naming them.

    # SOBERHARNESS_CONTAINERS_OVERRIDE=/path/override.toml
    [images]
    "supabase/postgres:15.8.1.085" = "sober-local/postgres:1f2e3d4c5b6a7988"

    [unavailable]
    auth = "GoTrue: the Go module proxy refuses github.com/supabase/auth"
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from soberharness.errors import HarnessError

ENV_VAR = "SOBERHARNESS_CONTAINERS_OVERRIDE"


@dataclasses.dataclass(frozen=True)
class ImageOverride:
    images: Mapping[str, str] = dataclasses.field(default_factory=dict)  # official -> local
    unavailable: Mapping[str, str] = dataclasses.field(default_factory=dict)  # service -> why
    source: str = ""  # the file it was read from, for messages

    def image(self, official: str) -> str:
        return self.images.get(official, official)

    def to_toml(self) -> str:
        lines = ["# The containers target's image override (targets/image_override.py).", "",
                 "[images]"]
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in sorted(self.images.items())]
        lines += ["", "[unavailable]"]
        lines += [f"{json.dumps(k)} = {json.dumps(v)}"
                  for k, v in sorted(self.unavailable.items())]
        return "\n".join(lines) + "\n"


def _table(data: Mapping[str, object], key: str, where: str) -> dict[str, str]:
    table = data.get(key, {})
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in table.items()
    ):
        raise HarnessError(f"image override {where}: [{key}] must map names to non-empty strings")
    return dict(table)


def load_override(path: str | Path) -> ImageOverride:
    """Read an override file; one line naming the file and the problem if it is unusable."""
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"cannot read image override {where}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"image override {where} is not TOML: {exc}") from None
    unknown = sorted(set(data) - {"images", "unavailable"})
    if unknown:
        raise HarnessError(f"image override {where}: unknown table(s) {', '.join(unknown)}")
    return ImageOverride(images=_table(data, "images", where),
                         unavailable=_table(data, "unavailable", where), source=where)


def override_from_environ(environ: Mapping[str, str] | None = None) -> ImageOverride:
    """The override file named by $SOBERHARNESS_CONTAINERS_OVERRIDE, else none."""
    environ = os.environ if environ is None else environ
    path = environ.get(ENV_VAR, "").strip()
    return load_override(path) if path else ImageOverride()
