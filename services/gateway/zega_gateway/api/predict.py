"""POST /predict (the seed's generation) and POST /feedback (a rating becomes a training example)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from zega_gateway.api.deps import Caller, Service
from zega_gateway.schemas import ExampleOut, FeedbackIn, PredictIn, PredictOut

router = APIRouter(tags=["generation"])


@router.post("/predict", response_model=PredictOut)
async def predict(body: PredictIn, caller: Caller, service: Service, response: Response) -> PredictOut:
    """Style hints + previous stories + request, generated with the user's adapter."""
    prediction = await service.predict(caller, body)
    response.headers["Server-Timing"] = ", ".join(
        f"{name};dur={seconds * 1000:.3f}" for name, seconds in prediction.timings.spans.items()
    )
    return prediction.response


@router.post("/feedback", response_model=ExampleOut)
async def feedback(body: FeedbackIn, caller: Caller, service: Service) -> ExampleOut:
    """Rate a generation 0-10: it becomes a training example with that quality score."""
    return await service.feedback(caller, body)
