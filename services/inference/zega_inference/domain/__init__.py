"""Batching, adapter choice and cache policy, free of I/O."""
