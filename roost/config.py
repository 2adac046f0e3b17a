"""Boot configuration: data dir, database URL, secrets. Read from flags and ROOST_* variables."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, ValidationInfo, field_validator
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
    #: address of the TLS listener (PocketBase's ``--https``), served instead of ``http``; empty = no TLS
    https: str = ""
    #: PEM certificate (chain) and private key files for ``https``
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: int = 1
    #: Redis URL for the cross-process broker (realtime fan-out, cache coherence)
    redis_url: str = ""
    #: the embedded hub of ``roost serve``'s workers (``hub:///path``), set by the serving parent
    #: process when it starts several workers without ``redis_url``; not a user setting
    hub_url: str = ""
    dev: bool = False
    #: response cache for record lists and views: memory://, redis://... or memcached://...; empty = off
    cache_url: str = ""
    #: seconds a cached response may live (bounds staleness after writes that bypass Roost)
    cache_ttl: float = 300
    #: maximum request body size in bytes (PocketBase's default is 32 MiB)
    body_limit: int = 32 << 20
    #: maximum body of a record import (``POST .../import`` reads it as a stream) in bytes
    import_body_limit: int = 1 << 30
    #: passphrase that encrypts the stored settings and TOTP secrets (``--encryptionEnv``); empty = plain
    encryption_key: str = Field(default="", repr=False)
    #: comma-separated origins (``https://app.example.com``) trusted for browser cookie sessions:
    #: credentialed CORS and the Origin check of cookie-authenticated writes
    session_origins: str = ""
    #: CORS allow-list (PocketBase's ``--origins``): comma-separated origins, ``*`` = any origin
    origins: str = "*"
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
    #: seconds a request body may take to arrive after its headers (slow uploads); PocketBase
    #: allows 5 minutes for headers and body together; 0 = no limit
    body_timeout: float = 300.0
    #: largest request line plus headers, in bytes; more answers 431 (Go's own limit is 1 MiB)
    max_header_size: int = 64 << 10
    #: open connections one peer address may hold in one worker process; 0 = no cap
    max_connections_per_ip: int = 256
    #: open realtime streams (SSE and WebSocket) one client IP may hold in one worker; 0 = no cap
    max_streams_per_ip: int = 64
    #: largest WebSocket message a client may send, in bytes; larger ones close the socket with 1009
    ws_max_message: int = 64 << 10
    #: the user's migration files (PocketBase's ``--migrationsDir``); None = ``<data_dir>/../roost_migrations``
    migrations_dir: Path | None = None
    #: write a migration file for each collection change made through the API; None = on with ``dev``
    automigrate: bool | None = None
    #: static files served at ``/`` (PocketBase's ``pb_public``); None = ``<data_dir>/../roost_public``
    public_dir: Path | None = None
    #: answer ``index.html`` for a missing path without an extension (single-page apps)
    index_fallback: bool = True
    #: the hooks directory whose ``*.py`` files run at start-up; None = ``roost_hooks`` beside the data dir
    hooks_dir: Path | None = None
    #: reload the hooks files when they change; None = on in ``dev`` mode only
    hooks_watch: bool | None = None
    #: ``roost serve``'s stdout log lines: "json" or "text"; empty = json, text with ``dev``
    log_format: str = ""
    #: the lowest level ``roost serve`` prints: debug, info, warning or error
    log_level: str = "info"
    #: GraphQL (``/api/graphql``): deepest selection nesting, aliases and fields (after fragments
    #: are expanded) one document may hold, and whether non-superusers may introspect the schema
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_fields: int = 1000
    #: records (expanded ones included) one GraphQL request may return over all its fields
    graphql_max_records: int = 10000
    graphql_introspection: bool = True
    #: record Prometheus metrics and serve ``GET /api/metrics``; False records nothing (the route is 404)
    metrics: bool = True
    #: a bearer token that may read ``/api/metrics`` besides superusers (``roostMetrics.token`` in
    #: the settings is another); empty = none
    metrics_token: str = Field(default="", repr=False)

    @field_validator("http", "https")
    @classmethod
    def _address(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "https" and not value:
            return value
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--{info.field_name} must look like HOST:PORT with a port from 1 to 65535, got {value!r}")
        return value

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        url = value.strip()
        scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
        if url and scheme not in DATABASE_SCHEMES:
            # the scheme only: the rest of a database URL may hold a password
            raise ValueError(
                f"--db-url must be a postgresql://, mysql://, mariadb:// or sqlite:/// URL, got {scheme or 'no scheme'}://"
            )
        return value

    @field_validator("workers")
    @classmethod
    def _positive_workers(cls, value: int, info: ValidationInfo) -> int:
        if value < 1:
            raise ValueError(f"{_named(info)} must be at least 1, got {value}")
        return value

    @field_validator("header_timeout", "max_header_size", "ws_max_message")
    @classmethod
    def _positive_limit(cls, value: float, info: ValidationInfo) -> float:
        if value <= 0:
            raise ValueError(f"{_named(info)} must be above 0, got {value}")
        return value

    @field_validator("max_connections_per_ip", "max_streams_per_ip", "body_timeout", "query_timeout", "expand_limit")
    @classmethod
    def _non_negative_limit(cls, value: float, info: ValidationInfo) -> float:
        if value < 0:
            raise ValueError(f"{_named(info)} must be 0 (no limit) or more, got {value}")
        return value

    @field_validator("db_pool_size")
    @classmethod
    def _non_negative_pool(cls, value: int, info: ValidationInfo) -> int:
        if value < 0:
            raise ValueError(f"{_named(info)} must be 0 (automatic) or more, got {value}")
        return value

    @field_validator("log_format", "log_level")
    @classmethod
    def _log_choice(cls, value: str, info: ValidationInfo) -> str:
        choices = {"log_format": ("", "json", "text"), "log_level": ("debug", "info", "warning", "error")}[info.field_name or ""]
        value = value.strip().lower()
        if value not in choices:
            raise ValueError(f"{_named(info)} must be one of {', '.join(c for c in choices if c)}, got {value!r}")
        return value

    @property
    def logs_format(self) -> str:
        """The stdout log format in effect: the configured one, else text in dev mode or when stdout
        is a terminal (someone is reading), and json otherwise (a collector is)."""
        if self.log_format:
            return self.log_format
        return "text" if self.dev or sys.stdout.isatty() else "json"

    @property
    def migrations_path(self) -> Path:
        """Where the user's migration files are."""
        return self.migrations_dir or self.data_dir.resolve().parent / "roost_migrations"

    @property
    def automigrate_enabled(self) -> bool:
        return self.dev if self.automigrate is None else self.automigrate

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
    def hooks_path(self) -> Path:
        """The hooks directory (``<data_dir>/../roost_hooks`` unless ``hooks_dir`` is set)."""
        return self.hooks_dir if self.hooks_dir is not None else self.data_dir.absolute().parent / "roost_hooks"

    @property
    def watch_hooks(self) -> bool:
        return self.dev if self.hooks_watch is None else self.hooks_watch

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
                url = driver + url[len(prefix) :]
                break
        return asyncpg_ssl(url) if url.startswith("postgresql+asyncpg://") else url

    @property
    def listen_address(self) -> str:
        """HOST:PORT the server listens on: the ``https`` address when TLS is on, else ``http``."""
        return self.https or self.http


def _named(info: ValidationInfo) -> str:
    """A setting as the user may have given it: the field and its variable."""
    return f"{info.field_name} (ROOST_{str(info.field_name).upper()})"


#: database URL schemes Roost can open (a ``+driver`` suffix is allowed)
DATABASE_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")


def asyncpg_ssl(url: str) -> str:
    """libpq's ``sslmode=`` as asyncpg's ``ssl=`` (the same mode names), which is what the driver
    takes; the certificate paths are read by asyncpg from ``PGSSLROOTCERT``, ``PGSSLCERT`` and
    ``PGSSLKEY``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key == "sslmode" for key, _ in query):
        return url
    renamed = [("ssl" if key == "sslmode" else key, value) for key, value in query]
    return urlunsplit(parts._replace(query=urlencode(renamed)))


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
