"""Narrow a student's feed-forward blocks before distillation (``distill.ffn_size``).

On a CPU without native bf16 the fast path's time is the encoder's matrix
work, and two thirds of a layer's is its feed-forward block (384 → 1536 → 384
in e5-small). Keeping the layers but fewer of those neurons keeps the depth
that the sentence ranking needs while cutting the arithmetic. Which neurons
stay is decided from the teacher windows, not from labels: a neuron's
importance is how much it adds to the layer's output on real text, its mean
absolute activation times the norm of its output column. The pruned student
then distils as before, so what the dropped neurons did is relearned where it
matters to the heads.
"""
from __future__ import annotations

import numpy as np
import torch
from healthtag.models.tuned_layers import narrow_ffn
from torch import nn

from .window_rows import window_rows


def ffn_importance(encoder: nn.Module, ids: np.ndarray, lengths: np.ndarray, batch: int = 16) -> list[torch.Tensor]:
    """Per layer, each feed-forward neuron's mean |activation| × ‖output column‖ over the given windows' tokens."""
    layers = list(encoder.encoder.layer)
    sums = [torch.zeros(layer.intermediate.dense.out_features, dtype=torch.float64) for layer in layers]
    count = 0
    mask_now: list[torch.Tensor] = []

    def hook(index: int):
        def record(_module, _inputs, output):
            keep = mask_now[0].bool()
            sums[index] += output.float()[keep].abs().sum(0).double()
        return record

    handles = [layer.intermediate.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    try:
        with torch.inference_mode():
            for first in range(0, len(lengths), batch):
                input_ids, mask = window_rows(ids, lengths, slice(first, first + batch))
                mask_now[:] = [mask]
                encoder(input_ids=input_ids, attention_mask=mask)
                count += int(mask.sum())
    finally:
        for handle in handles:
            handle.remove()
    return [(s / max(count, 1)).float() * layer.output.dense.weight.detach().float().norm(dim=0)
            for s, layer in zip(sums, layers)]


def prune_ffn(layer: nn.Module, keep: torch.Tensor) -> None:
    """Keep only the feed-forward neurons ``keep`` (indices, in their original order) of one BERT layer."""
    keep = torch.sort(torch.as_tensor(keep, dtype=torch.long)).values
    w_in, b_in = layer.intermediate.dense.weight.detach(), layer.intermediate.dense.bias.detach()
    w_out = layer.output.dense.weight.detach()
    b_out = layer.output.dense.bias.detach()
    narrow_ffn(layer, len(keep))
    with torch.no_grad():
        layer.intermediate.dense.weight.copy_(w_in[keep])
        layer.intermediate.dense.bias.copy_(b_in[keep])
        layer.output.dense.weight.copy_(w_out[:, keep])
        layer.output.dense.bias.copy_(b_out)


def prune_student_ffn(student: nn.Module, ids: np.ndarray, lengths: np.ndarray, width: int) -> list[int]:
    """Narrow every layer of ``student`` to its ``width`` most important neurons; returns the widths before."""
    before = [layer.intermediate.dense.out_features for layer in student.encoder.layer]
    if any(width >= b for b in before):
        raise ValueError(f"distill.ffn_size {width} must be below the layers' feed-forward width {min(before)}")
    scores = ffn_importance(student, ids, lengths)
    for layer, score in zip(student.encoder.layer, scores):
        prune_ffn(layer, torch.topk(score, width).indices)
    return before
