"""The model side: batched LoRA layers, the batch KV cache, sampling and the decoding thread."""
