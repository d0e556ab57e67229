"""The reduced `zega demo` (few training steps) as CI runs it: 0 -> 50 examples -> adapter.ready ->
generation with the adapter; every service exports its spans to a real OTLP receiver, and the 50th
example's trace runs from the gateway through the collector and the trainer to the inference swap."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.otlp_sink import OtlpSink


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_demo_trains_an_adapter_uses_it_and_traces_the_pipeline(tmp_path):
    exe = Path(sys.executable).parent / "zega"
    with OtlpSink() as sink:
        env = {
            **os.environ,
            "ZEGA_DATA_DIR": str(tmp_path),
            "COLUMNS": "120",
            "ZEGA_OTLP_ENDPOINT": sink.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        result = subprocess.run([str(exe), "demo", "--quick"], env=env, capture_output=True, text=True, timeout=1400)
        time.sleep(1)
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

        threshold_spans = [s for s in sink.spans if s.service == "zega-collector" and "threshold.reached" in s.name]
        assert threshold_spans, sorted({(s.service, s.name) for s in sink.spans})
        chain = sink.services_in_trace(threshold_spans[0].trace_id)
        assert {"zega-gateway", "zega-collector", "zega-trainer", "zega-inference"} <= chain, chain
