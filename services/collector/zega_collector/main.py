"""Wiring only: settings, broker, handlers, app."""

from __future__ import annotations

import functools

from faststream.asgi import AsgiFastStream

from zega_collector.config import CollectorSettings
from zega_collector.handlers import register
from zega_collector.ledger import declare_buckets
from zega_common.runtime import make_app, make_broker, serve


def create_app(settings: CollectorSettings | None = None) -> AsgiFastStream:
    settings = settings or CollectorSettings()
    broker = make_broker(settings, "collector")
    examples = register(broker, settings)
    return make_app(
        broker,
        settings,
        on_startup=[functools.partial(declare_buckets, settings)],
        after_startup=[examples.start],
        on_shutdown=[examples.stop],
    )


def main() -> None:
    settings = CollectorSettings()
    serve(create_app(settings), settings.metrics_port)


if __name__ == "__main__":
    main()
