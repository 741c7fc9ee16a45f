"""The local target seen as a remote one: a target file plus the environment it names.

`python -m soberharness.targets.expose FILE` starts a local target, writes a remote target
file for it at FILE, prints the `export` lines for the secrets it refers to, and keeps the
stack up until Ctrl-C. Suites then run through the remote code path:

    .venv/bin/pytest suites/security --target FILE
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from soberharness.db.claims import sign
from soberharness.errors import HarnessError
from soberharness.targets.local import LocalTarget
from soberharness.world.entities import Viewer

ENV_DSN = "SOBER_EXPOSED_DATABASE_URL"
ENV_JWT = "SOBER_EXPOSED_JWT_SECRET"
ENV_ANON = "SOBER_EXPOSED_ANON_KEY"
ENV_SERVICE = "SOBER_EXPOSED_SERVICE_ROLE_KEY"


def exposed(target: LocalTarget, name: str = "local-exposed") -> tuple[str, dict[str, str]]:
    """The target file's text and the environment variables it refers to."""
    secret = target.keys.jwt_secret or ""
    env = {
        ENV_DSN: target.admin_dsn(),
        ENV_JWT: secret,
        ENV_ANON: sign({"role": Viewer.anon().role.value, "iss": "soberharness"}, secret),
        ENV_SERVICE: sign({"role": Viewer.service().role.value, "iss": "soberharness"}, secret),
    }
    text = "\n".join(
        [
            "# The local target, exposed as a remote one (soberharness.targets.expose).",
            f'name = "{name}"',
            'cloud = "none"',
            'region = "this-machine"',
            'capabilities = ["postgres"]',
            "",
            "[secrets]",
            f'anon_key_env = "{ENV_ANON}"',
            f'service_key_env = "{ENV_SERVICE}"',
            f'jwt_secret_env = "{ENV_JWT}"',
            f'database_dsn_env = "{ENV_DSN}"',
            "",
            "[destructive]",
            "allowed = false",
            "",
        ]
    )
    return text, env


def main() -> None:
    parser = argparse.ArgumentParser(description="Expose a local target as a remote target file")
    parser.add_argument("file", type=Path, help="where to write the target file (.toml)")
    parser.add_argument("--name", default="local-exposed")
    args = parser.parse_args()
    target = LocalTarget()
    try:
        target.start()
        text, env = exposed(target, args.name)
        args.file.write_text(text)
        print(f"# target file written to {args.file}; in another shell:")
        for key, value in env.items():
            print(f"export {key}='{value}'")
        print(f"# .venv/bin/pytest suites/security --target {args.file}")
        print("# Ctrl-C stops the stack.", flush=True)
        signal.pause()
    except HarnessError as exc:
        raise SystemExit(f"expose: {exc}") from None
    except KeyboardInterrupt:
        pass
    finally:
        target.stop()


if __name__ == "__main__":
    main()
