"""Boot configuration: data dir, database URL, secrets. Read from flags and ROOST_* variables."""

from __future__ import annotations

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

    @field_validator("workers")
    @classmethod
    def _positive_workers(cls, value: int) -> int:
        if value < 1:
            raise ValueError("workers must be at least 1")
        return value

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
