"""gRPC servicer: a thin shell over Memory. Bad input raises InvalidArgument / InvalidUserId, which the
shared ErrorInterceptor answers as INVALID_ARGUMENT with the message."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from zega_common.errors import InvalidArgument
from zega_common.v1 import memory_pb2, memory_pb2_grpc
from zega_memory.domain.store import Fact
from zega_memory.domain.style import Share
from zega_memory.memory import Memory


def fact_message(fact: Fact) -> memory_pb2.Fact:
    value = struct_pb2.Value()
    json_format.ParseDict(fact.value, value)
    return memory_pb2.Fact(key=fact.key, value=value)


def share_messages(shares: list[Share]) -> list[memory_pb2.Share]:
    return [memory_pb2.Share(name=s.name, count=s.count, share=s.share) for s in shares]


class MemoryServicer(memory_pb2_grpc.MemoryServicer):
    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    async def Remember(self, request: memory_pb2.RememberRequest, context) -> memory_pb2.RememberResponse:
        done = await self.memory.remember(request.user_id, request.text, request.metadata, request.example_id)
        return memory_pb2.RememberResponse(example_id=done.example_id, truncated=done.truncated)

    async def Recall(self, request: memory_pb2.RecallRequest, context) -> memory_pb2.RecallResponse:
        found = await self.memory.recall(
            request.user_id, request.query, request.k, dict(request.filters), request.hybrid
        )
        return memory_pb2.RecallResponse(
            items=[
                memory_pb2.RecallItem(text=h.text, score=h.score, example_id=h.example_id, metadata=h.metadata)
                for h in found.hits
            ],
            facts=[fact_message(f) for f in found.facts],
        )

    async def StyleSummary(self, request: memory_pb2.StyleSummaryRequest, context) -> memory_pb2.StyleSummaryResponse:
        style = await self.memory.style(request.user_id)
        return memory_pb2.StyleSummaryResponse(
            summary=style.summary,
            genres=share_messages(style.genres),
            themes=share_messages(style.themes),
            avg_sentence_words=style.avg_sentence_words,
            descriptiveness=style.descriptiveness,
            dialogue_share=style.dialogue_share,
            vocabulary_richness=style.vocabulary_richness,
            items=style.items,
        )

    async def Forget(self, request: memory_pb2.ForgetRequest, context) -> memory_pb2.ForgetResponse:
        return memory_pb2.ForgetResponse(deleted=await self.memory.forget(request.user_id))

    async def LearnFact(self, request: memory_pb2.LearnFactRequest, context) -> memory_pb2.LearnFactResponse:
        if not request.HasField("fact") or not request.fact.HasField("value"):
            raise InvalidArgument("fact with a key and a value is required")
        value = json_format.MessageToDict(request.fact.value)
        await self.memory.learn_fact(request.user_id, request.fact.key, value)
        return memory_pb2.LearnFactResponse()

    async def ListFacts(self, request: memory_pb2.ListFactsRequest, context) -> memory_pb2.ListFactsResponse:
        facts = await self.memory.list_facts(request.user_id)
        return memory_pb2.ListFactsResponse(facts=[fact_message(f) for f in facts])

    async def DeleteFact(self, request: memory_pb2.DeleteFactRequest, context) -> memory_pb2.DeleteFactResponse:
        return memory_pb2.DeleteFactResponse(deleted=await self.memory.delete_fact(request.user_id, request.key))
