"""SoberTube's branded auth mails (seed 3.1.5): what GoTrue sends against the stack's templates.

The templates live in stack/auth/templates/<kind>.html, each carrying its subject in <title>
and its kind in <meta name="sobertube-template">; the compose file serves them to GoTrue
(GOTRUE_MAILER_TEMPLATES_<KIND>) and sets the same subjects (GOTRUE_MAILER_SUBJECTS_<KIND>).
A mail is branded when its subject is the template's and its HTML carries the template's
marker and a link.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

from soberharness.paths import REPO
from soberharness.records.mail import Mail

TEMPLATES = REPO / "stack" / "auth" / "templates"
KINDS = ("confirmation", "recovery", "magic_link", "invite", "email_change")
_TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)
_KIND = re.compile(r'<meta\s+name="sobertube-template"\s+content="([a-z_]+)"\s*/?>', re.I)


@dataclasses.dataclass(frozen=True)
class Template:
    kind: str
    subject: str
    path: Path

    @property
    def marker(self) -> str:
        return f'<meta name="sobertube-template" content="{self.kind}">'

    def subject_setting(self) -> str:
        return f"GOTRUE_MAILER_SUBJECTS_{self.kind.upper()}"

    def template_setting(self) -> str:
        return f"GOTRUE_MAILER_TEMPLATES_{self.kind.upper()}"


def templates(folder: Path = TEMPLATES) -> dict[str, Template]:
    """The stack's mail templates by kind; a template without title or marker is an error."""
    found: dict[str, Template] = {}
    for kind in KINDS:
        path = folder / f"{kind}.html"
        text = path.read_text(encoding="utf-8")
        title, marker = _TITLE.search(text), _KIND.search(text)
        if title is None or marker is None or marker.group(1) != kind:
            raise ValueError(f"{path}: needs <title> and <meta name=\"sobertube-template\" "
                             f"content=\"{kind}\">")
        found[kind] = Template(kind, html.unescape(title.group(1).strip()), path)
    return found


def problems(mail: Mail, template: Template) -> list[str]:
    """Why `mail` is not the branded mail of `template` (empty: it is)."""
    found: list[str] = []
    if mail.subject != template.subject:
        found.append(f"subject {mail.subject!r}, the stack's {template.kind} template says "
                     f"{template.subject!r}")
    if template.marker not in mail.html:
        found.append(f"the HTML is not the stack's {template.kind} template "
                     f"({template.path.name}: marker missing)")
    if "href=" not in mail.html:
        found.append("the HTML holds no link")
    return found
