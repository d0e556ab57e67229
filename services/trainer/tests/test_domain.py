"""Pure rules: filtering, weighting, masking, splitting, bucketing, the gate, job records, Modelfile."""

from __future__ import annotations

import random

import pytest

from zega_common.v1 import events_pb2
from zega_trainer.domain import modelfile
from zega_trainer.domain.bucketing import make_batches, padding_share
from zega_trainer.domain.chat import encode, render
from zega_trainer.domain.dataset import TooFewExamples, build
from zega_trainer.domain.examples import TrainingExample, select
from zega_trainer.domain.gate import decide
from zega_trainer.domain.jobs import JobRecord, State, covering, job_id_of, retry_delay
from zega_trainer.domain.split import split
from zega_trainer.domain.weighting import weight_for


def collected(i: int, score: float = 8.0, example_id: str | None = None) -> events_pb2.ExampleCollected:
    return events_pb2.ExampleCollected(
        example_id=example_id or f"ex{i}",
        user_id="u",
        prompt=f"prompt {i}",
        completion=f"story {i}",
        quality_score=score,
    )


@pytest.mark.parametrize(
    ("score", "weight"), [(10.0, 2.0), (9.0, 2.0), (8.9, 1.5), (8.0, 1.5), (7.9, 1.0), (7.0, 1.0), (6.0, 1.0)]
)
def test_weights_follow_the_seed(score, weight):
    assert weight_for(score) == weight


def test_select_dedups_by_example_id_and_drops_low_scores():
    chosen = select([collected(1, 9.5), collected(2, 6.9), collected(1, 9.5), collected(3, 7.0)], min_quality=7.0)
    assert [ex.example_id for ex in chosen.examples] == ["ex1", "ex3"]
    assert [ex.weight for ex in chosen.examples] == [2.0, 1.0]
    assert (chosen.duplicates, chosen.below_quality) == (1, 1)


def test_too_few_usable_examples_is_a_clear_refusal():
    with pytest.raises(TooFewExamples, match=r"3 usable examples .*5 below it.*at least 10"):
        build(
            [collected(i, 9.0 if i < 3 else 5.0) for i in range(8)],
            min_quality=7.0,
            min_examples=10,
            eval_fraction=0.1,
            min_eval=2,
        )


def test_split_is_deterministic_stable_and_holds_out_at_least_two():
    items = [f"ex{i}" for i in range(50)]
    train, held = split(items, str, 0.1, 2)
    assert len(held) >= 2 and sorted(train + held) == sorted(items) and not set(train) & set(held)
    assert split(list(reversed(items)), str, 0.1, 2)[1] == list(reversed(held))
    _, held_more = split(items + [f"ex{i}" for i in range(50, 200)], str, 0.1, 2)
    hashed = [x for x in held if x in held_more]
    assert len(hashed) >= len(held) - 2  # hash-selected examples stay held out as data grows
    assert len(split(items[:5], str, 0.1, 2)[1]) == 2


def test_bucketing_respects_the_budget_covers_every_row_and_wastes_little():
    rng = random.Random(0)
    lengths = [rng.randint(40, 400) for _ in range(200)]
    batches = make_batches(lengths, 2048, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(200))
    assert all(len(b) * max(lengths[i] for i in b) <= 2048 for b in batches)
    assert padding_share(batches, lengths) < 0.05
    naive = [list(range(i, i + 8)) for i in range(0, 200, 8)]
    assert padding_share(naive, lengths) > 0.3
    assert make_batches(lengths, 2048, random.Random(1)) == batches


def test_a_row_longer_than_the_budget_goes_alone():
    assert sorted(map(len, make_batches([10, 10, 500], 100, random.Random(0)))) == [1, 2]


def test_masking_puts_the_loss_on_the_completion_only(tokenizer):
    ex = TrainingExample("e1", "Write about the sea", "The sea was grey.", 9.0, 2.0)
    head, tail = render(tokenizer, ex.prompt, ex.completion, "You are terse.")
    assert head.endswith("<|im_start|>assistant\n") and "You are terse." in head and "Write about the sea" in head
    assert tail.startswith("The sea was grey.") and "<|im_end|>" in tail
    enc = encode(tokenizer, ex, "You are terse.", 512)
    assert tokenizer.decode(enc.input_ids[: enc.prompt_len]) == head
    assert tokenizer.decode(enc.input_ids[enc.prompt_len :]) == tail
    assert enc.weight == 2.0


def test_truncation_keeps_the_prompts_end_and_the_completions_start(tokenizer):
    ex = TrainingExample("e1", "word " * 400, "tale " * 400, 8.0, 1.5)
    enc = encode(tokenizer, ex, "", 128)
    assert enc.length == 128 and enc.target_tokens == 64
    assert tokenizer.decode(enc.input_ids[: enc.prompt_len]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(enc.input_ids[enc.prompt_len :]).startswith("tale tale")


def test_gate_compares_with_the_previous_adapter_or_the_base():
    assert decide(3.0, None, 2.5, 0.0).publish
    assert not decide(3.0, None, 3.0, 0.0).publish
    assert decide(3.0, 2.4, 2.3, 0.05).publish
    verdict = decide(3.0, 2.4, 2.38, 0.05)
    assert not verdict.publish and "previous adapter" in verdict.reason


def test_covering_jobs_and_backoff():
    done = JobRecord("u-t1", "u", 1, State.SUCCEEDED, examples_seq=50, adapter_version=1)
    live = JobRecord("u-t2", "u", 2, State.RUNNING, examples_seq=80, heartbeat=1000.0)
    failed = JobRecord("u-t3", "u", 3, State.FAILED, examples_seq=90)
    assert covering([done], 50, 2000.0, 180, "u-t4") is done
    assert covering([done], 51, 2000.0, 180, "u-t4") is None
    assert covering([live], 80, 1100.0, 180, "u-t4") is live
    assert covering([live], 80, 1200.0, 180, "u-t4") is None  # its owner stopped beating: not covering
    assert covering([failed], 10, 2000.0, 180, "u-t4") is None
    assert covering([done], 10, 2000.0, 180, "u-t1") is None
    assert [retry_delay(n, 10) for n in (1, 2, 3)] == [10, 20, 40]
    assert JobRecord.from_bytes(live.to_bytes()) == live


def test_job_id_falls_back_to_the_collectors_convention():
    assert job_id_of(events_pb2.ThresholdReached(user_id="u", threshold_index=2, job_id="u-t2")) == "u-t2"
    assert job_id_of(events_pb2.ThresholdReached(user_id="u", threshold_index=2, job_id="bad id!")) == "u-t2"
    assert job_id_of(events_pb2.ThresholdReached(user_id="u", threshold_index=3)) == "u-t3"


def test_modelfile_has_base_adapter_system_and_parameters():
    examples = [
        TrainingExample(f"e{i}", "p", "c", 8.0, 1.5, {"genre": "dark_fantasy", "theme": "loss" if i else "war"})
        for i in range(3)
    ]
    style = modelfile.style_from_examples(examples)
    assert style == "Write in this user's style (genres: dark fantasy; themes: loss, war)."
    text = modelfile.render("smollm2:135m-instruct", modelfile.system_prompt("You are Mara.", style), "alice", 3)
    lines = text.splitlines()
    assert "FROM smollm2:135m-instruct" in lines and "ADAPTER ." in lines
    assert 'SYSTEM """You are Mara.' in text and "PARAMETER repeat_penalty 1.1" in lines
