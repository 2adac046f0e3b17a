"""Whether the ``OTEL_*`` variables ask for traces (no OpenTelemetry import here)."""

from __future__ import annotations

import os
from collections.abc import Mapping

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")


class TracingUnavailable(Exception):
    """The environment asks for tracing that cannot be set up (missing extra, unknown exporter)."""


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces.

    ``OTEL_SDK_DISABLED=true`` wins. Otherwise an ``OTEL_TRACES_EXPORTER`` other than ``none``, or
    an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``),
    turns tracing on. Unlike the SDK's auto-instrumentation, nothing set means off.
    """
    env = environment(environ)
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(env.get(name, "").strip() for name in _ENDPOINTS)


def exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` when unset), without ``none``.

    Raises:
        TracingUnavailable: an exporter Roost does not ship.
    """
    env = environment(environ)
    names = [
        n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()
    ]
    for name in names:
        if name not in EXPORTERS:
            raise TracingUnavailable(
                f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (use {', '.join(EXPORTERS)})"
            )
    return [n for n in names if n != "none"]


def otlp_protocol(environ: Mapping[str, str] | None = None) -> str:
    """The OTLP protocol for traces (``http/protobuf`` when unset).

    Raises:
        TracingUnavailable: a protocol the exporters do not speak (``http/json``).
    """
    env = environment(environ)
    raw = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or PROTOCOLS[0]
    )
    protocol = raw.strip().lower()
    if protocol not in PROTOCOLS:
        raise TracingUnavailable(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol {protocol!r} (use {' or '.join(PROTOCOLS)})"
        )
    return protocol
