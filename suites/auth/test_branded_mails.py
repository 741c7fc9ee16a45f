"""SoberTube's branded mails (seed 3.1.5), as GoTrue sends them: the confirmation, recovery
and magic-link mails carry the subjects and the HTML of the stack's templates
(stack/auth/templates), checked in Mailpit by soberharness.checker.branded_mail.

A deployment that sends GoTrue's default mails fails here: the templates are part of the
stack, served to GoTrue by its gateway (stack/compose/docker-compose.yml)."""

from __future__ import annotations

import pytest

from soberharness.checker.branded_mail import problems, templates
from soberharness.clients.gotrue import GoTrueClient
from soberharness.clients.mailpit import mail_ids_to, wait_for_link
from soberharness.clients.mailpit_api import MailpitClient
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.flow import Flow

TEMPLATES = templates()


def _branded(mail: MailpitClient, link_mail_id: str, kind: str) -> list[str]:
    return problems(mail.message(link_mail_id), TEMPLATES[kind])


@pytest.mark.needs("auth", "mail")
def test_confirmation_and_recovery_mails_are_sobertubes(
    auth_client: GoTrueClient, mail: MailpitClient, users: TestUsers
) -> None:
    flow = Flow("branded mails")
    email = users.email("brand")
    with flow.step("sign up: the confirmation mail"):
        users.track(auth_client.signup(email, PASSWORD).user)
        link = wait_for_link(mail, email, "signup")
        assert not (found := _branded(mail, link.mail_id, "confirmation")), found
    with flow.step("confirm, then ask for recovery: the recovery mail"):
        auth_client.verify("signup", link.token, link.redirect_to)
        earlier = mail_ids_to(mail, email)
        auth_client.recover(email)
        link = wait_for_link(mail, email, "recovery", skip_mail_ids=earlier)
        assert not (found := _branded(mail, link.mail_id, "recovery")), found
    # GoTrue mails one address at most once a minute (GOTRUE_SMTP_MAX_FREQUENCY): another user.
    other = users.confirmed("brand-link").email
    with flow.step("a magic link: the magic-link mail"):
        earlier = mail_ids_to(mail, other)
        auth_client.magic_link(other)
        link = wait_for_link(mail, other, "magiclink", skip_mail_ids=earlier)
        assert not (found := _branded(mail, link.mail_id, "magic_link")), found
