"""zega-trainer: per-user LoRA jobs, published as versioned adapters."""
