"""Tracing and logging set-up, the same in every service."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from zega_common.settings import ZegaSettings


def setup_logging(settings: ZegaSettings, service: str) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )


def setup_tracing(settings: ZegaSettings, service: str) -> TracerProvider:
    """A tracer provider named after the service, exporting over OTLP when an endpoint is set."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"zega-{service}"}))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider
