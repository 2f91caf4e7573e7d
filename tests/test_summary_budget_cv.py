"""The abstract-budget cross-validation (scripts/summary_budget_cv.py): out-of-fold choices, paired gains."""
from __future__ import annotations

import numpy as np
from support import load_script


def _script():
    return load_script("summary_budget_cv")


def _table(means: dict[int, float], n: int = 40, noise: float = 0.0, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {m: {"full": mu + noise * rng.standard_normal(n), "fast": mu - 0.01 + noise * rng.standard_normal(n)}
            for m, mu in means.items()}


def test_a_candidate_better_on_every_reference_is_chosen_in_every_fold_and_its_gain_is_paired():
    cv = _script()
    table = _table({60: 0.30, 80: 0.31, 100: 0.33, 120: 0.32, 140: 0.30})
    result = cv.cross_validated(table, current=60, seeds=3, folds=5)
    assert result["fold_choices"] == {100: 15}
    assert result["gain_full"]["mean"] == 0.03 and result["gain_full"]["sd"] == 0.0
    assert result["gain_fast"]["mean"] == 0.03


def test_no_real_difference_gives_no_gain_whatever_the_folds_choose():
    cv = _script()
    table = _table({m: 0.30 for m in (60, 80, 100, 120, 140)})
    result = cv.cross_validated(table, current=60, seeds=4, folds=5)
    assert result["fold_choices"] == {60: 20}           # ties go to the shortest budget, the current one here
    assert result["gain_full"]["mean"] == 0.0


def test_a_choice_fitted_to_noise_does_not_show_an_in_sample_gain_out_of_fold():
    """The point of the script: on pure noise the best candidate in sample looks better than the current one, but the
    out-of-fold gain over many fold seeds is about zero, not that in-sample gain."""
    cv = _script()
    table = _table({m: 0.30 for m in (60, 80, 100, 120, 140)}, n=93, noise=0.05, seed=3)
    in_sample = max(table[m]["full"].mean() for m in table) - table[60]["full"].mean()
    result = cv.cross_validated(table, current=60, seeds=10, folds=5)
    assert in_sample > 0
    assert result["gain_full"]["mean"] < in_sample
