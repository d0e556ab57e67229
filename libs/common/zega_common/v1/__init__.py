"""Code generated from proto/zega/v1 by proto/generate.py. Do not edit."""
