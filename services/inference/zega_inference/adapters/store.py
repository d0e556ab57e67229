"""The resolver: fetches one adapter version from the zega-adapters object store and checks it.

Layout (DESIGN.md and the trainer's contract): `<user_id>/v<N>/adapter_config.json`,
`<user_id>/v<N>/adapter_model.safetensors`, `<user_id>/v<N>/manifest.json` (sha256 of the weights).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

from nats.js.errors import NotFoundError, ObjectDeletedError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from zega_inference.domain.adapter_ref import AdapterKey
from zega_inference.engine.lora import UnusableAdapter

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
MANIFEST_FILE = "manifest.json"


class AdapterMissing(UnusableAdapter):
    """No such adapter version in the object store."""


@dataclass(frozen=True)
class AdapterFiles:
    key: AdapterKey
    config: dict
    weights: bytes
    sha256: str


class AdapterStore:
    def __init__(self, objects: ObjectStore, max_bytes: int) -> None:
        self._objects = objects
        self._max_bytes = max_bytes

    async def _get(self, name: str) -> bytes:
        buffer = io.BytesIO()
        try:
            info = await self._objects.get_info(name)
            if info.size and info.size > self._max_bytes:
                raise UnusableAdapter(f"{name} is {info.size} bytes; this server keeps at most {self._max_bytes}")
            await self._objects.get(name, writeinto=buffer)
        except (ObjectNotFoundError, ObjectDeletedError, NotFoundError):
            raise AdapterMissing(f"{name} is not in the adapter store") from None
        return buffer.getvalue()

    async def expected_sha256(self, key: AdapterKey) -> str:
        """The weights' sha256 from the version's manifest (for versions asked by number)."""
        data = await self._get(f"{key.object_prefix}/{MANIFEST_FILE}")
        try:
            sha = json.loads(data)["sha256"]
        except (ValueError, KeyError, TypeError):
            raise UnusableAdapter(f"{key}/{MANIFEST_FILE} has no sha256") from None
        return str(sha)

    async def fetch(self, key: AdapterKey, expected_sha256: str) -> AdapterFiles:
        """Both files of one version; raises AdapterMissing or UnusableAdapter (corrupt) with the reason."""
        config_bytes = await self._get(f"{key.object_prefix}/{CONFIG_FILE}")
        weights = await self._get(f"{key.object_prefix}/{WEIGHTS_FILE}")
        sha = hashlib.sha256(weights).hexdigest()
        if sha != expected_sha256:
            raise UnusableAdapter(f"{key}/{WEIGHTS_FILE} has sha256 {sha[:12]}..., expected {expected_sha256[:12]}...")
        try:
            config = json.loads(config_bytes)
        except (UnicodeDecodeError, ValueError):
            raise UnusableAdapter(f"{key}/{CONFIG_FILE} is not JSON") from None
        if not isinstance(config, dict):
            raise UnusableAdapter(f"{key}/{CONFIG_FILE} is not a JSON object")
        return AdapterFiles(key=key, config=config, weights=weights, sha256=sha)
