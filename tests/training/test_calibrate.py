"""Tests of training.calibrate."""
from __future__ import annotations

import numpy as np
import pytest
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


def test_repeated_cv_scores_every_fold_seed_out_of_fold():
    from healthtag.training.topic_eval import repeated_cv_f1

    rng = np.random.default_rng(0)
    gold = [{"a"} if i % 3 == 0 else ({"b"} if i % 3 == 1 else {"non_health"}) for i in range(30)]
    labels = ["a", "b", "non_health"]
    clean = np.array([[float(lab in g) * 0.8 + 0.1 for lab in labels] for g in gold])
    micro, macro = repeated_cv_f1(clean, gold, labels, ["a", "b"], seeds=4)
    assert micro.shape == macro.shape == (4,) and np.all(micro == 1.0) and np.all(macro == 1.0)
    noise = rng.random(clean.shape)            # scores that carry no label: out of fold, far from perfect
    micro, _ = repeated_cv_f1(noise, gold, labels, ["a", "b"], seeds=4)
    assert micro.mean() < 0.8 and micro.std() > 0.0


def test_thresholds_can_be_fitted_on_other_scores_than_the_ones_decided():
    gold = [{"a"} if i % 2 == 0 else {"non_health"} for i in range(20)]
    labels = ["a", "non_health"]
    # the reference path separates the classes at 0.5; the decided path is the same shifted down by 0.35
    reference = np.array([[0.8, 0.2] if "a" in g else [0.2, 0.8] for g in gold])
    shifted = reference - 0.35
    # thresholds fitted on the shifted scores themselves follow the shift and stay perfect ...
    assert cross_validated_sets(shifted, gold, labels, k=4) == gold
    # ... those fitted on the reference do not: the shift is what such an evaluation must show
    moved = cross_validated_sets(shifted, gold, labels, k=4, fit_probs=reference)
    assert moved != gold and all(m == set() or m == {"non_health"} for m in moved)


def test_extra_calibration_joins_every_topic_fit_but_never_the_gate():
    from healthtag.training.calibrate import ExtraCalibration, fit_thresholds, fitting_with

    labels = ["a", "non_health"]
    # dev alone: topic a's positives score 0.8, so any threshold up to 0.8 is perfect and 0.5 is chosen
    dev = np.array([[0.8, 0.1], [0.8, 0.1], [0.1, 0.1], [0.1, 0.9]])
    dev_sets = [{"a"}, {"a"}, set(), {"non_health"}]
    # the extra articles have positives of a at 0.3 and a general-news article at 0.3 on the gate column
    extra = ExtraCalibration(np.array([[0.3, 0.1], [0.3, 0.1], [0.05, 0.3]]), [{"a"}, {"a"}, set()])
    alone, joint = fit_thresholds(dev, dev_sets, labels), fitting_with(extra)(dev, dev_sets, labels)
    assert alone["a"] == 0.5 and joint["a"] <= 0.3          # the extra positives pull the topic's threshold down
    assert joint["non_health"] == alone["non_health"]         # the gate's threshold never reads them
    assert fitting_with(None) is fit_thresholds
    with pytest.raises(ValueError, match="2 score rows for 1 label sets"):
        ExtraCalibration(np.zeros((2, 2)), [set()])


def test_extra_calibration_is_in_every_fold_and_never_predicted():
    from healthtag.training.calibrate import ExtraCalibration

    labels = ["a", "non_health"]
    gold = [{"a"} if i % 2 == 0 else set() for i in range(10)]
    fitted = np.array([[0.6, 0.0] if g else [0.1, 0.0] for g in gold])   # dev alone: threshold 0.5 for a
    extra = ExtraCalibration(np.array([[0.35, 0.0]] * 3 + [[0.1, 0.0]] * 3), [{"a"}] * 3 + [set()] * 3)
    decided = fitted - np.array([0.2, 0.0])                               # a's positives now score 0.4
    plain = cross_validated_sets(decided, gold, labels, k=5, fit_probs=fitted)
    joined = cross_validated_sets(decided, gold, labels, k=5, fit_probs=fitted, extra=extra)
    assert plain == [set()] * 10                        # 0.4 is under every fold's dev-only threshold
    assert joined == gold                               # every fold's fit saw the extra positives at 0.35


def test_extra_calibration_joins_several_files_in_order():
    from healthtag.training.calibrate import ExtraCalibration

    joined = ExtraCalibration.joined([np.zeros((2, 2)), np.ones((1, 2))], [[{"a"}, set()], [{"non_health"}]])
    assert joined.probs.tolist() == [[0, 0], [0, 0], [1, 1]] and joined.sets == [{"a"}, set(), {"non_health"}]
    assert ExtraCalibration.joined([], []) is None
    with pytest.raises(ValueError, match="for 1 files, label sets for 0"):
        ExtraCalibration.joined([np.zeros((1, 2))], [])
