"""Registering a user's adapter with Ollama as zega-<user_id> (optional; a failure never fails the job)."""

from __future__ import annotations

import logging
from pathlib import Path

import ollama

from zega_trainer.domain.modelfile import PARAMETERS
from zega_trainer.store import ADAPTER_FILES

log = logging.getLogger(__name__)


def register(host: str, model_name: str, base_tag: str, adapter_dir: Path, system: str, timeout_s: float = 120) -> str:
    """Upload the adapter files as blobs and create the model; returns "" or what went wrong."""
    try:
        client = ollama.Client(host=host, timeout=timeout_s)
        adapters = {name: client.create_blob(adapter_dir / name) for name in ADAPTER_FILES}
        client.create(
            model=model_name,
            from_=base_tag,
            adapters=adapters,
            system=system or None,
            parameters=dict(PARAMETERS),
            stream=False,
        )
    except Exception as exc:  # any client, HTTP or server error is reported in AdapterReady.ollama_error
        log.warning("registering %s with Ollama failed: %s", model_name, exc)
        return f"{type(exc).__name__}: {exc}"[:500]
    return ""
