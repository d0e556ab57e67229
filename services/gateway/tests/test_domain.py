"""The gateway's pure rules, without I/O."""

from __future__ import annotations

import pytest

from zega_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from zega_common.user_id import InvalidUserId
from zega_common.v1 import events_pb2
from zega_gateway.domain import adapters, finetune, ids, models, prompt, stats
from zega_gateway.domain.principal import ADMIN, Principal, bearer_token, is_admin_token, new_user_token, token_key
from zega_gateway.domain.ttl_cache import TtlCache


def test_prompt_is_style_hints_then_previous_stories_then_request():
    text = prompt.compose_prompt("Write a scene", "prefers dark fantasy", ["story one", "", "story two"])
    assert text == (
        "Style hints: prefers dark fantasy\n\n"
        "Previous stories:\n1. story one\n2. story two\n\n"
        "New request: Write a scene"
    )


def test_prompt_without_memory_is_the_request_itself():
    assert prompt.compose_prompt("Write a scene") == "Write a scene"


def test_recalled_stories_are_cut():
    text = prompt.compose_prompt("r", stories=["x" * 500], story_chars=100)
    assert "x" * 100 not in text and "x" * 99 + "…" in text


def test_persona_goes_first_unless_the_client_sent_a_system_message():
    assert prompt.chat_messages("hi", "You are terse.") == [("system", "You are terse."), ("user", "hi")]
    assert prompt.chat_messages("hi", "  ") == [("user", "hi")]
    own = [("system", "mine"), ("user", "hi")]
    assert prompt.with_persona(own, "persona") == own
    assert prompt.with_persona([("user", "hi")], "persona")[0] == ("system", "persona")


def test_a_user_reaches_only_their_own_data_and_the_admin_reaches_all():
    alice = Principal("alice")
    alice.check_access("alice")
    ADMIN.check_access("bob")
    with pytest.raises(PermissionDenied):
        alice.check_access("bob")
    with pytest.raises(PermissionDenied):
        alice.check_admin()
    with pytest.raises(InvalidUserId):
        ADMIN.check_access("../etc")


def test_user_tokens_are_found_by_user_and_hash_and_never_stored_in_clear():
    token = new_user_token("alice")
    key = token_key(token)
    assert key.startswith("alice.") and token.split(".")[-1] not in key
    assert token_key(new_user_token("alice")) != key
    for bad in ("", "zgu.", "zgu.alice.", "zgu.../x.s", "other.alice.secret", "zgu.al ice.s"):
        assert token_key(bad) is None


def test_admin_token_comparison():
    assert is_admin_token("secret", "secret")
    assert not is_admin_token("secret", "other")
    assert not is_admin_token("", "")


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None)],
)
def test_bearer_header(header, token):
    assert bearer_token(header) == token


def test_generation_ids_name_their_owner_and_rating_twice_gives_one_example():
    generation_id = ids.new_generation_id("alice")
    assert ids.generation_owner(generation_id) == "alice"
    assert ids.feedback_example_id(generation_id) == ids.feedback_example_id(generation_id)
    assert ids.feedback_example_id(generation_id) != ids.feedback_example_id(ids.new_generation_id("alice"))
    for bad in ("alice", "alice.xyz", "../x." + "0" * 32, ""):
        with pytest.raises(InvalidArgument):
            ids.generation_owner(bad)


def test_api_example_ids_follow_the_content_and_job_ids_the_agreed_shape():
    assert ids.api_example_id("a", "p", "c") == ids.api_example_id("a", "p", "c")
    assert ids.api_example_id("a", "p", "c") != ids.api_example_id("a", "p", "c2")
    job = ids.manual_job_id("alice")
    assert job.startswith("alice-m") and len(job) == len("alice-m") + 12


def test_stats_of_a_new_user_are_zeros_and_stored_fields_win():
    empty = stats.training_stats("alice", None, 50)
    assert empty["training_examples"] == 0 and empty["examples_until_next_training"] == 50
    stored = {"user_id": "x", "training_examples": 73, "quality_scores": {"average": 8.3}, "extra": 1}
    merged = stats.training_stats("alice", stored, 50)
    assert merged["user_id"] == "alice" and merged["training_examples"] == 73
    assert merged["quality_scores"] == {"average": 8.3, "highest": 0.0, "lowest": 0.0}
    assert "extra" not in merged
    assert stats.manual_threshold_index(73, 50) == 1


def test_trigger_outcome_from_the_job_events():
    ready = events_pb2.AdapterReady(
        job_id="j", model_name="zega-a", adapter_version=2, size_bytes=3 * 1024 * 1024, training_examples_used=43
    )
    outcome = finetune.outcome_of(ready, "j")
    assert outcome.status == "success" and outcome.model_size_mb == 3.0 and outcome.training_examples_used == 43
    assert finetune.outcome_of(ready, "other") is None
    state = events_pb2.TrainingState
    running = events_pb2.TrainingProgress(job_id="j", state=state.TRAINING_STATE_RUNNING)
    succeeded = events_pb2.TrainingProgress(job_id="j", state=state.TRAINING_STATE_SUCCEEDED)
    assert finetune.outcome_of(running, "j") is None and finetune.outcome_of(succeeded, "j") is None
    rejected = events_pb2.TrainingProgress(job_id="j", state=state.TRAINING_STATE_REJECTED, reason="too few")
    assert finetune.outcome_of(rejected, "j").status == "rejected"
    assert "too few" in finetune.outcome_of(rejected, "j").message


def test_rollback_target():
    assert adapters.rollback_target(3, 0, {1, 2, 3}) == 2
    assert adapters.rollback_target(3, 1, {1, 2, 3}) == 1
    with pytest.raises(FailedPrecondition):
        adapters.rollback_target(0, 0, set())
    with pytest.raises(FailedPrecondition):
        adapters.rollback_target(1, 0, {1})
    with pytest.raises(NotFound):
        adapters.rollback_target(2, 7, {1, 2})


def test_pointer_and_summary_from_a_manifest():
    manifest = {"adapter_version": 2, "sha256": "ab", "base_model": "smollm2", "metrics": {"train_loss": 1.5}}
    pointer = adapters.pointer_for("alice", manifest)
    assert pointer["object_name"] == "alice/v2" and pointer["adapter_version"] == 2 and pointer["sha256"] == "ab"
    line = adapters.summarize(manifest, current_version=2)
    assert line.current and line.train_loss == 1.5 and line.eval_loss_base == 0.0


def test_model_names():
    assert models.parse_model("base") == models.ModelChoice(None, "base")
    assert models.parse_model("zega-alice") == models.ModelChoice("alice", "auto")
    assert models.served_model("alice", 0) == "base" and models.served_model("alice", 2) == "zega-alice"
    with pytest.raises(NotFound):
        models.parse_model("gpt-4")
    with pytest.raises(InvalidArgument):
        models.parse_model("zega-../x")


def test_ttl_cache_expires_bounds_and_drops_a_users_entries():
    now = [0.0]
    cache = TtlCache(ttl_s=10, max_entries=2, clock=lambda: now[0])
    cache.put("alice.1", "a")
    cache.put("bob.1", "b")
    assert cache.get("alice.1") == "a"
    cache.put("carl.1", "c")
    assert cache.get("alice.1") is None and cache.get("bob.1") == "b"
    cache.drop_prefix("bob.")
    assert cache.get("bob.1") is None
    now[0] = 11
    assert cache.get("carl.1") is None
    off = TtlCache(ttl_s=0)
    off.put("k", "v")
    assert off.get("k") is None


def test_the_gateway_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, zega_gateway.main, zega_gateway.testing; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
