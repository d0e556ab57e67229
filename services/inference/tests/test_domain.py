"""Unit tests of the pure logic: adapter names, pointers, LRU policy, request checks, detokenizing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from zega_common.errors import InvalidArgument
from zega_common.user_id import InvalidUserId
from zega_inference.domain.adapter_cache import LruCache
from zega_inference.domain.adapter_ref import AdapterKey, AdapterMode, AdapterPointer, AdapterRef
from zega_inference.domain.detokenizer import IncrementalDetokenizer
from zega_inference.domain.request import Limits, spec_from_request

LIMITS = Limits(max_prompt_tokens=100, max_new_tokens=64, default_max_new_tokens=16)


def request(**fields):
    base = dict(
        user_id="alice", prompt="hi", messages=[], max_new_tokens=0, temperature=0.0, top_p=0.0, seed=0, adapter=""
    )
    base.update(fields)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(
    ("text", "mode", "version"),
    [
        ("", AdapterMode.AUTO, 0),
        ("auto", AdapterMode.AUTO, 0),
        ("base", AdapterMode.BASE, 0),
        ("v3", AdapterMode.VERSION, 3),
        ("V12", AdapterMode.VERSION, 12),
    ],
)
def test_adapter_ref_parses(text, mode, version):
    assert AdapterRef.parse(text) == AdapterRef(mode, version)


@pytest.mark.parametrize("text", ["v0", "v-1", "latest", "3", "v1.2"])
def test_adapter_ref_refuses(text):
    with pytest.raises(InvalidArgument, match="auto"):
        AdapterRef.parse(text)


def test_pointer_parses_and_refuses():
    good = {"adapter_version": 2, "object_name": "alice/v2", "sha256": "a" * 64, "base_model": "m"}
    assert AdapterPointer.from_json(json.dumps(good).encode()).version == 2
    for bad in [
        b"not json",
        b"[]",
        json.dumps({**good, "adapter_version": 0}).encode(),
        json.dumps({**good, "sha256": "xyz"}).encode(),
    ]:
        with pytest.raises(ValueError):
            AdapterPointer.from_json(bad)


def test_lru_evicts_by_count_then_bytes_and_calls_the_hook():
    evicted = []
    cache = LruCache(max_items=2, max_bytes=100, on_evict=lambda k, v, why: evicted.append((k, why)))
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3, 10)
    assert evicted == [("b", "capacity")]
    cache.put("d", 4, 95)
    assert evicted[-2:] == [("a", "capacity"), ("c", "capacity")]
    assert list(cache) == ["d"] and cache.total_bytes == 95
    assert not cache.put("huge", 5, 101) and "huge" not in cache
    cache.remove_where(lambda k: k == "d", reason="forget")
    assert evicted[-1] == ("d", "forget") and len(cache) == 0 and cache.total_bytes == 0


def test_adapter_key_names_its_objects():
    assert AdapterKey("alice", 3).object_prefix == "alice/v3"


def test_spec_defaults_and_prompt_as_user_message():
    spec = spec_from_request(request(), LIMITS)
    assert spec.max_new_tokens == 16 and spec.sampling.greedy and spec.sampling.top_p == 1.0
    assert spec.messages == (("user", "hi"),)


def test_messages_win_over_prompt():
    messages = [SimpleNamespace(role="system", content="be brief"), SimpleNamespace(role="User", content="hello")]
    spec = spec_from_request(request(messages=messages), LIMITS)
    assert spec.messages == (("system", "be brief"), ("user", "hello"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prompt": "  "}, "both empty"),
        ({"max_new_tokens": 65}, "max_new_tokens is 65"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"adapter": "latest"}, "adapter"),
        ({"messages": [SimpleNamespace(role="tool", content="x")]}, "role"),
        ({"messages": [SimpleNamespace(role="system", content="x")]}, "no user"),
        ({"prompt": "x" * 2000}, "longer than"),
    ],
)
def test_bad_requests_say_what_is_wrong(fields, message):
    with pytest.raises(InvalidArgument, match=message):
        spec_from_request(request(**fields), LIMITS)


def test_bad_user_id():
    with pytest.raises(InvalidUserId):
        spec_from_request(request(user_id="../etc"), LIMITS)


def test_detokenizer_deltas_add_up_to_the_text(tokenizer):
    text = "Héllo wörld — ünïcode 🙂 and spaces  twice."
    ids = tokenizer(text)["input_ids"]
    detok = IncrementalDetokenizer(lambda t: tokenizer.decode(t, skip_special_tokens=True))
    deltas = [detok.push([i]) for i in ids] + [detok.flush()]
    assert "".join(deltas) == tokenizer.decode(ids, skip_special_tokens=True)
    assert not any("\ufffd" in d for d in deltas)
