"""``roost serve | superuser | version``, with PocketBase's flags."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from pathlib import Path
from typing import Any

import click

from roost import __version__
from roost.config import Config

DIR_HELP = "the data directory (default ./roost_data)"


def _config(**values: Any) -> Config:
    clean = {k: v for k, v in values.items() if v is not None}
    if "dir" in clean:
        clean["data_dir"] = Path(clean.pop("dir"))
    try:
        return Config(**clean)
    except ValueError as exc:
        raise click.UsageError(str(exc).splitlines()[-1].strip()) from exc


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _check_dir(config: Config) -> None:
    if config.db_url:
        return
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        probe = config.data_dir / ".roost_write_test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        _fail(f"the data dir {config.data_dir} is not writable ({exc.strerror or exc}).")


def _check_port(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            _fail(f"the address {host}:{port} is already in use.")
        _fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}).")


async def _open(config: Config) -> Any:
    from roost.core.app import App
    from roost.core.db import DatabaseUnavailable
    from roost.tools.broker import BrokerError

    app = App(config)
    try:
        await app.bootstrap()
    except BrokerError as exc:
        await app.close()
        _fail(str(exc))
    except DatabaseUnavailable as exc:
        await app.close()
        _fail(exc.message)
    return app


@click.group()
def main() -> None:
    """Roost: a backend in one Python package, compatible with the PocketBase SDKs."""


@main.command()
def version() -> None:
    """Print the Roost version."""
    click.echo(f"roost version {__version__}")


@main.command()
@click.option("--http", default=None, help="address to listen on (default 127.0.0.1:8090)")
@click.option("--dir", default=None, help=DIR_HELP)
@click.option("--db-url", default=None, help="database URL (postgresql://..., mysql://...); default embedded SQLite in --dir")
@click.option("--workers", default=None, type=int, help="worker processes (needs a cross-process broker)")
@click.option("--redis-url", default=None, help="Redis URL for the cross-process broker (redis://host:6379/0)")
@click.option("--cache-url", default=None, help="response cache: memory://, redis://host:6379/0 or memcached://host:11211")
@click.option("--db-pool-size", default=None, type=int,
              help="pooled PostgreSQL/MySQL connections per worker (default: derived from cores and --workers)")
@click.option("--queryTimeout", "--query-timeout", "query_timeout", default=None, type=float,
              help="seconds one SQL statement may run before the request answers 400 (default 30, 0 = no limit)")
@click.option("--header-timeout", default=None, type=float,
              help="seconds a client has to send a request's headers before it is disconnected (default 10)")
@click.option("--max-header-size", default=None, type=int,
              help="largest request line plus headers in bytes; more answers 431 (default 65536)")
@click.option("--max-connections-per-ip", default=None, type=int,
              help="open connections one address may hold per worker, 0 = no cap (default 256); "
                   "behind a reverse proxy the proxy is that address")
@click.option("--max-streams-per-ip", default=None, type=int,
              help="open realtime SSE/WebSocket streams one client IP may hold per worker, 0 = no cap (default 64)")
@click.option("--ws-max-message", default=None, type=int,
              help="largest WebSocket message a client may send, in bytes (default 65536)")
@click.option("--dev", is_flag=True, default=None, help="development mode (verbose logs)")
def serve(http: str | None, dir: str | None, workers: int | None, **options: Any) -> None:
    """Start the web server."""
    config = _config(http=http, dir=dir, workers=workers, **options)
    host, _, port_text = config.http.rpartition(":")
    if not port_text.isdigit() or not host:
        raise click.UsageError(f"--http must look like HOST:PORT, got {config.http!r}")
    if config.workers > 1 and not _has_cross_process_broker(config):
        _fail(
            "--workers above 1 needs a cross-process broker: pass --redis-url redis://..., "
            "or use a PostgreSQL --db-url (LISTEN/NOTIFY). Realtime events and collection changes "
            "would otherwise stay inside one worker."
        )
    if config.workers > 1 and config.cache_url.startswith("memory://"):
        _fail("--cache-url memory:// keeps one cache per process; with --workers use redis:// or memcached://.")
    _check_dir(config)
    asyncio.run(_probe(config))
    _check_port(host, int(port_text))
    from roost.server import serve as serve_http

    click.echo(f"Roost {__version__} serving http://{config.http}/api/ (data: {config.database_url.split('://')[0]})")
    serve_http(config)


def _has_cross_process_broker(config: Config) -> bool:
    return bool(config.redis_url) or config.database_url.startswith("postgresql")


async def _probe(config: Config) -> None:
    app = await _open(config)
    await app.close()


@main.command()
@click.option("--dir", default=None, help=DIR_HELP)
@click.option("--db-url", default=None, help="database URL")
def openapi(dir: str | None, db_url: str | None) -> None:
    """Print the full OpenAPI 3.1 document (as a superuser sees it) as JSON."""
    config = _config(dir=dir, db_url=db_url)
    _check_dir(config)
    click.echo(asyncio.run(_openapi(config)))


async def _openapi(config: Config) -> str:
    import orjson

    from roost.apis.openapi import build_document

    app = await _open(config)
    try:
        return orjson.dumps(build_document(app.collections.all(), superuser=True), option=orjson.OPT_INDENT_2).decode()
    finally:
        await app.close()


@main.group()
def superuser() -> None:
    """Manage superusers."""


def _superuser_command(action: str) -> Any:
    @click.argument("email")
    @click.argument("password", required=action != "delete")
    @click.option("--dir", default=None, help=DIR_HELP)
    @click.option("--db-url", default=None, help="database URL")
    def command(email: str, password: str | None, dir: str | None, db_url: str | None) -> None:
        config = _config(dir=dir, db_url=db_url)
        _check_dir(config)
        message = asyncio.run(_superuser(config, action, email, password or ""))
        click.echo(message)

    command.__doc__ = f"{action.capitalize()} a superuser."
    return superuser.command(name=action)(command)


async def _superuser(config: Config, action: str, email: str, password: str) -> str:
    from roost.core.superusers import manage_superuser

    app = await _open(config)
    try:
        return await manage_superuser(app, action, email, password)
    except Exception as exc:  # report any failure as one line
        _fail_on_roost_error(exc)
        raise
    finally:
        await app.close()


def _fail_on_roost_error(exc: Exception) -> None:
    from roost.core.errors import RoostError

    if isinstance(exc, RoostError):
        detail = "; ".join(f"{k}: {v.get('message', v) if isinstance(v, dict) else v}" for k, v in exc.data.items())
        _fail(f"{exc.message} {detail}".strip())


@superuser.command(name="ips")
@click.argument("ips", nargs=-1)
@click.option("--dir", default=None, help=DIR_HELP)
@click.option("--db-url", default=None, help="database URL")
def superuser_ips(ips: tuple[str, ...], dir: str | None, db_url: str | None) -> None:
    """Set the superuserIPs allowlist (IPs or CIDR subnets, space separated; none clears it).

    The way back in after a settings change that left out your own address. A running server
    picks the change up when it restarts.
    """
    config = _config(dir=dir, db_url=db_url)
    _check_dir(config)
    click.echo(asyncio.run(_superuser_ips(config, list(ips))))


async def _superuser_ips(config: Config, ips: list[str]) -> str:
    app = await _open(config)
    try:
        saved = (await app.settings.update({"superuserIPs": ips}))["superuserIPs"]
    except Exception as exc:  # report any failure as one line
        _fail_on_roost_error(exc)
        raise
    finally:
        await app.close()
    return f"Superuser IPs set to: {', '.join(saved)}" if saved else "Superuser IPs cleared: superusers may sign in from any address."


for _action in ("create", "upsert", "update", "delete"):
    _superuser_command(_action)
