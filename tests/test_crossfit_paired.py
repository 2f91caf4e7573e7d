"""scripts/crossfit_paired.py: differences are taken per fold seed, and mismatched runs are refused."""
from __future__ import annotations

import pytest
from support import load_script


def _script():
    return load_script("crossfit_paired")


def _run(micro: list[float]) -> dict:
    return {"model": {"per_seed": [{"micro_f1": m, "gate_accuracy": 0.9} for m in micro]}}


def test_the_difference_is_paired_per_seed_so_a_shared_seed_effect_cancels():
    paired = _script().paired
    # the seeds move both runs alike; the candidate is always 0.01 higher
    base, cand = _run([0.70, 0.74, 0.72]), _run([0.71, 0.75, 0.73])
    x, y, d, sd = paired(base, cand, "model")["micro_f1"]
    assert (round(x, 4), round(y, 4), round(d, 4)) == (0.72, 0.73, 0.01) and sd < 1e-9
    assert paired(base, cand, "model")["gate_accuracy"][2] == 0.0


def test_runs_with_different_seed_counts_are_refused():
    with pytest.raises(SystemExit, match="not the same fold seeds"):
        _script().paired(_run([0.7, 0.7]), _run([0.7]), "model")
