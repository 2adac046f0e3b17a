"""OTLP trace receivers on 127.0.0.1 (threads): the collector a traced Roost exports to.

:class:`Collector` answers ``POST /v1/traces`` (OTLP/HTTP) as an OpenTelemetry collector does,
:class:`GrpcCollector` the ``TraceService/Export`` call (OTLP/gRPC); both decode each protobuf
``ExportTraceServiceRequest`` and keep the spans in ``spans``.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    #: 1 internal, 2 server, 3 client
    kind: int
    attributes: dict[str, Any]
    #: 0 unset, 1 ok, 2 error
    status: int
    service: str


SERVER, CLIENT, INTERNAL = 2, 3, 1


def _value(value: AnyValue) -> Any:
    field = value.WhichOneof("value")
    return getattr(value, field) if field else None


def decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return spans_of(request)


def spans_of(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(ReceivedSpan(
                    span.name, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.kind,
                    {a.key: _value(a.value) for a in span.attributes}, span.status.code,
                    str(resource.get("service.name", "")),
                ))  # fmt: skip
    return spans


class _Received:
    """The spans received; use as a context manager, ``endpoint`` is the ``OTEL_EXPORTER_OTLP_ENDPOINT`` to give."""

    endpoint = ""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        #: export calls answered
        self.requests = 0
        self._lock = threading.Lock()

    def __enter__(self) -> _Received:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _add(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            self.spans.extend(spans)
            self.requests += 1

    def wait_for(self, match: Callable[[ReceivedSpan], bool], timeout: float = 20.0) -> list[ReceivedSpan]:
        """The spans ``match`` accepts, once there is at least one (exporting is batched)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [s for s in self.spans if match(s)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


class Collector(_Received):
    """OTLP/HTTP (``http/protobuf``)."""

    def __init__(self) -> None:
        super().__init__()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                collector._add(decode(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class GrpcCollector(_Received):
    """OTLP/gRPC (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``)."""

    def __init__(self) -> None:
        super().__init__()
        collector = self

        class Service(TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:
                collector._add(spans_of(request))
                return ExportTraceServiceResponse()

        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        add_TraceServiceServicer_to_server(Service(), self.grpc_server)
        port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"

    def __enter__(self) -> GrpcCollector:
        self.grpc_server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.grpc_server.stop(grace=None)
