"""Versions of the stack's images known to be unfit: a pin inside one of these ranges is a
problem that `composecheck` and `k8scheck` report.

Each entry names an image (without its tag), the first release with the fix, and why the
earlier ones are unfit, read from the upstream history (the commit that fixed it is named in
the reason). The stack's pins and why each is what it is: stack/README.md, "Image pins".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")


@dataclasses.dataclass(frozen=True)
class KnownBad:
    """Every release of `image` before `fixed_in` (and from `since`, when given) is unfit."""

    image: str
    fixed_in: str
    reason: str
    since: str | None = None


KNOWN_BAD: tuple[KnownBad, ...] = (
    KnownBad("supabase/storage-api", "v1.48.12",
             "any signed-in user empties any bucket: POST /bucket/:id/empty probes the delete "
             "permission by object id where the name belongs (0 rows, so it passes), then an "
             "admin job deletes every object (fixed by b1d7d9ac; seen on v1.44.2)"),
    KnownBad("supabase/storage-api", "v1.58.9", "path traversal in TUS uploads (a6ded4fd)"),
    KnownBad("supabase/storage-api", "v1.60.7",
             "signed URLs not always checked against their scope (4e153084)"),
    KnownBad("supabase/storage-api", "v1.70.1",
             "a user allowed to delete the first object of a bucket (by name) empties the whole "
             "bucket: the empty-bucket permission probe checks that one object only; from "
             "v1.70.1 emptying needs the service role (2b7d3c29)"),
    KnownBad("supabase/gotrue", "v2.189.0", "a PKCE flow state can be used again (88dcb2d)"),
    KnownBad("supabase/gotrue", "v2.190.0",
             "admin tokens accepted without checking their session's state (c5969ed)"),
    KnownBad("supabase/gotrue", "v2.193.0",
             "a session keeps aal2 after an admin deletes the MFA factor it used (4d1d660)"),
    KnownBad("supabase/gotrue", "v2.195.0", "access tokens of banned users accepted (b6878c2)"),
    KnownBad("supabase/gotrue", "v2.196.0",
             "e-mail links sent before an e-mail change stay valid after it (cf74a14)"),
    KnownBad("postgrest/postgrest", "v14.6",
             "a request for a missing table or function gets hints naming loosely similar "
             "ones, enough to enumerate them (73c8ae0b)"),
    KnownBad("postgrest/postgrest", "v14.17",
             "JWT expiry judged against a stale clock on some threads (PostgREST #5159)"),
    KnownBad("supabase/realtime", "v2.103.1",
             "a token whose exp or iat is not a number never expires (ac229d7e)"),
    KnownBad("supabase/realtime", "v2.111.2",
             "presence.read permission (RLS on realtime.messages) not enforced (c039bca9)"),
    KnownBad("supabase/realtime", "v2.113.2",
             "plug and postgrex with published CVEs (e7f17cb0, 0b922717)"),
    KnownBad("darthsim/imgproxy", "v3.31.0",
             "the SVG sanitizer keeps iframe elements (3.31.0 changelog)"),
)


def version_key(tag: str) -> tuple[int, ...] | None:
    """(1, 70, 6) for v1.70.6; None for a tag that is no dotted version (e.g. RELEASE.…)."""
    match = _VERSION.fullmatch(tag.strip())
    return tuple(int(p) for p in match[1].split(".")) if match else None


def split_image(image: str) -> tuple[str, str]:
    """("supabase/storage-api", "v1.70.6") from "supabase/storage-api:v1.70.6"."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, ""
    return name, tag


def known_bad(image: str, table: Iterable[KnownBad] = KNOWN_BAD) -> list[KnownBad]:
    """The entries whose range holds this image's tag."""
    name, tag = split_image(image)
    version = version_key(tag)
    if version is None:
        return []
    return [entry for entry in table
            if entry.image == name
            and version < (version_key(entry.fixed_in) or ())
            and (entry.since is None or version >= (version_key(entry.since) or ()))]


def pin_problems(images: Mapping[str, str], table: Iterable[KnownBad] = KNOWN_BAD) -> list[str]:
    """One line per (where, known-bad entry) for a mapping of where -> pinned image."""
    entries = tuple(table)
    return [f"{where}: image {image!r} is known unfit before {entry.fixed_in}: {entry.reason}"
            for where, image in images.items() for entry in known_bad(image, entries)]
