"""Deno (from the npm package `deno`) to run edge functions and small scripts.

Deno looks for packages in a `node_modules` next to a `package.json`, so it always runs in a work
directory of the harness's choosing (never the repo root). `npm:` imports work on this machine;
`jsr:` and `https://` imports do not (no network).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.targets.services.process import ManagedProcess, free_port, tcp_ready
from soberharness.targets.services.tools import find_tool, missing_reason

HOST = "127.0.0.1"


class DenoRuntime:
    """Runs scripts with explicit permissions; `serve()` starts a long-running HTTP server."""

    def __init__(self, workdir: str | Path, binary: str | Path | None = None,
                 deno_dir: str | Path | None = None) -> None:
        found = Path(binary) if binary else find_tool("deno")
        if found is None:
            raise TargetUnavailable(missing_reason("deno"))
        self.binary = found
        self.workdir = Path(workdir)
        self.deno_dir = Path(deno_dir) if deno_dir else None

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        merged = {"DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", **(env or {})}
        if self.deno_dir is not None:
            merged["DENO_DIR"] = str(self.deno_dir)
        return merged

    def version(self, timeout: float = 30.0) -> str:
        """E.g. '2.9.6'."""
        result = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise TargetUnavailable(f"deno --version failed: {result.stderr.strip()[:200]}")
        return result.stdout.split()[1]

    def run(
        self,
        script: str | Path,
        args: Sequence[str] = (),
        *,
        permissions: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """`deno run <permissions> script args` in the work directory; output captured."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [str(self.binary), "run", *permissions, str(script), *args]
        try:
            result = subprocess.run(argv, cwd=self.workdir, env={**os.environ, **self._env(env)},
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"deno run {script} did not finish within {timeout:g} s") from None
        if check and result.returncode != 0:
            last = " | ".join(result.stderr.strip().splitlines()[-3:])
            raise HarnessError(f"deno run {script} exited {result.returncode}: {last}")
        return result

    def serve(
        self,
        entry: str | Path,
        *,
        port: int | None = None,
        permissions: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        name: str = "deno",
        ready_timeout: float = 30.0,
    ) -> tuple[ManagedProcess, int]:
        """Start `deno serve` on 127.0.0.1:port (for modules with `export default {fetch}`).

        Returns the started process and its port; PORT is also set in its environment.
        Network permission defaults to 127.0.0.1 only.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        perms = list(permissions) or [f"--allow-net={HOST}", "--allow-env"]
        argv = [str(self.binary), "serve", "--host", HOST, "--port", str(port), *perms,
                str(entry)]
        process = ManagedProcess(
            name,
            argv,
            env={**self._env(env), "PORT": str(port)},
            log_path=self.workdir / f"{name}.log",
            ready=tcp_ready(HOST, port),
            ready_timeout=ready_timeout,
            cwd=self.workdir,
        )
        process.start()
        return process, port
