"""What every route depends on: the service layer, the authenticated caller, a valid user_id path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from zega_gateway.auth import rest_principal
from zega_gateway.domain.principal import Principal
from zega_gateway.schemas import UserId
from zega_gateway.service import GatewayService


async def _service(request: Request) -> GatewayService:
    return request.app.state.service  # async: FastAPI would run a plain def in its thread pool


Service = Annotated[GatewayService, Depends(_service)]
Caller = Annotated[Principal, Depends(rest_principal)]
UserPath = Annotated[UserId, Path(description="letters, digits, '_' and '-' (1-64), starting with a letter or digit")]
