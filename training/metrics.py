"""Precision, recall and F1 from match counts, computed by scikit-learn.

Segmentation (matched spans) and topic evaluation (per-label counts) both
reduce to (tp, fp, fn); one function turns those into the three figures, so
the project has a single definition of F1 and it is scikit-learn's.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_fscore_support


def prf_from_counts(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """(precision, recall, F1) of a binary decision with these counts; 0.0 where undefined."""
    if tp + fp + fn == 0:
        return 0.0, 0.0, 0.0
    y_true = np.concatenate([np.ones(tp), np.zeros(fp), np.ones(fn)]).astype(bool)
    y_pred = np.concatenate([np.ones(tp), np.ones(fp), np.zeros(fn)]).astype(bool)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0.0)
    return float(p), float(r), float(f)
