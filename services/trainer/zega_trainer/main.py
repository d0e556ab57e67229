"""Wiring only: settings, broker, handlers, app."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from zega_common.runtime import make_app, make_broker, serve
from zega_trainer.config import TrainerSettings
from zega_trainer.handlers import Trainer, register


def create_app(settings: TrainerSettings | None = None) -> AsgiFastStream:
    settings = settings or TrainerSettings()
    broker = make_broker(settings, "trainer")
    trainer = Trainer(broker, settings)
    register(broker, settings, trainer)
    return make_app(broker, settings, on_shutdown=[trainer.shutdown])


def main() -> None:
    settings = TrainerSettings()
    serve(create_app(settings), settings.metrics_port)


if __name__ == "__main__":
    main()
