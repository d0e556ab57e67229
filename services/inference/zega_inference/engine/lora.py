"""Batched LoRA: every row of a forward pass runs with its own adapter (S-LoRA / punica style).

The base model's linear layers are wrapped once. Before a forward pass the engine says which adapter
each row uses (`LoRABatch.use`); the wrapper adds `x @ A_row^T @ B_row^T * scaling` per row with two
batched matmuls over weights gathered once per batch membership (not once per step). Rows on the base
model gather zeros, so a base row in a mixed batch computes exactly what it computes alone.

Adapters are plain PEFT LoRA directories (adapter_config.json + adapter_model.safetensors); peft itself
is not in the forward path: its mixed-batch forward splits the batch per adapter, which costs a pass
per distinct adapter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

_PEFT_PREFIX = "base_model.model."
_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<part>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")


class UnusableAdapter(ValueError):
    """An adapter this engine cannot apply; the message is the fallback reason a client sees."""


@dataclass(frozen=True, eq=False)
class LoRAWeights:
    """One loaded adapter: per wrapped module, A [r, in] and scaled B [out, r], as PEFT stores them.
    Immutable and compared by identity, so in-flight rows keep the exact weights they started with."""

    name: str
    rank: int
    modules: Mapping[str, tuple[torch.Tensor, torch.Tensor]] = field(repr=False)
    size_bytes: int = 0


def _scaling(config: Mapping, module: str, rank: int) -> float:
    alpha = config.get("lora_alpha", 8)
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            alpha = value
            break
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def lora_from_peft(
    name: str,
    config: Mapping,
    state: Mapping[str, torch.Tensor],
    targets: Mapping[str, nn.Module],
    max_rank: int,
    device: torch.device,
    dtype: torch.dtype,
) -> LoRAWeights:
    """Check a PEFT LoRA state dict against the wrapped modules and turn it into LoRAWeights.
    Raises UnusableAdapter with the reason for anything this engine would apply wrongly."""
    peft_type = config.get("peft_type", "LORA")
    peft_type = str(getattr(peft_type, "value", peft_type))
    if peft_type.upper() != "LORA":
        raise UnusableAdapter(f"adapter type {peft_type!r} is not LoRA")
    for flag in ("use_dora", "lora_bias", "use_qalora"):
        if config.get(flag):
            raise UnusableAdapter(f"adapter uses {flag}, which this server does not apply")
    if config.get("modules_to_save") or config.get("trainable_token_indices"):
        raise UnusableAdapter("adapter carries full module weights (modules_to_save), which this server does not apply")
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        match = _KEY.match(key.removeprefix(_PEFT_PREFIX))
        if match is None:
            raise UnusableAdapter(f"adapter holds a tensor this server cannot apply: {key[:120]}")
        parts.setdefault(match["module"], {})[match["part"]] = tensor
    if not parts:
        raise UnusableAdapter("adapter holds no LoRA weights")
    _check_finite(parts)
    modules: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    size = 0
    rank = 0
    for module, ab in sorted(parts.items()):
        linear = targets.get(module)
        if linear is None:
            raise UnusableAdapter(f"adapter targets {module!r}, which is not a linear layer of this base model")
        if set(ab) != {"A", "B"}:
            raise UnusableAdapter(f"adapter module {module!r} lacks lora_A or lora_B")
        a, b = ab["A"], ab["B"]
        r = a.shape[0]
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != linear.in_features or b.shape != (linear.out_features, r):
            raise UnusableAdapter(
                f"adapter shapes of {module!r} (A {tuple(a.shape)}, B {tuple(b.shape)}) do not fit the base model"
            )
        if r > max_rank:
            raise UnusableAdapter(f"adapter rank {r} exceeds this server's limit of {max_rank}")
        # kept as stored (contiguous): stacking them for a batch is a plain copy, the products read them
        # transposed; stacking transposed views for 32 rows took 2.6x as long (121 vs 47 ms)
        a = a.to(device=device, dtype=dtype)
        b = (b.to(torch.float32) * _scaling(config, module, r)).to(device=device, dtype=dtype)
        modules[module] = (a, b)
        size += a.numel() * a.element_size() + b.numel() * b.element_size()
        rank = max(rank, r)
    return LoRAWeights(name=name, rank=rank, modules=modules, size_bytes=size)


def _check_finite(parts: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    """NaN or inf in a tensor makes its sum non-finite (so does a sum past 3e38, no sane adapter's). One
    sum per tensor: isfinite over every element took a third of an adapter's preparation time."""
    sums = {module: torch.stack([t.float().sum() for t in ab.values()]) for module, ab in parts.items()}
    if torch.isfinite(torch.cat(list(sums.values()))).all():
        return
    bad = next(module for module, s in sorted(sums.items()) if not torch.isfinite(s).all())
    raise UnusableAdapter(f"adapter weights of {bad!r} are not finite")


class _Gathered:
    """Per-module [rows, in, r] and [rows, r, out] stacks (transposed views) for one batch membership.
    One row's stacks are views of its own weights; more rows take one torch.stack per module (zeros
    where a row is on the base model or lacks the module, smaller ranks padded with zeros, which add
    nothing)."""

    def __init__(self, rows: Sequence[LoRAWeights | None], shapes: Mapping[str, tuple[int, int]]) -> None:
        self.rows = tuple(rows)
        self.stacks: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        present = [w for w in rows if w is not None]
        if not present:
            return
        if len(rows) == 1:
            self.stacks = {module: (a.t()[None], b.t()[None]) for module, (a, b) in present[0].modules.items()}
            return
        zeros: dict[tuple[int, ...], torch.Tensor] = {}
        for module in {m for w in present for m in w.modules}:
            rank = max(w.modules[module][0].shape[0] for w in present if module in w.modules)
            in_f, out_f = shapes[module]
            ref = next(w.modules[module][0] for w in present if module in w.modules)
            a_rows, b_rows = [], []
            for w in rows:
                if w is None or module not in w.modules:
                    for out, shape in ((a_rows, (rank, in_f)), (b_rows, (out_f, rank))):
                        if shape not in zeros:
                            zeros[shape] = torch.zeros(shape, dtype=ref.dtype, device=ref.device)
                        out.append(zeros[shape])
                    continue
                a, b = w.modules[module]
                missing = rank - a.shape[0]
                a_rows.append(torch.nn.functional.pad(a, (0, 0, 0, missing)) if missing else a)
                b_rows.append(torch.nn.functional.pad(b, (0, missing)) if missing else b)
            self.stacks[module] = (torch.stack(a_rows).transpose(1, 2), torch.stack(b_rows).transpose(1, 2))

    def matches(self, rows: Sequence[LoRAWeights | None]) -> bool:
        return len(rows) == len(self.rows) and all(x is y for x, y in zip(rows, self.rows, strict=True))


class LoRABatch:
    """Which adapter each row of the next forward pass uses. Owned by the engine thread."""

    def __init__(self, shapes: Mapping[str, tuple[int, int]], keep: int = 2) -> None:
        self._shapes = shapes
        self._keep = keep
        self._recent: list[_Gathered] = []
        self._current: _Gathered | None = None

    def use(self, rows: Sequence[LoRAWeights | None]) -> None:
        """Set the rows of the next forward pass; regathers only when the membership changed."""
        for gathered in self._recent:
            if gathered.matches(rows):
                self._current = gathered
                return
        self._current = _Gathered(rows, self._shapes)
        self._recent = [self._current, *self._recent][: self._keep]

    def clear(self) -> None:
        self._recent.clear()
        self._current = None

    def stacks(self, module: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None if self._current is None else self._current.stacks.get(module)


class BatchedLoRALinear(nn.Module):
    """A base linear layer (plain or packed) plus each row's LoRA product."""

    def __init__(self, base: nn.Linear, name: str, batch: LoRABatch) -> None:
        super().__init__()
        self.base: nn.Module = base
        self.in_features, self.out_features = base.in_features, base.out_features
        self.name = name
        self._batch = batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        stacks = self._batch.stacks(self.name)
        if stacks is None:
            return y
        a, b = stacks
        return torch.baddbmm(y, torch.bmm(x, a), b)


def install(
    model: nn.Module, target_names: Sequence[str] | None = None
) -> tuple[LoRABatch, dict[str, BatchedLoRALinear]]:
    """Wrap the decoder's linear layers (those whose last name is in target_names, or all inside the
    decoder layers) and return the batch selector plus the wrappers by PEFT module name."""
    targets: dict[str, nn.Linear] = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or ".layers." not in f".{name}":
            continue
        if target_names is None or name.rsplit(".", 1)[-1] in target_names:
            targets[name] = module
    batch = LoRABatch({name: (m.in_features, m.out_features) for name, m in targets.items()})
    wrappers = {name: BatchedLoRALinear(linear, name, batch) for name, linear in targets.items()}
    for name, wrapper in wrappers.items():
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, wrapper)
    return batch, wrappers
