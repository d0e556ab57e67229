"""schemathesis against the live gateway's OpenAPI schema, valid and invalid inputs, as the admin:
whatever it sends, the gateway answers without a 5xx.

schemathesis' pytest plugin (`from_fixture`) fails on this pytest (it reads Function._nodeid), so the
operations' Hypothesis strategies are driven directly."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from zega_gateway.testing import ADMIN_TOKEN, RunningGateway

EXAMPLES_PER_OPERATION = 20


@pytest.fixture(scope="module")
def gateway(loop_thread, backends, nats_server, tmp_path_factory):
    """Short trigger waits: a fuzzed ?wait=true must not hold the run for minutes."""
    running = RunningGateway(
        loop_thread,
        nats_server.url,
        tmp_path_factory.mktemp("fuzz"),
        inference_addr=backends.inference_addr,
        memory_addr=backends.memory_addr,
        trigger_wait_s=0.2,
        max_trigger_wait_s=0.2,
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(gateway):
    return schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")


def test_the_schema_covers_every_operation(api_schema):
    paths = {op.ok().path for op in api_schema.get_all_operations()}
    assert {"/predict", "/feedback", "/user/{user_id}/trigger-finetuning", "/v1/chat/completions"} <= paths


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_input_makes_a_server_error(api_schema, mode):
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            response = case.call(headers=headers, timeout=10)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        call()
    assert not failures, "\n".join(failures[:10])
