"""zega-gateway: REST, OpenAI-compatible and gRPC edge of ZEGA."""
