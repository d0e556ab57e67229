"""The lean LoRA training loop: bucketed batches, loss on completion tokens only, no per-step overhead."""
