"""The OpenAI-compatible API through the official `openai` Python client, plain and streaming."""

from __future__ import annotations

import openai
import pytest

from zega_gateway.testing import ADMIN_TOKEN


@pytest.fixture(scope="module")
def client(gateway, user_token) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_token("olga"), max_retries=0, timeout=10)


def test_chat_completion_with_the_users_model(client, backends, gateway):
    backends.inference.versions["olga"] = 2
    reply = client.chat.completions.create(
        model="zega-olga",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Write a haunted lighthouse"},
        ],
        max_tokens=32,
        temperature=0,
        seed=7,
    )
    assert reply.model == "zega-olga" and reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "[v2] Write a haunted lighthouse"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0
    sent = backends.inference.requests[-1]
    assert sent.adapter == "auto" and sent.user_id == "olga" and sent.max_new_tokens == 32 and sent.seed == 7
    assert [m.role for m in sent.messages] == ["system", "user"]


def test_streaming_chat_completion(client, backends):
    backends.inference.versions["olga"] = 2
    stream = client.chat.completions.create(
        model="zega-olga",
        messages=[{"role": "user", "content": "Write a storm at sea"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[v2] Write a storm at sea"
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_a_streamed_answer_can_be_rated(client, gateway, user_token):
    import httpx

    stream = client.chat.completions.create(model="base", messages=[{"role": "user", "content": "Write"}], stream=True)
    generation_id = next(iter(stream)).model_extra["generation_id"]
    list(stream)
    headers = {"Authorization": f"Bearer {client.api_key}"}
    reply = httpx.post(f"{gateway.url}/feedback", json={"generation_id": generation_id, "rating": 9}, headers=headers)
    assert reply.status_code == 200, reply.text


def test_base_model_and_persona(client, backends, gateway):
    import httpx

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    httpx.put(f"{gateway.url}/user/olga/persona", json={"system_prompt": "You are Poe."}, headers=headers)
    reply = client.chat.completions.create(model="base", messages=[{"role": "user", "content": "Write a raven"}])
    assert reply.choices[0].message.content == "[v0] Write a raven"
    sent = backends.inference.requests[-1]
    assert sent.adapter == "base" and sent.messages[0].role == "system" and sent.messages[0].content == "You are Poe."
    httpx.put(f"{gateway.url}/user/olga/persona", json={"system_prompt": ""}, headers=headers)


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["base", "zega-olga"]


def test_errors_reach_the_client_as_openai_errors(client, gateway):
    with pytest.raises(openai.PermissionDeniedError, match="another user"):
        client.chat.completions.create(model="zega-alice", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="base", messages=[{"role": "wizard", "content": "x"}])
    stranger = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0, timeout=10)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()
