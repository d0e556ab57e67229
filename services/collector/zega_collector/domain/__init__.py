"""Counting and statistics rules, free of I/O."""
