"""OpenTelemetry tracing, an optional extra (``pip install 'roost[otel]'``).

Tracing is off unless the standard ``OTEL_*`` variables ask for it (:func:`requested`). When
:func:`configure` turns it on, :data:`active` becomes true and each instrumented place starts
spans through :mod:`roost.tools.tracing.spans`, the module that wraps OpenTelemetry's API: the
server span per request (:mod:`roost.apis.middleware.tracing`), database statements, hook
handlers and outbound requests.

While it is off nothing of OpenTelemetry is imported and the hot paths pay at most a check of
:data:`active`; the request middleware and the database instrumentation are not installed at
all. OpenTelemetry's tracer provider is process-wide, so this switch is too: ``roost serve``
configures it once in each worker process.
"""

from __future__ import annotations

from collections.abc import Mapping

from roost.tools.tracing.env import (
    TracingUnavailable,
    environment,
    exporter_names,
    otlp_protocol,
    requested,
)

__all__ = ["TracingUnavailable", "active", "check_installed", "configure", "requested", "shutdown"]

#: true once :func:`configure` has installed a tracer provider in this process
active = False


def check_installed(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`TracingUnavailable` when tracing is requested but cannot start: the extra is
    missing, or an exporter or protocol is unknown (one line, for ``roost serve`` to print)."""
    if not requested(environ):
        return
    if "otlp" in exporter_names(environ):
        otlp_protocol(environ)
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise TracingUnavailable(
            "OTEL_* variables ask for tracing but OpenTelemetry is not installed: "
            "pip install 'roost[otel]' (or unset them, or set OTEL_SDK_DISABLED=true)"
        ) from exc


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Install the tracer provider and exporters the ``OTEL_*`` variables describe (once per process).

    Returns:
        Whether tracing is on.

    Raises:
        TracingUnavailable: tracing is requested but the extra is missing, or an exporter or
            protocol is unknown.
    """
    global active
    if active:
        return True
    if not requested(environ):
        return False
    check_installed(environ)
    from roost.tools.tracing.provider import install

    install(environment(environ))
    active = True
    return True


def shutdown() -> None:
    """Export the spans still buffered and stop tracing in this process."""
    global active
    if not active:
        return
    from roost.tools.tracing.provider import uninstall

    active = False
    uninstall()
