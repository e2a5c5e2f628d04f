"""OpenTelemetry tracing: one provider per process, W3C trace context over HTTP and Kafka headers.

Spans are exported with OTLP/HTTP (protobuf) to ``<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces``
through a ``BatchSpanProcessor`` whose queue is larger than the SDK default (2048 drops spans
under load). Without an endpoint, spans and trace ids are still created (logs carry them) but
nothing is exported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.common.settings import ServiceSettings

MAX_QUEUE_SIZE = 65536
EXPORT_TIMEOUT_S = 2.0
KafkaHeaders = list[tuple[str, bytes]]


def traces_endpoint(base: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint (``http://h:4318`` -> ``.../v1/traces``)."""
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def resource_for(settings: ServiceSettings) -> Resource:
    """Resource attributes that identify this process in every span."""
    return Resource.create(
        {
            "service.name": settings.service_name,
            "service.version": settings.service_version,
            "service.instance.id": settings.instance_id,
            "deployment.environment": settings.deployment_environment,
        }
    )


class Telemetry:
    """The process's tracer provider; ``shutdown()`` flushes what is queued within a bound."""

    def __init__(self, settings: ServiceSettings, install_global: bool = True) -> None:
        self.provider = TracerProvider(resource=resource_for(settings))
        self.exporting = bool(settings.otel_exporter_otlp_endpoint)
        if settings.otel_exporter_otlp_endpoint:
            exporter = OTLPSpanExporter(
                endpoint=traces_endpoint(settings.otel_exporter_otlp_endpoint), timeout=EXPORT_TIMEOUT_S
            )
            self.provider.add_span_processor(
                BatchSpanProcessor(
                    exporter,
                    max_queue_size=MAX_QUEUE_SIZE,
                    max_export_batch_size=1024,
                    schedule_delay_millis=500,
                    export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
                )
            )
        if install_global:
            trace.set_tracer_provider(self.provider)
        self.tracer = self.provider.get_tracer("insurecloud", settings.service_version)

    def shutdown(self, timeout_s: float = EXPORT_TIMEOUT_S) -> None:
        """Export what is queued (bounded by ``timeout_s``) and stop the exporter."""
        self.provider.force_flush(int(timeout_s * 1000))
        self.provider.shutdown()


def http_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Outgoing HTTP headers with the current context's ``traceparent`` added."""
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def kafka_headers() -> KafkaHeaders:
    """Kafka record headers carrying the current context (W3C ``traceparent``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k, v.encode()) for k, v in carrier.items()]


def context_from_kafka(headers: Sequence[tuple[str, bytes | None]] | None) -> otel_context.Context:
    """The trace context a producer put in a record's headers (an empty context if none)."""
    carrier = {k: v.decode(errors="replace") for k, v in headers or [] if v is not None}
    return propagate.extract(carrier)


def context_from_http(headers: Mapping[str, str]) -> otel_context.Context:
    """The caller's trace context from incoming HTTP headers."""
    return propagate.extract(headers)


def current_trace_id() -> str | None:
    """Hex id of the active trace, for responses and records that link back to it."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
