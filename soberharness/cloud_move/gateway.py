"""A versitygw S3 gateway (posix backend) on 127.0.0.1, standing for one cloud's object store
in the move drills: its own directory, a random key pair, stopped by PID (also at exit)."""

from __future__ import annotations

import secrets
from pathlib import Path

from soberharness.clients.s3 import S3Client, S3Store
from soberharness.cloud_move.objects import Location
from soberharness.errors import HarnessError
from soberharness.targets.services.process import ManagedProcess, free_port, tcp_ready
from soberharness.targets.services.tools import find_tool, missing_reason

HOST = "127.0.0.1"


class VersityGateway:
    def __init__(self, root: Path, name: str) -> None:
        binary = find_tool("versitygw")
        if binary is None:
            raise HarnessError(missing_reason("versitygw"))
        self.root, self.name, self.port = root, name, free_port()
        self.store = S3Store(f"http://{HOST}:{self.port}", secrets.token_hex(8),
                             secrets.token_urlsafe(24))
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "meta").mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            f"versitygw-{name}",
            [str(binary), "--port", f"{HOST}:{self.port}", "posix",
             "--sidecar", str(root / "meta"), str(root / "data")],
            env={"ROOT_ACCESS_KEY": self.store.access_key,
                 "ROOT_SECRET_KEY": self.store.secret_key},
            log_path=root / "versitygw.log", ready=tcp_ready(HOST, self.port),
            ready_timeout=20, cwd=root)

    def start(self) -> VersityGateway:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def location(self, bucket: str, prefix: str = "stub") -> Location:
        """The bucket (made if missing) as a Location."""
        with S3Client(self.store) as client:
            if client.request("HEAD", bucket).status_code != 200:
                client.create_bucket(bucket)
        return Location(self.store, bucket, prefix)
