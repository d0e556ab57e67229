"""Base-model loading shared by the trainer and inference (the only ZEGA packages that import torch)."""

from zega_model.device import pick_device
from zega_model.loader import BaseModel, load_base_model, tiny_llama

__all__ = ["BaseModel", "load_base_model", "pick_device", "tiny_llama"]
