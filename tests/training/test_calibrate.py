"""Tests of training.calibrate."""
from __future__ import annotations

import numpy as np
from healthtag.training.calibrate import (
    best_threshold,
    cross_validated_sets,
    decide_labels,
)


def test_thresholds_cross_validated_predictions():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.9], [0.1, 0.8], [0.7, 0.3], [0.3, 0.7]])
    gold = [{"a"}, {"a"}, {"non_health"}, {"non_health"}, {"a"}, {"non_health"}]
    assert best_threshold(probs[:, 0], np.array(["a" in g for g in gold])) <= 0.7
    pred = cross_validated_sets(probs, gold, ["a", "non_health"], k=3)
    assert pred == gold
    assert decide_labels(probs[:1], ["a", "non_health"], {"a": 0.95}) == [set()]
