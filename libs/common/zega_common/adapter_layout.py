"""Where adapters live (DESIGN.md): objects `<user_id>/v<N>/<file>` in object store zega-adapters, and
the KV zega-adapters pointer `<user_id>` that inference follows. The trainer writes both, the gateway
reads manifests and moves pointers (rollback), inference reads them: one spelling for all three."""

from __future__ import annotations

import re
from typing import Any

_OBJECT_PATH = re.compile(r"^(?P<user>[A-Za-z0-9][A-Za-z0-9_-]{0,63})/v(?P<version>[1-9][0-9]{0,8})/(?P<file>[^/]+)$")

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
MODELFILE = "Modelfile"
MANIFEST_FILE = "manifest.json"


def object_prefix(user_id: str, version: int) -> str:
    """`alice`, 3 -> `alice/v3` (AdapterReady.object_name)."""
    return f"{user_id}/v{version}"


def object_path(user_id: str, version: int, file: str) -> str:
    return f"{object_prefix(user_id, version)}/{file}"


def parse_object_path(name: str) -> tuple[str, int, str] | None:
    """`alice/v3/adapter_config.json` -> ("alice", 3, "adapter_config.json"); None for other names."""
    match = _OBJECT_PATH.match(name)
    return (match["user"], int(match["version"]), match["file"]) if match else None


def pointer(user_id: str, version: int, sha256: str, base_model: str, updated_at: str) -> dict[str, Any]:
    """The pointer document: sha256 is that of adapter_model.safetensors; updated_at RFC 3339."""
    return {
        "adapter_version": version,
        "object_name": object_prefix(user_id, version),
        "sha256": sha256,
        "base_model": base_model,
        "updated_at": updated_at,
    }
