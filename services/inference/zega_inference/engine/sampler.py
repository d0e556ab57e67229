"""Next-token choice per row: greedy rows by one argmax, sampled rows by temperature and top-p with
their own seeded generator."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zega_inference.domain.request import Sampling


def make_generator(sampling: Sampling, device: torch.device) -> torch.Generator | None:
    if sampling.greedy:
        return None
    generator = torch.Generator(device=device)
    if sampling.seed:
        generator.manual_seed(sampling.seed)
    else:
        generator.seed()
    return generator


def sample(
    logits: torch.Tensor, samplings: Sequence[Sampling], generators: Sequence[torch.Generator | None]
) -> list[int]:
    """logits [rows, vocab] -> one token id per row."""
    chosen = logits.argmax(dim=-1)
    for i, (sampling, generator) in enumerate(zip(samplings, generators, strict=True)):
        if sampling.greedy:
            continue
        probs = torch.softmax(logits[i].float() / sampling.temperature, dim=-1)
        if sampling.top_p < 1.0:
            sorted_probs, order = probs.sort(descending=True)
            keep = sorted_probs.cumsum(-1) - sorted_probs < sampling.top_p
            keep[0] = True
            probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_probs[keep])
        chosen[i] = torch.multinomial(probs, 1, generator=generator)[0]
    return chosen.tolist()
