"""Per-label decision thresholds from gold dev, and honest cross-validated figures for them.

Thresholds chosen on a set and scored on the same set flatter the model, so
:func:`cross_validated_sets` picks them on k-1 folds and predicts the held-out
fold; the dev figures reported come from those out-of-fold predictions. The
thresholds shipped with a model are then chosen on all of dev. Decisions go
through `healthtag.models.scoring.decide_matrix`, the rule serving uses.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from healthtag.models.evidence import DEFAULT_THRESHOLD
from healthtag.models.scoring import decide_matrix
from healthtag.models.taxonomy import NON_HEALTH
from sklearn.metrics import f1_score

GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def best_threshold(scores: np.ndarray, gold: np.ndarray, min_positives: int = 1) -> float:
    """Threshold maximising F1 for one label; ties go to the value nearest 0.5."""
    gold = np.asarray(gold, dtype=bool)
    if gold.sum() < min_positives:
        return DEFAULT_THRESHOLD
    order = sorted(GRID, key=lambda x: abs(x - 0.5))
    predicted = np.stack([np.asarray(scores) >= t for t in order], axis=1)        # [n, grid]
    f1s = f1_score(np.repeat(gold[:, None], len(order), axis=1), predicted, average=None, zero_division=0.0)
    best, best_f1 = DEFAULT_THRESHOLD, -1.0
    for t, f1 in zip(order, f1s):
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), float(f1)
    return best


def fit_thresholds(probs: np.ndarray, gold_sets: Sequence[set[str]], label_names: list[str]) -> dict[str, float]:
    """One threshold per output column (topics and non_health)."""
    out = {}
    for j, name in enumerate(label_names):
        gold = np.array([name in g for g in gold_sets])
        out[name] = best_threshold(probs[:, j], gold)
    return out


@dataclass
class ExtraCalibration:
    """Gold articles that every topic-threshold fit includes and no fold holds out.

    Why: dev has one to eight positives for most topics, so a threshold fitted on four
    fifths of it is noisy; labelled articles of the users' own kind (the seed pages)
    steady it. They are never cross-validated over, so dev's out-of-fold figures stay
    out of fold. ``probs`` are the scores the thresholds are fitted on (the full path's
    for a fast path, as for dev). The health gate's threshold never reads them.
    """

    probs: np.ndarray               # [articles x labels]
    sets: list[set[str]]            # their gold label sets

    def __post_init__(self) -> None:
        if len(self.probs) != len(self.sets):
            raise ValueError(f"extra calibration: {len(self.probs)} score rows for {len(self.sets)} label sets")

    @classmethod
    def joined(cls, probs: Sequence[np.ndarray], label_sets: Sequence[Sequence[set[str]]]) -> "ExtraCalibration | None":
        """One set from several files' score matrices and label sets (same order); None for no file."""
        if len(probs) != len(label_sets):
            raise ValueError(f"extra calibration: score matrices for {len(probs)} files, label sets for {len(label_sets)}")
        if not len(probs):
            return None
        return cls(np.vstack(list(probs)), [s for sets in label_sets for s in sets])


def fitting_with(extra: ExtraCalibration | None, fit=None):
    """``fit`` (default `fit_thresholds`) with ``extra``'s articles added to every topic's fit;
    ``non_health`` keeps the threshold fitted without them."""
    fit = fit or fit_thresholds
    if extra is None or not len(extra.sets):
        return fit

    def fit_with_extra(probs: np.ndarray, gold_sets: Sequence[set[str]], label_names: list[str]) -> dict[str, float]:
        alone = fit(probs, gold_sets, label_names)
        joint = fit(np.vstack([probs, extra.probs]), [*gold_sets, *extra.sets], label_names)
        return {name: alone[name] if name == NON_HEALTH else joint[name] for name in label_names}

    return fit_with_extra


def decide_labels(probs: np.ndarray, label_names: list[str], thresholds: dict[str, float]) -> list[set[str]]:
    """Label sets as gold writes them: {'non_health'} or the topics over threshold."""
    return [set(topics) if health else {NON_HEALTH} for health, topics in decide_matrix(probs, label_names, thresholds)]


def folds(n: int, k: int, seed: int = 0) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def cross_validated_sets(probs: np.ndarray, gold_sets: Sequence[set[str]], label_names: list[str],
                         k: int = 5, seed: int = 0, fit=None, fit_probs: np.ndarray | None = None,
                         extra: ExtraCalibration | None = None) -> list[set[str]]:
    """Out-of-fold predictions: each article decided by thresholds fitted without it.

    ``fit(probs, gold_sets, label_names) -> thresholds`` defaults to `fit_thresholds`; another
    threshold policy can be compared under exactly the same folds. ``fit_probs`` (same shape as
    ``probs``) are the scores thresholds are fitted on, where they are not the ones decided: a
    model's fast path ships the thresholds fitted on its full path's scores, so that is how
    its out-of-fold figures must be made too. ``extra`` joins every fold's topic fit
    (`fitting_with`), as it joins the shipped fit.
    """
    fit = fitting_with(extra, fit)
    fit_probs = probs if fit_probs is None else fit_probs
    pred: list[set[str] | None] = [None] * len(gold_sets)
    for held in folds(len(gold_sets), k, seed):
        held_set = set(held)
        train = [i for i in range(len(gold_sets)) if i not in held_set]
        thresholds = fit(fit_probs[train], [gold_sets[i] for i in train], label_names)
        for i, labels in zip(held, decide_labels(probs[held], label_names, thresholds)):
            pred[i] = labels
    return [p or set() for p in pred]


def gate_threshold(dev_scores: np.ndarray, dev_labels: list[set[str]], gate_scores: np.ndarray,
                   gate_labels: list[set[str]], labels: list[str]) -> float:
    """The non_health threshold fitted on dev and the gate set together (general news is what the gate is for)."""
    j = labels.index(NON_HEALTH)
    column = np.concatenate([dev_scores[:, j], gate_scores[:, j]])[:, None]
    gold = [{NON_HEALTH} if NON_HEALTH in g else set() for g in [*dev_labels, *gate_labels]]
    return fit_thresholds(column, gold, [NON_HEALTH])[NON_HEALTH]
