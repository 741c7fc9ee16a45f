"""Real Mailpit, Toxiproxy and Deno started by the harness (skipped, naming the tool, if absent)."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from soberharness.clients.toxiproxy import ToxicType, ToxiproxyError
from soberharness.targets.services.deno import DenoRuntime
from soberharness.targets.services.mailpit import MailpitProcess
from soberharness.targets.services.process import free_port
from soberharness.targets.services.tools import find_tool, missing_reason, pinned_versions
from soberharness.targets.services.toxiproxy import ToxiproxyProcess


def _need(tool: str) -> None:
    if find_tool(tool) is None:
        pytest.skip(missing_reason(tool))


def test_pinned_versions_name_every_service() -> None:
    versions = pinned_versions()
    for key in ("GOTRUE_VERSION", "MAILPIT_VERSION", "TOXIPROXY_VERSION", "DENO_NPM_VERSION"):
        assert versions.get(key), f"{key} missing from scripts/versions.env"
    assert len(versions["GOTRUE_VERSION"]) == 40, "GoTrue is pinned by full commit SHA"


# -- Mailpit ---------------------------------------------------------------------------------


@pytest.fixture
def mailpit(tmp_path: Path):  # type: ignore[no-untyped-def]
    _need("mailpit")
    proc = MailpitProcess(tmp_path / "mailpit").start()
    yield proc
    proc.stop()


def test_mailpit_captures_smtp_mail(mailpit: MailpitProcess) -> None:
    message = EmailMessage()
    message["From"] = "noreply@sobertube.test"
    message["To"] = "alice@example.test"
    message["Subject"] = "Confirm your signup"
    message.set_content("Follow this link: http://127.0.0.1:9999/verify?token=abc123&type=signup")
    with smtplib.SMTP(mailpit.smtp_host, mailpit.smtp_port, timeout=5) as smtp:
        smtp.login("any", "thing")
        smtp.send_message(message)
    mail = mailpit.client.wait_for("alice@example.test", "confirm", timeout=5)
    assert mail.to == ("alice@example.test",)
    assert "token=abc123" in mail.text
    assert mail.headers["Subject"] == ["Confirm your signup"]
    assert [m.subject for m in mailpit.client.messages()] == ["Confirm your signup"]
    mailpit.client.delete_all()
    assert mailpit.client.messages() == []


def test_mailpit_wait_for_names_missing_mail(mailpit: MailpitProcess) -> None:
    from soberharness.errors import HarnessError

    with pytest.raises(HarnessError, match=r"no mail to bob@example\.test .*within 0\.3 s"):
        mailpit.client.wait_for("bob@example.test", timeout=0.3)


# -- Toxiproxy -------------------------------------------------------------------------------


class _EchoServer:
    """A tiny TCP echo upstream for the proxy (harness-side test double, not a Supabase service)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # resets are what some toxics do
            while data := conn.recv(4096):
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def _round_trip(port: int, payload: bytes = b"ping", timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(payload)
        return conn.recv(4096)


@pytest.fixture
def toxiproxy(tmp_path: Path):  # type: ignore[no-untyped-def]
    _need("toxiproxy")
    proc = ToxiproxyProcess(tmp_path / "toxiproxy").start()
    yield proc
    proc.stop()


def test_toxiproxy_proxy_and_toxics(toxiproxy: ToxiproxyProcess) -> None:
    client = toxiproxy.client
    assert client.version()
    echo = _EchoServer()
    try:
        proxy = client.create_proxy("echo", upstream=f"127.0.0.1:{echo.port}")
        assert proxy.enabled and proxy.port > 0
        assert _round_trip(proxy.port) == b"ping"

        toxic = client.latency("echo", 300)
        assert toxic.name == "latency_downstream" and toxic.attributes["latency"] == 300
        assert [t.type for t in client.proxy("echo").toxics] == ["latency"]
        started = time.monotonic()
        assert _round_trip(proxy.port) == b"ping"
        assert time.monotonic() - started >= 0.25, "the latency toxic delays the reply"

        client.remove_toxic("echo", toxic.name)
        assert client.toxics("echo") == []

        client.add_toxic("echo", ToxicType.RESET_PEER, {"timeout": 0})
        with pytest.raises(OSError):
            _round_trip(proxy.port)

        client.reset()
        assert client.toxics("echo") == []
        assert _round_trip(proxy.port) == b"ping"

        client.set_enabled("echo", False)
        with pytest.raises(OSError):
            _round_trip(proxy.port, timeout=2)
        client.set_enabled("echo", True)
        assert _round_trip(proxy.port) == b"ping"

        with pytest.raises(ToxiproxyError, match="409"):
            client.create_proxy("echo", upstream=f"127.0.0.1:{echo.port}")
        client.delete_proxy("echo")
        assert "echo" not in client.proxies()
    finally:
        echo.close()


# -- Deno ------------------------------------------------------------------------------------


def test_deno_runs_a_script(tmp_path: Path) -> None:
    _need("deno")
    deno = DenoRuntime(tmp_path / "deno")
    assert deno.version() == pinned_versions()["DENO_NPM_VERSION"]
    script = tmp_path / "hello.ts"
    script.write_text("const n: number = 6 * 7;\nconsole.log(`answer ${n} ${Deno.args[0]}`);\n")
    assert deno.run(script, ["x"]).stdout.strip() == "answer 42 x"


def test_deno_serve_answers_on_loopback(tmp_path: Path) -> None:
    _need("deno")
    deno = DenoRuntime(tmp_path / "deno")
    entry = tmp_path / "fn.ts"
    entry.write_text(
        "export default { fetch(req: Request) {"
        " return Response.json({ path: new URL(req.url).pathname }); } };\n"
    )
    process, port = deno.serve(entry, port=free_port())
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/hello", timeout=5)
        assert response.json() == {"path": "/hello"}
    finally:
        process.stop()
    assert not process.alive
