"""Prometheus metrics with bounded label values.

FastStream's NatsPrometheusMiddleware labels each message with its full subject, which holds the
user_id: one time series per user. The subclass below keeps the subject's shape
(`example.collected.*`) instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats.prometheus import NatsPrometheusMiddleware
from faststream.nats.prometheus.provider import NatsMetricsSettingsProvider
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry


def subject_shape(subject: str) -> str:
    """`example.collected.alice` -> `example.collected.*` (the per-user token dropped)."""
    head, _, _ = subject.rpartition(".")
    return f"{head}.*" if head else subject


class _BoundedProvider(NatsMetricsSettingsProvider):
    def get_consume_attrs_from_message(self, msg):
        attrs = super().get_consume_attrs_from_message(msg)
        attrs["destination_name"] = subject_shape(attrs["destination_name"])
        return attrs

    def get_publish_destination_name_from_cmd(self, cmd) -> str:
        return subject_shape(cmd.destination)


def _provider_factory(msg: Msg | Sequence[Msg] | None):
    if msg is None or isinstance(msg, Msg):
        return _BoundedProvider()
    return None


class BoundedNatsPrometheusMiddleware(NatsPrometheusMiddleware):
    def __init__(self, *, registry: CollectorRegistry, app_name: str) -> None:
        super().__init__(registry=registry, app_name=app_name, metrics_prefix="zega")
        self._settings_provider_factory = _provider_factory
