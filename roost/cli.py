"""``roost serve | superuser | version``, with PocketBase's flags."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from pydantic import ValidationError

from roost.apis import api_routes
from roost.apis.openapi.document import build_document
from roost.cli_data import CliKit
from roost.cli_data import register as register_data_commands
from roost.config import Config, cpu_count
from roost.core.app import App
from roost.core.auth.installer import installer_token
from roost.core.db.facade import DatabaseUnavailable
from roost.core.errors import RoostError
from roost.core.migrations import MigrationError, load_dir
from roost.core.pb_import import (
    ImportRefused,
    encryption_key_from_env,
    import_pocketbase,
    is_pocketbase_dir,
    pocketbase_dir_message,
)
from roost.core.secret_box import WrongEncryptionKey
from roost.core.superusers import create_superuser_otp, manage_superuser
from roost.plugins.hooks_dir import HookFileError, check_hook_files
from roost.plugins.migratecmd import (
    apply_pending,
    create_blank,
    revert,
    sync_history,
    write_snapshot,
)
from roost.server.serving import serve as serve_http
from roost.tools import tracing
from roost.tools.broker import BrokerError
from roost.tools.structured_logs import FORMATS, LEVELS
from roost.tools.structured_logs import configure as configure_logs
from roost.version import __version__

Decorated = TypeVar("Decorated", bound=Callable[..., Any])
DIR_HELP = "the data directory (default ./roost_data)"
ENCRYPTION_HELP = (
    "the environment variable whose value encrypts the stored settings "
    "(or set ROOST_ENCRYPTION_KEY to the key itself)"
)
MIGRATIONS_HELP = "the migration files' directory (default <dir>/../roost_migrations)"


def _config(**values: Any) -> Config:
    """The flags given, over the config of the app whose command line this is (``Roost(...).cli()``)."""
    clean = {k: v for k, v in values.items() if v is not None}
    if "encryption_env" in clean:
        clean["encryption_key"] = _encryption_key(clean.pop("encryption_env"))
    if "dir" in clean:
        clean["data_dir"] = Path(clean.pop("dir"))
    context = click.get_current_context(silent=True)
    server = context.obj if context is not None else None
    base = server.config.model_dump(exclude_unset=True) if server is not None else {}
    try:
        return Config(**{**base, **clean})
    except ValidationError as exc:
        raise click.UsageError(config_problem(exc)) from exc


def config_problem(exc: ValidationError) -> str:
    """The first problem of a configuration, in one line: our own validators' sentence, or the
    setting's name and pydantic's complaint (never the rejected value, which may be a secret)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    message = str(error["msg"])
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    name = ".".join(str(part) for part in error["loc"])
    return f"{name} (ROOST_{name.upper()}): {message}"


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _check_dir(config: Config) -> None:
    if config.db_url:
        return
    if is_pocketbase_dir(config.data_dir):
        _fail(pocketbase_dir_message(config.data_dir))
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
    app = App(config)
    try:
        await app.bootstrap()
    except BrokerError as exc:
        await app.close()
        _fail(str(exc))
    except DatabaseUnavailable as exc:
        await app.close()
        _fail(exc.message)
    except WrongEncryptionKey as exc:
        await app.close()
        _fail(str(exc))
    return app


@click.group()
@click.version_option(__version__, "--version", "-v", prog_name="roost", message="%(prog)s version %(version)s")
def main() -> None:
    """Roost: a backend in one Python package, compatible with the PocketBase SDKs."""


@main.command()
def version() -> None:
    """Print the Roost version."""
    click.echo(f"roost version {__version__}")


def setting(*decls: str, field: str, help: str, **kwargs: Any) -> Callable[[Decorated], Decorated]:
    """A ``serve`` flag for the ``Config`` field ``field``. Its ROOST_* variable is named in
    --help but read by ``Config`` alone, so a flag and its variable have one parser."""
    assert field in Config.model_fields, field
    SERVE_FIELDS.add(field)
    return click.option(*decls, field, default=None, help=f"{help}  [env: {env_name(field)}]", **kwargs)


def env_name(field: str) -> str:
    return f"ROOST_{field.upper()}"


#: the Config fields that have a ``serve`` flag (the others are listed as variables only)
SERVE_FIELDS: set[str] = set()


@main.command()
@setting("--http", field="http", help="address to listen on (default 127.0.0.1:8090)")
@setting("--https", field="https",
         help="address to listen on with TLS instead of --http (needs --tlsCert and --tlsKey; "
              "for automatic certificates put Caddy in front, see docs/operations.md)")
@setting("--tlsCert", "--tls-cert", field="tls_cert", help="PEM certificate (chain) file for --https")
@setting("--tlsKey", "--tls-key", field="tls_key", help="PEM private key file for --https")
@setting("--origins", field="origins", help="CORS allow-list: comma-separated origins, * for any (default *)")
@setting("--dir", field="data_dir", help=DIR_HELP)
@setting("--db-url", field="db_url", help="database URL (postgresql://..., mysql://...); default embedded SQLite in --dir")
@setting("--workers", field="workers", type=int,
         help="worker processes (default: one per usable core; 1 with --dev, hooks watching or plugins). "
              "Without --redis-url the workers share an embedded hub in the serving process")
@setting("--redis-url", field="redis_url",
         help="Redis URL for the cross-process broker and shared state of several machines (redis://host:6379/0)")
@setting("--cache-url", field="cache_url", help="response cache: memory://, redis://host:6379/0 or memcached://host:11211")
@setting("--db-pool-size", field="db_pool_size", type=int,
         help="pooled PostgreSQL/MySQL connections per worker (default: derived from cores and --workers)")
@setting("--queryTimeout", "--query-timeout", field="query_timeout", type=float,
         help="seconds one SQL statement may run before the request answers 400 (default 30, 0 = no limit)")
@setting("--header-timeout", field="header_timeout", type=float,
         help="seconds a client has to send a request's headers before it is disconnected (default 10)")
@setting("--body-timeout", field="body_timeout", type=float,
         help="seconds a request body may take to arrive after its headers, 0 = no limit (default 300)")
@setting("--max-header-size", field="max_header_size", type=int,
         help="largest request line plus headers in bytes; more answers 431 (default 65536)")
@setting("--max-connections-per-ip", field="max_connections_per_ip", type=int,
         help="open connections one address may hold per worker, 0 = no cap (default 256); "
              "behind a reverse proxy the proxy is that address")
@setting("--max-streams-per-ip", field="max_streams_per_ip", type=int,
         help="open realtime SSE/WebSocket streams one client IP may hold per worker, 0 = no cap (default 64)")
@setting("--ws-max-message", field="ws_max_message", type=int,
         help="largest WebSocket message a client may send, in bytes (default 65536)")
@setting("--publicDir", "--public-dir", field="public_dir",
         help="directory of static files served at / (default <dir>/../roost_public)")
@setting("--indexFallback", "--index-fallback", field="index_fallback", type=click.BOOL, is_flag=False, flag_value=True,
         help="serve index.html for missing paths without an extension, for single-page apps (default true)")
@setting("--dev", field="dev", is_flag=True,
         help="development mode (readable logs with SQL statements; turns --automigrate and --hooksWatch on)")
@setting("--logFormat", "--log-format", field="log_format", type=click.Choice(FORMATS, case_sensitive=False),
         help="stdout log lines: json (default) or text (default with --dev; coloured on a terminal)")
@setting("--logLevel", "--log-level", field="log_level", type=click.Choice(LEVELS, case_sensitive=False),
         help="lowest level logged to stdout (default info)")
@setting("--migrationsDir", "--migrations-dir", field="migrations_dir", help=MIGRATIONS_HELP)
@setting("--automigrate/--no-automigrate", field="automigrate",
         help="write a migration file for each collection change made through the API (default: on with --dev)")
@setting("--hooksDir", field="hooks_dir", help="the hooks directory (default roost_hooks beside --dir)")
@setting("--hooksWatch/--no-hooksWatch", field="hooks_watch",
         help="reload the hooks files when they change (default: on with --dev)")
@setting("--metrics/--no-metrics", field="metrics",
         help="record Prometheus metrics and serve GET /api/metrics (default on)")
@setting("--metricsToken", "--metrics-token", field="metrics_token",
         help="bearer token that may scrape /api/metrics besides superusers; prefer the variable (flags show in ps)")
@click.option("--encryptionEnv", "--encryption-env", "encryption_env", default=None, help=ENCRYPTION_HELP)
@click.pass_obj
def serve(server: Any, /, encryption_env: str | None, **options: Any) -> None:
    """Start the web server."""
    config = _config(encryption_env=encryption_env, **options)
    plugins = getattr(server, "plugins", [])
    custom = bool(plugins or getattr(server, "registrations", None))
    config = _with_default_workers(config, custom)
    if custom and config.workers > 1:
        _fail("--workers above 1 builds the app in each worker process from ROOST_* settings, without plugins; "
              "serve an app with plugins in one process per instance.")
    if config.workers > 1 and config.redis_url and config.cache_url.startswith("memory://"):
        _fail("--cache-url memory:// keeps one cache per process; with --workers and --redis-url use "
              "redis:// or memcached://.")
    _check_tls(config)
    _check_dir(config)
    try:
        tracing.check_installed()
    except tracing.TracingUnavailable as exc:
        _fail(str(exc))
    configure_logs(config.logs_format, config.log_level)
    installer = asyncio.run(_probe(config))
    host, _, port = config.listen_address.rpartition(":")
    _check_port(host, int(port))
    scheme = "https" if config.https else "http"
    database = config.database_url.split("://")[0]
    base = f"{scheme}://{config.listen_address}"
    log = logging.getLogger("roost")
    log.info("Roost %s serving %s/api/ (data: %s, workers: %d)", __version__, base, database, config.workers,
             extra={"version": __version__, "url": f"{base}/", "database": database, "workers": config.workers})  # fmt: skip
    log.info("Dashboard: %s/_/", base, extra={"url": f"{base}/_/"})
    if installer:  # a warning, so that --logLevel warning still shows the way in
        link = f"{base}/_/#/install/{installer}"
        log.warning("No superuser yet: create the first one within an hour at %s", link, extra={"url": link})
    if custom:
        serve_http(config, server.with_config(config).asgi, own_logging=True)
    else:
        serve_http(config, own_logging=True, slim=True)


serve.epilog = "\b\nAlso read from the environment:\n" + "\n".join(
    f"  {env_name(field)}" for field in Config.model_fields if field not in SERVE_FIELDS | {"hub_url"}
) + "\n  OTEL_* (tracing with roost[otel]: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME ...; docs/operations.md)"


def _encryption_key(name: str) -> str:
    """The value of the variable ``--encryptionEnv`` names."""
    value = os.environ.get(name, "")
    if not value:
        _fail(f"--encryptionEnv {name}: the environment variable {name} is empty or not set.")
    return value


def _check_tls(config: Config) -> None:
    if not (config.https or config.tls_cert or config.tls_key):
        return
    if not (config.https and config.tls_cert and config.tls_key):
        _fail("--https needs both --tlsCert and --tlsKey (and they need --https).")
    for flag, path in (("--tlsCert", config.tls_cert), ("--tlsKey", config.tls_key)):
        try:
            Path(str(path)).read_bytes()
        except OSError as exc:
            _fail(f"{flag} {path}: cannot read it ({exc.strerror or exc}).")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(config.tls_cert), str(config.tls_key))
    except (ssl.SSLError, ValueError) as exc:
        _fail(f"--tlsCert/--tlsKey do not make a usable certificate and key ({exc}).")


def _with_default_workers(config: Config, custom: bool) -> Config:
    """One worker per usable core unless ``--workers``/``ROOST_WORKERS`` says otherwise.

    One worker when the app has plugins or registrations (each worker would build the app from
    the ROOST_* settings alone, without them) and in dev mode or with hooks watching (a reload
    then reaches every request at once)."""
    if "workers" in config.model_fields_set:
        return config
    workers = 1 if custom or config.dev or config.watch_hooks else cpu_count()
    return config.model_copy(update={"workers": workers})


async def _probe(config: Config) -> str | None:
    """Check what start-up would trip on; the first-run token while no superuser exists."""
    app = await _open(config)
    try:
        check_hook_files(app)
        installer = await installer_token(app)
    except HookFileError as exc:
        _fail(f"hooks file {exc}")
    finally:
        await app.close()
    try:  # a migration file that does not load is one line here; the app applies them when it starts
        load_dir(config.migrations_path)
    except MigrationError as exc:
        _fail(str(exc))
    return installer


def _data_options(command: Any) -> Any:
    """--dir, --db-url and --encryptionEnv: what a command that opens the data needs."""
    command = click.option("--encryptionEnv", "--encryption-env", "encryption_env", default=None, help=ENCRYPTION_HELP)(command)
    command = click.option("--db-url", default=None, help="database URL")(command)
    return click.option("--dir", default=None, help=DIR_HELP)(command)


@main.command()
@_data_options
def openapi(**options: Any) -> None:
    """Print the full OpenAPI 3.1 document (as a superuser sees it) as JSON."""
    config = _config(**options)
    _check_dir(config)
    click.echo(asyncio.run(_openapi(config)))


async def _openapi(config: Config) -> str:
    app = await _open(config)
    try:
        doc = build_document(api_routes(), app.collections.all(), superuser=True)
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    finally:
        await app.close()


@main.group()
def graphql() -> None:
    """The GraphQL API (/api/graphql)."""


@graphql.command(name="schema")
@click.option("--dir", default=None, help=DIR_HELP)
@click.option("--db-url", default=None, help="database URL")
def graphql_schema(dir: str | None, db_url: str | None) -> None:
    """Print the GraphQL schema of the current collections in SDL."""
    config = _config(dir=dir, db_url=db_url)
    _check_dir(config)
    click.echo(asyncio.run(_graphql_sdl(config)))


async def _graphql_sdl(config: Config) -> str:
    app = await _open(config)
    try:
        from roost.apis.graphql.schema import schema_sdl  # graphql-core, for this command only

        return schema_sdl(app.collections.all())
    finally:
        await app.close()


@main.group()
def superuser() -> None:
    """Manage superusers."""


def _superuser_command(action: str) -> Any:
    @click.argument("email")
    @click.argument("password", required=action != "delete")
    @_data_options
    def command(email: str, password: str | None, **options: Any) -> None:
        config = _config(**options)
        _check_dir(config)
        message = asyncio.run(_superuser(config, action, email, password or ""))
        click.echo(message)

    command.__doc__ = f"{action.capitalize()} a superuser."
    return superuser.command(name=action)(command)


async def _superuser(config: Config, action: str, email: str, password: str) -> str:
    app = await _open(config)
    try:
        return await manage_superuser(app, action, email, password)
    except Exception as exc:  # report any failure as one line
        _fail_on_roost_error(exc)
        raise
    finally:
        await app.close()


def _fail_on_roost_error(exc: Exception) -> None:
    if isinstance(exc, RoostError):
        detail = "; ".join(f"{k}: {v.get('message', v) if isinstance(v, dict) else v}" for k, v in exc.data.items())
        _fail(f"{exc.message} {detail}".strip())


@superuser.command(name="otp")
@click.argument("email")
@_data_options
def superuser_otp(email: str, **options: Any) -> None:
    """Create a one-time password for the superuser EMAIL (OTP sign-in must be enabled for superusers)."""
    config = _config(**options)
    _check_dir(config)
    otp_id, password, seconds = asyncio.run(_superuser_otp(config, email))
    click.echo(f"One-time password for superuser {email}, valid for {seconds} s:")
    click.echo(f"  otpId:    {otp_id}")
    click.echo(f"  password: {password}")


async def _superuser_otp(config: Config, email: str) -> tuple[str, str, int]:
    app = await _open(config)
    try:
        return await create_superuser_otp(app, email)
    except Exception as exc:  # report any failure as one line
        _fail_on_roost_error(exc)
        raise
    finally:
        await app.close()


@superuser.command(name="ips")
@click.argument("ips", nargs=-1)
@_data_options
def superuser_ips(ips: tuple[str, ...], **options: Any) -> None:
    """Set the superuserIPs allowlist (IPs or CIDR subnets, space separated; none clears it).

    The way back in after a settings change that left out your own address. A running server
    picks the change up when it restarts.
    """
    config = _config(**options)
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


@main.group()
def migrate() -> None:
    """Apply, revert and write migrations (files in --migrationsDir)."""


def _migrate_options(command: Any) -> Any:
    command = click.option("--migrationsDir", "--migrations-dir", "migrations_dir", default=None, help=MIGRATIONS_HELP)(command)
    return _data_options(command)


def _run_migrate(action: str, options: dict[str, Any], count: int = 1) -> None:
    config = _config(**options)
    _check_dir(config)
    for line in asyncio.run(_migrate(config, action, count)):
        click.echo(line)


async def _migrate(config: Config, action: str, count: int) -> list[str]:
    app = await _open(config)
    try:
        if action == "up":
            return [f"Applied {n}" for n in await apply_pending(app)] or ["No new migrations to apply."]
        if action == "down":
            return [f"Reverted {n}" for n in await revert(app, count)] or ["No migrations to revert."]
        if action == "history-sync":
            gone = await sync_history(app)
            return [f"Removed {n} from the history" for n in gone] or ["The _migrations table already matches the migration files."]
        return [f"Created {write_snapshot(app)}"]
    except MigrationError as exc:
        _fail(str(exc))
        raise
    finally:
        await app.close()


@migrate.command(name="up")
@_migrate_options
def migrate_up(**options: Any) -> None:
    """Apply every migration not applied yet."""
    _run_migrate("up", options)


@migrate.command(name="down")
@click.argument("count", default=1, type=click.IntRange(min=1))
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@_migrate_options
def migrate_down(count: int, yes: bool, **options: Any) -> None:
    """Revert the last COUNT applied migrations (default 1)."""
    if not yes:
        click.confirm(f"Revert the last {count} applied migration(s)?", abort=True)
    _run_migrate("down", options, count)


@migrate.command(name="history-sync")
@_migrate_options
def migrate_history_sync(**options: Any) -> None:
    """Forget applied migrations whose files are no longer in the migrations dir."""
    _run_migrate("history-sync", options)


@migrate.command(name="collections")
@_migrate_options
def migrate_collections(**options: Any) -> None:
    """Write a migration that imports every current non-system collection."""
    _run_migrate("collections", options)


@migrate.command(name="create")
@click.argument("name")
@click.option("--dir", default=None, help=DIR_HELP)
@click.option("--migrationsDir", "--migrations-dir", "migrations_dir", default=None, help=MIGRATIONS_HELP)
def migrate_create(name: str, **options: Any) -> None:
    """Write a new blank migration file NAME."""
    click.echo(f"Created {create_blank(_config(**options).migrations_path, name)}")


@main.group(name="import")
def import_group() -> None:
    """Bring in data: records from CSV or JSON lines, or a PocketBase data dir."""


@import_group.command(name="pocketbase")
@click.argument("pb_data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dir", default=None, help=DIR_HELP)
@click.option("--db-url", default=None, help="database URL (default embedded SQLite in --dir)")
@click.option("--force", is_flag=True, help="merge into a Roost that already holds data (same ids are replaced)")
@click.option("--encryptionEnv", "--encryption-env", "encryption_env", default="",
              help="the environment variable holding PocketBase's --encryptionEnv key (for encrypted settings)")
def import_pocketbase_command(pb_data_dir: Path, dir: str | None, db_url: str | None, force: bool, encryption_env: str) -> None:
    """Import a PocketBase 0.23+ pb_data dir: collections, records, files, users, settings."""
    config = _config(dir=dir, db_url=db_url)
    if not config.db_url and config.data_dir.resolve() == pb_data_dir.resolve():
        _fail("--dir must be a new Roost data dir, not the PocketBase one.")
    if not is_pocketbase_dir(pb_data_dir):
        _fail(f"{pb_data_dir} is not a PocketBase 0.23+ data dir (no data.db with PocketBase's collections).")
    _check_dir(config)
    try:
        key = encryption_key_from_env(encryption_env)
    except ImportRefused as exc:
        _fail(str(exc))
    click.echo(asyncio.run(_import_pocketbase(config, pb_data_dir, force, key)))


async def _import_pocketbase(config: Config, source: Path, force: bool, key: str) -> str:
    app = await _open(config)
    try:
        report = await import_pocketbase(app, source, force=force, encryption_key=key, progress=lambda line: click.echo(line, err=True))
    except ImportRefused as exc:
        _fail(str(exc))
        raise
    finally:
        await app.close()
    return report.summary()


@main.group()
def backup() -> None:
    """Create, list and restore backups (in <dir>/backups, or the backups.s3 bucket)."""


def _backup_options(command: Any) -> Any:
    command = click.option("--db-url", default=None, help="database URL")(command)
    return click.option("--dir", default=None, help=DIR_HELP)(command)


@backup.command(name="create")
@click.argument("name", required=False, default="")
@_backup_options
def backup_create(name: str, dir: str | None, db_url: str | None) -> None:
    """Create a backup (NAME like my_backup.zip; generated when left out)."""
    config = _config(dir=dir, db_url=db_url)
    _check_dir(config)
    click.echo(asyncio.run(_backup(config, "create", name)))


@backup.command(name="list")
@_backup_options
def backup_list(dir: str | None, db_url: str | None) -> None:
    """List the backups: key, size in bytes, modified."""
    config = _config(dir=dir, db_url=db_url)
    _check_dir(config)
    click.echo(asyncio.run(_backup(config, "list", "")))


@backup.command(name="restore")
@click.argument("key")
@_backup_options
def backup_restore(key: str, dir: str | None, db_url: str | None) -> None:
    """Restore the backup KEY, or a .zip file given by its path (stored as a backup first).

    Stop the server first: a running one keeps the collections it has loaded (the restore API,
    POST /api/backups/{key}/restore, reloads a running server in place).
    """
    config = _config(dir=dir, db_url=db_url)
    _check_dir(config)
    click.echo(asyncio.run(_backup(config, "restore", key)))


async def _backup(config: Config, action: str, name: str) -> str:
    app = await _open(config)
    try:
        if action == "list":
            return "\n".join(f"{b['key']}\t{b['size']}\t{b['modified']}" for b in await app.backups.entries()) or "No backups."
        if action == "create":
            return f"Backup {await app.backups.create(await app.backups.check_name(name))} created."
        path = Path(name)
        if path.is_file():
            with path.open("rb") as file:
                await app.backups.upload(path.name, file)
            name = path.name
        await app.backups.check_restorable(name)
        await app.backups.restore(name)
        return f"Backup {name} restored."
    except RoostError as exc:
        _fail_on_roost_error(exc)
        _fail(exc.message)
        raise
    finally:
        await app.close()



register_data_commands(main, import_group, CliKit(config=_config, check_dir=_check_dir, open=_open, fail=_fail,
                                                  fail_on_error=_fail_on_roost_error, data_options=_data_options))
