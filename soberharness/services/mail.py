"""Mailpit: the SMTP sink GoTrue sends to, read through its HTTP API."""

from __future__ import annotations

from soberharness.clients.mailpit_api import MailpitClient
from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("mail", "Mailpit", compose=("mail",), health_path="/api/v1/info")


def client(url: str, timeout: float = 5.0) -> MailpitClient:
    """A Mailpit API client at `url`."""
    return MailpitClient(url, timeout=timeout)
