"""The Ollama Modelfile written next to each adapter, and the style line used when memory cannot answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from zega_trainer.domain.examples import TrainingExample

PARAMETERS = (("temperature", 0.8), ("top_p", 0.9), ("repeat_penalty", 1.1))


def system_prompt(persona: str, style: str) -> str:
    """The persona (the user's own words) first, then the style summary."""
    return "\n".join(part.strip() for part in (persona, style) if part and part.strip())


def style_from_examples(examples: Sequence[TrainingExample], top: int = 3) -> str:
    """A short style line from the examples' genres and themes (metadata), for when memory is unreachable."""
    parts = []
    for key, label in (("genre", "genres"), ("theme", "themes")):
        counts = Counter(ex.metadata[key].replace("_", " ") for ex in examples if ex.metadata.get(key))
        if counts:
            parts.append(f"{label}: {', '.join(name for name, _ in counts.most_common(top))}")
    line = "Write in this user's style"
    return f"{line} ({'; '.join(parts)})." if parts else f"{line}."


def render(base_tag: str, system: str, user_id: str, version: int) -> str:
    """A Modelfile for `ollama create zega-<user_id> -f Modelfile`, run in the adapter's directory.

    ADAPTER names the directory: Ollama converts a safetensors LoRA from adapter_model.safetensors plus
    adapter_config.json, both next to this file.
    """
    lines = [f"# zega-{user_id}, adapter v{version}", f"FROM {base_tag}", "ADAPTER ."]
    if system:
        lines.append(f'SYSTEM """{system.replace(chr(34) * 3, chr(39) * 3)}"""')
    lines += [f"PARAMETER {name} {value}" for name, value in PARAMETERS]
    return "\n".join(lines) + "\n"
