"""zega-inference: multi-LoRA generation over gRPC."""
