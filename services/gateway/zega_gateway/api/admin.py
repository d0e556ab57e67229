"""Admin operations."""

from __future__ import annotations

from fastapi import APIRouter

from zega_gateway.api.deps import Caller, Service
from zega_gateway.schemas import TokenIn, TokenOut

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/tokens", response_model=TokenOut)
async def issue_token(body: TokenIn, caller: Caller, service: Service) -> TokenOut:
    """A new bearer token for one user (admin token required); shown once, stored as its sha256."""
    return await service.issue_token(caller, body.user_id)
