"""Examples as the model's chat turns, with the prompt masked: the loss falls on the completion only.

The prompt part is the chat template up to the assistant header; the completion part is what the template
adds after it (the text and the end-of-turn token), so the boundary is exact for any template.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from zega_trainer.domain.examples import TrainingExample


@dataclass(frozen=True)
class Encoded:
    example_id: str
    input_ids: list[int]
    prompt_len: int
    """Tokens before the completion: no loss on input_ids[:prompt_len]."""
    weight: float

    @property
    def length(self) -> int:
        return len(self.input_ids)

    @property
    def target_tokens(self) -> int:
        return len(self.input_ids) - self.prompt_len


def prompt_messages(prompt: str, system: str = "") -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": prompt}]


def render(tokenizer: PreTrainedTokenizerBase, prompt: str, completion: str, system: str = "") -> tuple[str, str]:
    """(prompt text ending in the assistant header, completion text with the end-of-turn marker)."""
    messages = prompt_messages(prompt, system)
    if not tokenizer.chat_template:
        head = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant: "
        return head, completion + (tokenizer.eos_token or "")
    head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": completion}], tokenize=False)
    if not full.startswith(head):
        raise ValueError("the chat template renders the prompt differently with and without the answer")
    return head, full[len(head) :]


def encode(tokenizer: PreTrainedTokenizerBase, example: TrainingExample, system: str, max_len: int) -> Encoded:
    """Token ids of one example, cut to max_len: the completion keeps at least half, the prompt keeps its end."""
    head, tail = render(tokenizer, example.prompt, example.completion, system)
    prompt_ids = tokenizer(head, add_special_tokens=False).input_ids
    completion_ids = tokenizer(tail, add_special_tokens=False).input_ids
    if len(prompt_ids) + len(completion_ids) > max_len:
        keep_completion = min(len(completion_ids), max(max_len - len(prompt_ids), max_len // 2))
        completion_ids = completion_ids[:keep_completion]
        prompt_ids = prompt_ids[len(prompt_ids) - (max_len - keep_completion) :]
    return Encoded(example.example_id, prompt_ids + completion_ids, len(prompt_ids), example.weight)
