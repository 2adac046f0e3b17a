"""Boot configuration: data dir, database URL, secrets. Read from flags and ROOST_* variables."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Config(BaseSettings):
    """Everything Roost needs to know before it can open its database."""

    model_config = SettingsConfigDict(env_prefix="ROOST_", extra="ignore")

    data_dir: Path = Field(default=Path("./roost_data"))
    #: empty means the embedded SQLite file ``<data_dir>/data.db``
    db_url: str = ""
    #: PostgreSQL schema to use (search_path); empty means the server default
    db_schema: str = ""
    http: str = "127.0.0.1:8090"
    workers: int = 1
    #: Redis URL for the cross-process broker (realtime fan-out, cache coherence)
    redis_url: str = ""
    dev: bool = False
    #: response cache for record lists and views: memory://, redis://... or memcached://...; empty = off
    cache_url: str = ""
    #: seconds a cached response may live (bounds staleness after writes that bypass Roost)
    cache_ttl: float = 300
    #: maximum request body size in bytes (PocketBase's default is 32 MiB)
    body_limit: int = 32 << 20
    #: passphrase that encrypts secrets in the stored settings (SMTP password, ...); empty = plain
    encryption_key: str = Field(default="", repr=False)
    #: comma-separated origins (``https://app.example.com``) trusted for browser cookie sessions:
    #: credentialed CORS and the Origin check of cookie-authenticated writes
    session_origins: str = ""
    #: serve GET /api/openapi.json to everyone (non-superusers get no superuser-only parts)
    openapi_public: bool = False
    #: connections each process keeps open to PostgreSQL/MySQL; 0 = derive from cores and workers
    db_pool_size: int = 0
    #: seconds one SQL statement may run before it is stopped and the request answers 400
    #: (PocketBase's ``--queryTimeout``); 0 = no limit
    query_timeout: float = 30
    #: records one response may expand (summed over the whole expand tree); past it, 400
    expand_limit: int = 5000
    #: when set, every response carries ``X-Roost-Instance`` with this value ("auto" = host:pid)
    instance_id: str = ""
    #: seconds a client has to send a request's line and headers (slowloris); PocketBase waits 60
    header_timeout: float = 10.0
    #: largest request line plus headers, in bytes; more answers 431 (Go's own limit is 1 MiB)
    max_header_size: int = 64 << 10
    #: open connections one peer address may hold in one worker process; 0 = no cap
    max_connections_per_ip: int = 256
    #: open realtime streams (SSE and WebSocket) one client IP may hold in one worker; 0 = no cap
    max_streams_per_ip: int = 64
    #: largest WebSocket message a client may send, in bytes; larger ones close the socket with 1009
    ws_max_message: int = 64 << 10

    @field_validator("workers")
    @classmethod
    def _positive_workers(cls, value: int) -> int:
        if value < 1:
            raise ValueError("workers must be at least 1")
        return value

    @field_validator("header_timeout", "max_header_size", "ws_max_message")
    @classmethod
    def _positive_limit(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("header_timeout, max_header_size and ws_max_message must be above 0")
        return value

    @field_validator("max_connections_per_ip", "max_streams_per_ip")
    @classmethod
    def _non_negative_cap(cls, value: int) -> int:
        if value < 0:
            raise ValueError("max_connections_per_ip and max_streams_per_ip must be 0 (no cap) or more")
        return value

    @field_validator("query_timeout", "expand_limit")
    @classmethod
    def _non_negative_limit(cls, value: float) -> float:
        if value < 0:
            raise ValueError("query_timeout and expand_limit must be 0 (no limit) or more")
        return value

    @field_validator("db_pool_size")
    @classmethod
    def _non_negative_pool(cls, value: int) -> int:
        if value < 0:
            raise ValueError("db_pool_size must be 0 (automatic) or more")
        return value

    @property
    def pool_size(self) -> int:
        """Pooled connections per process: the override, or a per-host budget shared by the workers."""
        return self.db_pool_size or default_pool_size(self.workers, cpu_count())

    @property
    def instance_label(self) -> str:
        """The ``X-Roost-Instance`` value: '' (no header), the configured id, or host:pid for "auto"."""
        if self.instance_id == "auto":
            return f"{socket.gethostname()}:{os.getpid()}"
        return self.instance_id

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL for the configured database."""
        url = self.db_url.strip()
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'data.db').resolve()}"
        for prefix, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
            ("mysql://", "mysql+asyncmy://"),
            ("mariadb://", "mysql+asyncmy://"),
        ):
            if url.startswith(prefix):
                return driver + url[len(prefix) :]
        return url


#: connections one host keeps pooled is max(POOL_BUDGET_FLOOR, POOL_PER_CORE x cores), over all workers
POOL_BUDGET_FLOOR = 10
POOL_PER_CORE = 4
#: bounds for one process: one event loop gains nothing from more, and every worker needs a few
POOL_MIN = 3
POOL_MAX = 20


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, as containers limit it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_pool_size(workers: int, cores: int) -> int:
    """Per-process pool size when none is configured.

    A host budget of ``max(10, 4 x cores)`` connections is spread over the worker processes
    (rounded up), and each process gets at least 3 and at most 20. One worker on 2 cores keeps
    the historical 10; 8 workers on 2 cores get 3 each instead of 80 in total.
    """
    budget = max(POOL_BUDGET_FLOOR, POOL_PER_CORE * cores)
    share = -(-budget // max(workers, 1))
    return max(POOL_MIN, min(POOL_MAX, share))
