"""Real service processes the local target composes: GoTrue, Mailpit, Toxiproxy, Deno.

`process.ManagedProcess` is the generic launcher (new session, parent-death signal, bounded
readiness, SIGTERM then SIGKILL). Binaries come from scripts/install-services.sh into .tools/bin;
`tools.find_tool` finds them and `tools.missing_reason` words the skip when one is absent.
"""

from soberharness.clients.mailpit_api import MailpitClient, MailSummary
from soberharness.clients.toxiproxy import (
    Proxy,
    Stream,
    Toxic,
    ToxicType,
    ToxiproxyClient,
    ToxiproxyError,
)
from soberharness.records.mail import Mail
from soberharness.targets.services.deno import DenoRuntime
from soberharness.targets.services.gotrue import GoTrueConfig, GoTrueProcess, database_url
from soberharness.targets.services.mailpit import MailpitProcess
from soberharness.targets.services.process import ManagedProcess, free_port, http_ready, tcp_ready
from soberharness.targets.services.tools import find_tool, missing_reason, pinned_versions
from soberharness.targets.services.toxiproxy import ToxiproxyProcess

__all__ = [
    "DenoRuntime",
    "GoTrueConfig",
    "GoTrueProcess",
    "Mail",
    "MailSummary",
    "MailpitClient",
    "MailpitProcess",
    "ManagedProcess",
    "Proxy",
    "Stream",
    "Toxic",
    "ToxicType",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyProcess",
    "database_url",
    "find_tool",
    "free_port",
    "http_ready",
    "missing_reason",
    "pinned_versions",
    "tcp_ready",
]
