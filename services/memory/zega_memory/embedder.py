"""all-MiniLM-L6-v2 (or any sentence-transformers model) loaded offline, batched, off the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class Embedder:
    """Normalized float32 embeddings. `encode` is blocking (torch); `embed` runs it in a worker thread.
    One forward pass at a time: on a small CPU, concurrent passes only fight over the cores."""

    def __init__(self, model_dir: Path, *, device: str = "cpu", batch_size: int = 64, offline: bool = True) -> None:
        self.model_dir = model_dir
        self.device = device
        self.batch_size = batch_size
        self.offline = offline
        self._model = None
        self._lock = threading.Lock()

    def load(self) -> Embedder:
        if self._model is None:
            if self.offline:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_dir), device=self.device)
        return self

    @property
    def dim(self) -> int:
        self.load()
        return int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.encode, texts)
