"""Stored teacher windows (padded id arrays and their lengths) as encoder input.

The teacher pass, the student's training steps and the feed-forward pruning all read
rows of the same fixed-width arrays; cutting them to the batch's longest row keeps the
encoder from running over padding that no row needs.
"""
from __future__ import annotations

import numpy as np
import torch


def window_rows(ids: np.ndarray, lengths: np.ndarray, rows) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask of the windows ``rows``, as wide as the longest of them."""
    width = int(lengths[rows].max())
    input_ids = torch.from_numpy(np.asarray(ids[rows, :width], dtype=np.int64))
    mask = (torch.arange(width)[None, :] < torch.from_numpy(np.asarray(lengths[rows]))[:, None]).long()
    return input_ids, mask
