"""Prompt composition, token rules and request validation, free of I/O."""
