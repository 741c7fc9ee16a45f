"""The stack's branded auth mails are wired end to end in its files, and the mail checker
tells a branded mail from GoTrue's default one (seed 3.1.5).

GoTrue itself renders and sends them in suites/auth/test_branded_mails.py (needs auth+mail)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from soberharness.checker.branded_mail import KINDS, TEMPLATES, Template, problems, templates
from soberharness.records.mail import Mail
from soberharness.targets.migrations import REPO

COMPOSE = REPO / "stack" / "compose" / "docker-compose.yml"


def _rendered(template: Template, link: str = "http://x.test/verify?token=t&type=signup") -> Mail:
    """The template as GoTrue renders it (Go template fields filled), as Mailpit shows it."""
    body = template.path.read_text().replace("{{ .ConfirmationURL }}", link).replace(
        "{{ .NewEmail }}", "new@example.test")
    return Mail("m1", template.subject, "noreply@sobertube.test", ("a@example.test",), "", body)


def test_every_kind_has_a_template_with_subject_and_marker() -> None:
    found = templates()
    assert sorted(found) == sorted(KINDS)
    assert all("SoberTube" in t.subject for t in found.values()), found


def test_the_compose_file_serves_each_template_with_its_subject() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    env = compose["services"]["auth"]["environment"]
    gateway_mounts = compose["services"]["gateway"]["volumes"]
    served = [m for m in gateway_mounts if m.split(":")[1] == "/usr/share/nginx/mail-templates"]
    assert served, gateway_mounts
    assert (COMPOSE.parent / served[0].split(":")[0]).resolve() == TEMPLATES.resolve()
    for template in templates().values():
        assert env[template.subject_setting()] == template.subject, template.kind
        assert env[template.template_setting()] == (
            f"http://gateway:8000/mail-templates/{template.path.name}"), template.kind


def test_a_branded_mail_passes_and_gotrues_default_is_reported() -> None:
    confirmation = templates()["confirmation"]
    assert problems(_rendered(confirmation), confirmation) == []
    default = Mail("m2", "Confirm Your Signup", "noreply@sobertube.test", ("a@example.test",),
                   "", '<h2>Confirm your signup</h2><p><a href="http://x.test">Confirm</a></p>')
    found = problems(default, confirmation)
    assert len(found) == 2 and "subject 'Confirm Your Signup'" in found[0], found
    assert "marker missing" in found[1], found


def test_a_template_without_its_marker_is_refused(tmp_path: Path) -> None:
    for kind in KINDS:
        text = (TEMPLATES / f"{kind}.html").read_text()
        if kind == "recovery":
            text = text.replace('content="recovery"', 'content="confirmation"')
        (tmp_path / f"{kind}.html").write_text(text)
    with pytest.raises(ValueError, match=r"recovery\.html"):
        templates(tmp_path)
