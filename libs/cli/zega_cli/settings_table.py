"""`zega settings`: every ZEGA_* environment variable, its default, who reads it and what it does,
as a Markdown table made from the services' settings classes (the README's configuration table)."""

from __future__ import annotations

import importlib

from pydantic_settings import BaseSettings

SERVICES = {
    "gateway": "zega_gateway.config:GatewaySettings",
    "collector": "zega_collector.config:CollectorSettings",
    "trainer": "zega_trainer.config:TrainerSettings",
    "inference": "zega_inference.config:InferenceSettings",
    "memory": "zega_memory.config:MemorySettings",
    "zega up": "zega_cli.config:StackSettings",
}


def _load(path: str) -> type[BaseSettings] | None:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        return None


def rows() -> list[tuple[str, str, str, str]]:
    """(variable, default, readers, description), one per variable, sorted."""
    seen: dict[str, list] = {}
    for service, path in SERVICES.items():
        cls = _load(path)
        if cls is None:
            continue
        for name, field in cls.model_fields.items():
            var = f"ZEGA_{name.upper()}"
            default = "" if field.is_required() else repr(field.get_default(call_default_factory=True))
            entry = seen.setdefault(var, [default, [], (field.description or "").replace("\n", " ")])
            entry[1].append(service)
    return [(var, d, ", ".join(who), desc) for var, (d, who, desc) in sorted(seen.items())]


def markdown() -> str:
    lines = ["| variable | default | read by | meaning |", "|---|---|---|---|"]
    for var, default, who, desc in rows():
        who = "all" if len(who.split(", ")) == len(SERVICES) else who
        lines.append(f"| `{var}` | `{default}` | {who} | {desc} |")
    return "\n".join(lines)
