"""Per-user resources: training stats and triggers, examples, adapters, persona, erasure."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from zega_gateway.api.deps import Caller, Service, UserPath
from zega_gateway.schemas import (
    AdaptersOut,
    DeleteOut,
    ExampleIn,
    ExampleOut,
    PersonaIn,
    PersonaOut,
    RollbackIn,
    RollbackOut,
    TrainingStatsOut,
    TriggerOut,
)

router = APIRouter(prefix="/user/{user_id}", tags=["users"])


@router.get("/training-stats", response_model=TrainingStatsOut)
async def training_stats(user_id: UserPath, caller: Caller, service: Service) -> TrainingStatsOut:
    """Examples so far, the next training round, quality, genres, the custom model (zeros for a new user)."""
    return await service.training_stats(caller, user_id)


@router.post("/trigger-finetuning", response_model=TriggerOut)
async def trigger_finetuning(
    user_id: UserPath,
    caller: Caller,
    service: Service,
    response: Response,
    wait: bool = Query(False, description="Wait for the job's outcome instead of answering 'queued'."),
    timeout_s: float | None = Query(
        None, alias="timeout", gt=0, le=86400, description="Seconds to wait (capped by the server)."
    ),
) -> TriggerOut:
    """Start a fine-tuning job now (trigger manual); 202 while it is queued or still running."""
    result = await service.trigger_finetuning(caller, user_id, wait=wait, timeout_s=timeout_s)
    if result.status in ("queued", "timeout"):
        response.status_code = 202
    return result


@router.post("/examples", response_model=ExampleOut)
async def add_example(user_id: UserPath, body: ExampleIn, caller: Caller, service: Service) -> ExampleOut:
    """Add one of the user's own examples with its quality score (0-10)."""
    return await service.add_example(caller, user_id, body)


@router.get("/adapters", response_model=AdaptersOut)
async def list_adapters(user_id: UserPath, caller: Caller, service: Service) -> AdaptersOut:
    """The user's adapter versions with their metrics; `current` marks the one being served."""
    return await service.list_adapters(caller, user_id)


@router.post("/adapters/rollback", response_model=RollbackOut)
async def rollback(user_id: UserPath, caller: Caller, service: Service, body: RollbackIn | None = None) -> RollbackOut:
    """Serve another version (by default the one before the current one)."""
    return await service.rollback(caller, user_id, body or RollbackIn())


@router.delete("", response_model=DeleteOut)
async def delete_user(user_id: UserPath, caller: Caller, service: Service) -> DeleteOut:
    """Forget the user everywhere: examples, stats, adapters, memory, persona, tokens."""
    return await service.delete_user(caller, user_id)


@router.get("/persona", response_model=PersonaOut)
async def get_persona(user_id: UserPath, caller: Caller, service: Service) -> PersonaOut:
    return await service.get_persona(caller, user_id)


@router.put("/persona", response_model=PersonaOut)
async def set_persona(user_id: UserPath, body: PersonaIn, caller: Caller, service: Service) -> PersonaOut:
    """The system prompt of the user's generations (and of the Modelfile's SYSTEM)."""
    return await service.set_persona(caller, user_id, body)
