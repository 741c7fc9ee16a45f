"""A typed client for Mailpit's HTTP API (/api/v1): the SMTP sink GoTrue sends to."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import httpx

from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.records.mail import Mail


@dataclasses.dataclass(frozen=True)
class MailSummary:
    """One captured message as listed by /api/v1/messages or /api/v1/search."""

    id: str
    subject: str
    sender: str
    to: tuple[str, ...]
    snippet: str
    created: str


def _addresses(items: list[dict[str, Any]] | None) -> tuple[str, ...]:
    return tuple(str(item.get("Address", "")) for item in items or [])


def _summary(item: dict[str, Any]) -> MailSummary:
    return MailSummary(
        id=str(item["ID"]),
        subject=str(item.get("Subject", "")),
        sender=str((item.get("From") or {}).get("Address", "")),
        to=_addresses(item.get("To")),
        snippet=str(item.get("Snippet", "")),
        created=str(item.get("Created", "")),
    )


class MailpitClient:
    """Reads and clears Mailpit's mailbox. Every call has a timeout."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params: Any) -> Any:
        try:
            response = self._http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise TargetUnavailable(f"mailpit at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise HarnessError(
                f"mailpit GET {path} answered {response.status_code}: {response.text[:200]}"
            )
        return response.json()

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/api/v1/info")
        return result

    def messages(self, limit: int = 50) -> list[MailSummary]:
        """Newest first."""
        data = self._get("/api/v1/messages", limit=limit)
        return [_summary(item) for item in data.get("messages") or []]

    def search(self, query: str, limit: int = 50) -> list[MailSummary]:
        """Mailpit search syntax, e.g. 'to:alice@example.test subject:"Confirm"'."""
        data = self._get("/api/v1/search", query=query, limit=limit)
        return [_summary(item) for item in data.get("messages") or []]

    def message(self, message_id: str) -> Mail:
        data = self._get(f"/api/v1/message/{message_id}")
        headers = self._get(f"/api/v1/message/{message_id}/headers")
        return Mail(
            id=str(data["ID"]),
            subject=str(data.get("Subject", "")),
            sender=str((data.get("From") or {}).get("Address", "")),
            to=_addresses(data.get("To")),
            text=str(data.get("Text", "")),
            html=str(data.get("HTML", "")),
            headers={str(k): [str(v) for v in vs] for k, vs in (headers or {}).items()},
        )

    def wait_for(self, to: str, subject_contains: str = "", timeout: float = 10.0,
                 poll: float = 0.1) -> Mail:
        """The newest message to `to` (whose subject contains the text), waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for summary in self.search(f"to:{to}"):
                if subject_contains.lower() in summary.subject.lower():
                    return self.message(summary.id)
            if time.monotonic() >= deadline:
                raise HarnessError(
                    f"no mail to {to}"
                    + (f" with subject containing {subject_contains!r}" if subject_contains else "")
                    + f" arrived in Mailpit within {timeout:g} s"
                )
            time.sleep(poll)

    def delete_all(self) -> None:
        try:
            response = self._http.delete("/api/v1/messages")
        except httpx.HTTPError as exc:
            raise TargetUnavailable(f"mailpit at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise HarnessError(f"mailpit could not delete messages: {response.status_code}")
