"""Pure gateway logic without I/O: prompt composition, principals and tokens, identifiers, stats,
fine-tuning outcomes, adapter versions, model names."""
