"""The tracer provider and exporters the ``OTEL_*`` variables describe (imports the SDK).

The SDK reads most variables itself: ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``
(resource), ``OTEL_TRACES_SAMPLER``/``_ARG`` (sampler), ``OTEL_BSP_*`` (batching), and the OTLP
exporters their ``OTEL_EXPORTER_OTLP_*`` endpoint, headers, timeout and compression. This module
builds the exporters :func:`~roost.tools.tracing.env.exporter_names` lists, OTLP over
:func:`~roost.tools.tracing.env.otlp_protocol`.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from roost.tools.tracing.database import instrument_sqlalchemy, uninstrument_sqlalchemy
from roost.tools.tracing.env import TracingUnavailable, exporter_names, otlp_protocol

_installed: list[TracerProvider] = []


def install(env: Mapping[str, str]) -> None:
    """Build the provider with one batch processor per exporter and make it the global one.

    A process that already has an SDK provider (``opentelemetry-instrument roost serve``, or an
    application that set one up) keeps it: Roost's spans go where that provider sends them.
    """
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        exporters = [_exporter(name, env) for name in exporter_names(env)]
        provider = TracerProvider(resource=_resource())
        for exporter in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _installed.append(provider)
    instrument_sqlalchemy()


def uninstall() -> None:
    """Flush and shut down what :func:`install` set up (OpenTelemetry keeps the global provider)."""
    uninstrument_sqlalchemy()
    while _installed:
        _installed.pop().shutdown()


def _resource() -> Resource:
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "roost"}))
    return resource


def _exporter(name: str, env: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if otlp_protocol(env) == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPExporter,
        )

        return HTTPExporter()
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GRPCExporter,
        )
    except ImportError as exc:
        raise TracingUnavailable(
            "OTLP over grpc needs opentelemetry-exporter-otlp-proto-grpc: pip install 'roost[otel]'"
        ) from exc
    return GRPCExporter()
