"""Where adapters come from (object store + KV pointers) and which ones stay resident."""
