"""Real service processes the local target composes: GoTrue, Mailpit, Toxiproxy, Deno.

`process.ManagedProcess` is the generic launcher (also used for PostgreSQL by the local target).
Binaries come from scripts/install-services.sh into .tools/bin; see `tools.find_tool`.
"""
