"""zega.v1.Gateway over gRPC: the same operations, auth and validation as REST; health and reflection."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from zega_common.v1 import gateway_pb2, gateway_pb2_grpc
from zega_gateway.testing import ADMIN_TOKEN


@pytest.fixture
async def channel(gateway):
    async with grpc.aio.insecure_channel(gateway.grpc_addr) as channel:
        yield channel


def bearer(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),)


async def test_predict_and_feedback_over_grpc(channel, user_token, backends):
    stub = gateway_pb2_grpc.GatewayStub(channel)
    token = user_token("pia")
    backends.inference.versions["pia"] = 1
    reply = await stub.Predict(
        gateway_pb2.PredictRequest(user_id="pia", context="Write a scene", use_custom_model=True, use_memory=True),
        metadata=bearer(token),
        timeout=10,
    )
    assert reply.model == "zega-pia" and reply.adapter_version == 1 and reply.generation_id.startswith("pia.")
    assert backends.inference.requests[-1].max_new_tokens == 256
    rated = await stub.Feedback(
        gateway_pb2.FeedbackRequest(generation_id=reply.generation_id, rating=8), metadata=bearer(token), timeout=10
    )
    assert rated.example_id.startswith("fb-")
    stats = await stub.GetTrainingStats(gateway_pb2.TrainingStatsRequest(user_id="pia"), metadata=bearer(token))
    assert stats.user_id == "pia" and stats.examples_until_next_training == 50
    persona = await stub.SetPersona(
        gateway_pb2.SetPersonaRequest(user_id="pia", system_prompt="Be bold."), metadata=bearer(token)
    )
    assert persona.system_prompt == "Be bold."
    queued = await stub.TriggerFineTuning(gateway_pb2.TriggerFineTuningRequest(user_id="pia"), metadata=bearer(token))
    assert queued.status == "queued" and queued.job_id.startswith("pia-m")


async def test_grpc_auth_and_validation_codes(channel, user_token):
    stub = gateway_pb2_grpc.GatewayStub(channel)
    request = gateway_pb2.TrainingStatsRequest(user_id="quinn")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetTrainingStats(request, timeout=5)
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED and "Bearer" in missing.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await stub.GetTrainingStats(request, metadata=bearer(user_token("rita")), timeout=5)
    assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = bearer(ADMIN_TOKEN)
    with pytest.raises(grpc.aio.AioRpcError) as bad_user:
        await stub.GetTrainingStats(gateway_pb2.TrainingStatsRequest(user_id="../x"), metadata=admin, timeout=5)
    assert bad_user.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "user_id" in bad_user.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as bad_score:
        await stub.AddExample(
            gateway_pb2.AddExampleRequest(user_id="quinn", prompt="p", completion="c", quality_score=12),
            metadata=admin,
            timeout=5,
        )
    assert bad_score.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "quality_score" in bad_score.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await stub.Predict(gateway_pb2.PredictRequest(user_id="quinn", context=" "), metadata=admin, timeout=5)
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "context" in empty.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as no_adapter:
        await stub.RollbackAdapter(gateway_pb2.RollbackRequest(user_id="quinn"), metadata=admin, timeout=5)
    assert no_adapter.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_health_and_reflection_need_no_token(channel):
    health = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="zega.v1.Gateway"), timeout=5
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = [s.name async for r in responses for s in r.list_services_response.service]
    assert "zega.v1.Gateway" in names
