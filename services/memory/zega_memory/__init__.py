"""zega-memory: per-user retrieval, style summary and facts over gRPC."""
