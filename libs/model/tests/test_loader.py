"""The SmolLM2 cache: a cache made before the GGUF marker was dropped is repaired on first use."""

from __future__ import annotations

import json

from zega_model.loader import cached_smollm2


def test_a_cached_config_with_the_gguf_marker_is_rewritten_without_it(tmp_path):
    target = tmp_path / "smollm2-135m-instruct"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"")  # the cache counts as made
    config = {"model_type": "llama", "hidden_size": 576, "quantization_config": {"quant_method": "gguf"}}
    (target / "config.json").write_text(json.dumps(config))

    assert cached_smollm2(tmp_path) == target
    assert json.loads((target / "config.json").read_text()) == {"model_type": "llama", "hidden_size": 576}
    assert cached_smollm2(tmp_path) == target  # and a clean one is left as it is
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors"]
