"""Real service processes the local target composes: GoTrue, Mailpit, Toxiproxy, Deno.

`process.ManagedProcess` is the generic launcher (new session, parent-death signal, bounded
readiness, SIGTERM then SIGKILL). Binaries come from scripts/install-services.sh into .tools/bin;
`tools.find_tool` finds them and `tools.missing_reason` words the skip when one is absent.
"""

from soberharness.target.services.deno import DenoRuntime
from soberharness.target.services.gotrue import GoTrueConfig, GoTrueProcess, database_url
from soberharness.target.services.mailpit import Mail, MailpitClient, MailpitProcess, MailSummary
from soberharness.target.services.process import ManagedProcess, free_port, http_ready, tcp_ready
from soberharness.target.services.tools import find_tool, missing_reason, pinned_versions
from soberharness.target.services.toxiproxy import (
    Proxy,
    Stream,
    Toxic,
    ToxicType,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyProcess,
)

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
