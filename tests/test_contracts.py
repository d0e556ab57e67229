"""The generated Python code matches the .proto files (run `make proto` after editing them)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_up_to_date():
    result = subprocess.run([sys.executable, "proto/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_asyncapi_document_is_up_to_date():
    result = subprocess.run([sys.executable, "proto/asyncapi.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_gateway_and_collector_do_not_import_torch():
    code = "import sys, zega_gateway.main, zega_collector.main, zega_memory.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_zega_settings_lists_every_service_setting():
    exe = Path(sys.executable).parent / "zega"
    out = subprocess.run([str(exe), "settings"], capture_output=True, text=True, check=True).stdout
    for var in ("ZEGA_NATS_URL", "ZEGA_THRESHOLD", "ZEGA_BASE_MODEL", "ZEGA_MEMORY_BACKEND", "ZEGA_ADMIN_TOKEN"):
        assert f"`{var}`" in out
    for service in ("gateway", "collector", "trainer", "inference", "memory"):
        assert service in out
