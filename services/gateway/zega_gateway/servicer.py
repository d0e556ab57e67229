"""zega.v1.Gateway over gRPC: the same service layer as REST. Requests are validated by the same
pydantic models; auth comes from AuthInterceptor; errors are mapped by the shared ErrorInterceptor."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, ValidationError

from zega_common.codec import to_dict
from zega_common.errors import InvalidArgument
from zega_common.v1 import gateway_pb2, gateway_pb2_grpc
from zega_gateway.auth import grpc_principal
from zega_gateway.schemas import ExampleIn, FeedbackIn, PersonaIn, PredictIn, RollbackIn
from zega_gateway.service import GatewayService

B = TypeVar("B", bound=BaseModel)
P = TypeVar("P", bound=Message)


def parse(model: type[B], request: Message, drop: tuple[str, ...] = (), unset_if_zero: tuple[str, ...] = ()) -> B:
    """The request as the REST body model, validated by the same rules (INVALID_ARGUMENT otherwise).
    Fields in `unset_if_zero` take the model's default when the client left them at proto's zero."""
    values = {k: v for k, v in to_dict(request).items() if k not in drop}
    for name in unset_if_zero:
        if not values.get(name):
            values.pop(name, None)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidArgument(details) from None


def reply(model: BaseModel, cls: type[P]) -> P:
    values = {k: v for k, v in model.model_dump(mode="json").items() if v is not None}
    return json_format.ParseDict(values, cls(), ignore_unknown_fields=True)


class GatewayServicer(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, service: GatewayService) -> None:
        self.service = service

    async def Predict(self, request, context):
        body = parse(PredictIn, request, unset_if_zero=("max_tokens",))
        prediction = await self.service.predict(grpc_principal(), body)
        return reply(prediction.response, gateway_pb2.PredictResponse)

    async def GetTrainingStats(self, request, context):
        stats = await self.service.training_stats(grpc_principal(), request.user_id)
        return reply(stats, gateway_pb2.TrainingStats)

    async def TriggerFineTuning(self, request, context):
        result = await self.service.trigger_finetuning(
            grpc_principal(), request.user_id, wait=request.wait, timeout_s=request.timeout_seconds or None
        )
        return reply(result, gateway_pb2.TriggerFineTuningResponse)

    async def AddExample(self, request, context):
        body = parse(ExampleIn, request, drop=("user_id",))
        result = await self.service.add_example(grpc_principal(), request.user_id, body)
        return reply(result, gateway_pb2.AddExampleResponse)

    async def Feedback(self, request, context):
        result = await self.service.feedback(grpc_principal(), parse(FeedbackIn, request))
        return reply(result, gateway_pb2.FeedbackResponse)

    async def ListAdapters(self, request, context):
        result = await self.service.list_adapters(grpc_principal(), request.user_id)
        return reply(result, gateway_pb2.ListUserAdaptersResponse)

    async def RollbackAdapter(self, request, context):
        body = parse(RollbackIn, request, drop=("user_id",))
        result = await self.service.rollback(grpc_principal(), request.user_id, body)
        return reply(result, gateway_pb2.RollbackResponse)

    async def DeleteUser(self, request, context):
        result = await self.service.delete_user(grpc_principal(), request.user_id)
        return reply(result, gateway_pb2.DeleteUserResponse)

    async def SetPersona(self, request, context):
        body = parse(PersonaIn, request, drop=("user_id",))
        result = await self.service.set_persona(grpc_principal(), request.user_id, body)
        return reply(result, gateway_pb2.Persona)

    async def GetPersona(self, request, context):
        result = await self.service.get_persona(grpc_principal(), request.user_id)
        return reply(result, gateway_pb2.Persona)
