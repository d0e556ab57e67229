"""The reduced `zega demo` (few training steps): 0 -> 50 examples -> adapter.ready -> generation with it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_quick_demo_trains_an_adapter_and_uses_it(tmp_path):
    exe = Path(sys.executable).parent / "zega"
    env = {**os.environ, "ZEGA_DATA_DIR": str(tmp_path), "COLUMNS": "120"}
    result = subprocess.run([str(exe), "demo", "--quick"], env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(next((tmp_path / "reports").glob("demo-mara-*.json")).read_text())
    assert report["adapter"]["adapter_version"] == 1
    assert report["adapter"]["training_examples_used"] >= 30
    for generation in report["generations"]:
        assert generation["base"]["adapter_version"] == 0
        assert generation["adapter"]["adapter_version"] == 1, generation
        assert generation["adapter"]["model"] == "zega-demo-mara"
    assert list((tmp_path / "reports").glob("*.png"))
    assert "demo done" in result.stdout
