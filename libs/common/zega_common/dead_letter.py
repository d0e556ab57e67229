"""Parking messages a service cannot process: `zega.dlq.<service>`, reason in the Zega-Error header."""

from __future__ import annotations

import logging

from faststream.nats import NatsBroker
from prometheus_client import Counter

from zega_common import subjects
from zega_common.codec import HEADER_ERROR, HEADER_EVENT
from zega_common.metrics import subject_shape

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter("zega_dead_letters_total", "Messages parked in the dead-letter stream.", ["service", "subject"])


async def park(broker: NatsBroker, service: str, subject: str, body: bytes, reason: str, event: str = "") -> None:
    """Keep the message with why it was refused; it is then acknowledged, never retried."""
    DEAD_LETTERS.labels(service, subject_shape(subject)).inc()
    log.warning("dead-lettered a message on %s: %s", subject, reason)
    headers = {HEADER_ERROR: reason[:1000], "Zega-Subject": subject}
    if event:
        headers[HEADER_EVENT] = event
    await broker.publish(body, subjects.dead_letter(service), headers=headers, stream=subjects.STREAM_DEAD_LETTER)
