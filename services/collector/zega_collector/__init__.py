"""zega-collector: exactly-once counting toward the training threshold."""
