"""Links GoTrue mails (confirmation, recovery, magic link), read from Mailpit.

GoTrue's templates put `{API_EXTERNAL_URL}/verify?token=...&type=signup|recovery|...
&redirect_to=...` in the mail. The suite does not open that URL as is (it may name a
gateway host); it takes the token, type and redirect_to out of it and calls /verify on the
auth service the target offers.
"""

from __future__ import annotations

import dataclasses
import html
import re
import time
import urllib.parse

from soberharness.clients.mailpit_api import MailpitClient
from soberharness.errors import HarnessError
from soberharness.records.mail import Mail

_URL = re.compile(r"https?://[^\s\"'<>]+")


@dataclasses.dataclass(frozen=True)
class VerifyLink:
    """A /verify link out of a mail."""

    url: str
    token: str
    type: str
    redirect_to: str | None
    mail_id: str


def verify_links(mail: Mail) -> list[VerifyLink]:
    """Every /verify link in the mail's text and HTML parts, in order, without repeats."""
    found: list[VerifyLink] = []
    seen: set[str] = set()
    for part in (mail.text, html.unescape(mail.html)):
        for url in _URL.findall(part):
            parts = urllib.parse.urlsplit(url)
            if not parts.path.rstrip("/").endswith("/verify"):
                continue
            query = dict(urllib.parse.parse_qsl(parts.query))
            if "token" not in query or "type" not in query or url in seen:
                continue
            seen.add(url)
            found.append(
                VerifyLink(url, query["token"], query["type"], query.get("redirect_to"), mail.id)
            )
    return found


def wait_for_link(
    mailpit: MailpitClient,
    to: str,
    link_type: str,
    timeout: float = 15.0,
    poll: float = 0.2,
    skip_mail_ids: frozenset[str] = frozenset(),
) -> VerifyLink:
    """The newest /verify link of `link_type` (signup, recovery, magiclink...) mailed to `to`.

    Mails whose ids are in skip_mail_ids (read earlier) are ignored. Raises HarnessError
    naming the address and the type when none arrives in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        for summary in mailpit.search(f"to:{to}"):
            if summary.id in skip_mail_ids:
                continue
            for link in verify_links(mailpit.message(summary.id)):
                if link.type == link_type:
                    return link
        if time.monotonic() >= deadline:
            raise HarnessError(
                f"no mail with a '{link_type}' link to {to} arrived in Mailpit "
                f"within {timeout:g} s"
            )
        time.sleep(poll)


def mail_ids_to(mailpit: MailpitClient, to: str) -> frozenset[str]:
    """Ids of the mails already in Mailpit for `to` (to skip them in wait_for_link)."""
    return frozenset(s.id for s in mailpit.search(f"to:{to}"))
