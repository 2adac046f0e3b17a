"""S3 (and S3-compatible) object storage.

boto3 runs in worker threads: it is AWS's own, well-kept client, its managed transfer uploads a
file object in bounded multipart chunks, and it avoids the tight botocore pin an async wrapper
carries. Downloads read the response body chunk by chunk, so no object is held whole in memory.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from roost.tools.storage.base import CHUNK_SIZE, StorageError, StoredObject

#: multipart parts of 5 MiB (the S3 minimum), two read ahead and two in flight: an upload holds a few parts in
#: memory, never the whole file
_TRANSFER = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=5 << 20, max_concurrency=2)
_TRANSFER.max_in_memory_upload_chunks = 2  # s3transfer's knob (default 10 parts), not in boto3's __init__
_MISSING = ("404", "NoSuchKey", "NotFound")
#: S3 calls block a thread each (an upload for its whole length): their own pool keeps them from
#: starving the default executor that local files and password hashing share
_POOL_SIZE = 16

T = TypeVar("T")


@dataclass(frozen=True)
class S3Config:
    """Where the bucket is and how to sign; ``secret`` never appears in ``repr``."""

    bucket: str
    region: str = ""
    endpoint: str = ""
    access_key: str = ""
    secret: str = field(default="", repr=False)
    force_path_style: bool = False

    @classmethod
    def from_settings(cls, s3: dict[str, Any]) -> S3Config:
        """From PocketBase's ``s3`` settings object (``bucket``, ``accessKey``, ``forcePathStyle`` ...)."""
        return cls(
            bucket=str(s3.get("bucket") or ""), region=str(s3.get("region") or ""),
            endpoint=str(s3.get("endpoint") or ""), access_key=str(s3.get("accessKey") or ""),
            secret=str(s3.get("secret") or ""), force_path_style=bool(s3.get("forcePathStyle")),
        )  # fmt: skip


def _endpoint(value: str) -> str | None:
    if not value:
        return None
    return value if "://" in value else f"https://{value}"


class S3Storage:
    """Keys map to object keys in one bucket."""

    def __init__(self, config: S3Config) -> None:
        if not config.bucket:
            raise StorageError("the S3 bucket is not set")
        self.config = config
        self._pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="roost-s3")
        boto = BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path" if config.force_path_style else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            # S3-compatible services often reject the newer default integrity headers
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            self.client = boto3.session.Session().client(
                "s3", region_name=config.region or "us-east-1", endpoint_url=_endpoint(config.endpoint),
                aws_access_key_id=config.access_key or None, aws_secret_access_key=config.secret or None, config=boto,
            )  # fmt: skip
        except (BotoCoreError, ValueError) as exc:  # e.g. an endpoint that is no URL
            raise StorageError(f"invalid S3 configuration: {exc}") from exc

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.config.bucket!r}, endpoint={self.config.endpoint!r})"

    @staticmethod
    def _key(key: str) -> str:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            raise StorageError(f"invalid storage key {key!r}")
        return "/".join(parts)

    async def _run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(func, *args, **kwargs))

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await self._run(getattr(self.client, method), Bucket=self.config.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 {method} failed: {exc}") from exc

    async def put(self, key: str, data: bytes) -> None:
        await self._call("put_object", Key=self._key(key), Body=data)

    async def put_file(self, key: str, file: BinaryIO) -> None:
        key = self._key(key)
        try:
            await self._run(self.client.upload_fileobj, file, self.config.bucket, key, Config=_TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 upload failed: {exc}") from exc

    async def get(self, key: str) -> bytes | None:
        if await self.size(key) is None:
            return None
        return b"".join([chunk async for chunk in self.stream(key)])

    async def size(self, key: str) -> int | None:
        try:
            head = await self._run(self.client.head_object, Bucket=self.config.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise StorageError(f"S3 head_object failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 head_object failed: {exc}") from exc
        return int(head["ContentLength"])

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        span = f"bytes={start}-{'' if end is None else end}"
        body = (await self._call("get_object", Key=self._key(key), Range=span))["Body"]
        try:
            while chunk := await self._run(body.read, CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=self._key(key))

    async def delete_prefix(self, prefix: str) -> None:
        prefix = self._key(prefix) + "/"
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Prefix=prefix, **token)
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                await self._call("delete_objects", Delete={"Objects": keys, "Quiet": True})
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    async def list(self, prefix: str = "") -> list[StoredObject]:
        """The objects directly under ``prefix`` (the bucket root when empty), sorted by key."""
        start = self._key(prefix) + "/" if prefix else ""
        found: list[StoredObject] = []
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Prefix=start, Delimiter="/", **token)
            found += [StoredObject(item["Key"], int(item["Size"]), item["LastModified"]) for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(found, key=lambda item: item.key)
            token = {"ContinuationToken": page["NextContinuationToken"]}

    async def check(self) -> None:
        """Write, list and delete a probe object (what ``POST /api/settings/test/s3`` does)."""
        prefix = f"roost_settings_test_{secrets.token_hex(4)}"
        await self.put(f"{prefix}/test.txt", b"test")
        await self.delete_prefix(prefix)

    def close(self) -> None:
        self.client.close()
        self._pool.shutdown(wait=False)
