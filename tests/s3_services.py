"""A real S3-compatible server for tests: moto's standalone server in a subprocess.

Every test gets its own bucket; objects are read back through boto3, the client Roost uses.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ACCESS_KEY, SECRET = "roost-test-key", "roost-test-s3-secret-value"


@dataclass
class MotoS3:
    endpoint: str

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET)  # fmt: skip

    def new_bucket(self) -> str:
        name = "roost-" + secrets.token_hex(6)
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """The ``s3`` settings object that points Roost at ``bucket``."""
        return {"enabled": True, "bucket": bucket, "region": "us-east-1", "endpoint": self.endpoint,
                "accessKey": ACCESS_KEY, "secret": SECRET, "forcePathStyle": True, **extra}  # fmt: skip

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def head(self, bucket: str, key: str) -> dict[str, Any]:
        return dict(self.client().head_object(Bucket=bucket, Key=key))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_command(port: int) -> list[str] | None:
    exe = Path(sys.executable).with_name("moto_server")
    if exe.exists():
        return [str(exe), "-H", "127.0.0.1", "-p", str(port)]
    found = shutil.which("moto_server")
    return [found, "-H", "127.0.0.1", "-p", str(port)] if found else None


@contextmanager
def moto_server(port: int) -> Iterator[MotoS3 | str]:
    """A running moto server, or a one-line reason why there is none."""
    command = _moto_command(port)
    if command is None:
        yield "moto_server not installed (pip install 'moto[server]')"
        return
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            yield f"moto_server did not start on port {port}"
            return
        yield MotoS3(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
