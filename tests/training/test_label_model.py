"""Tests of training.label_model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from healthtag.models.rules import RuleModel
from healthtag.models.taxonomy import load_taxonomy
from healthtag.training.label_model import BinaryDawidSkene, LabelModel
from support import art
from typer.testing import CliRunner

runner = CliRunner()


def test_dawid_skene_recovers_known_rule_accuracies():
    rng = np.random.default_rng(0)
    n, prior = 6000, 0.3
    y = rng.random(n) < prior
    fire_pos = np.array([0.8, 0.6, 0.5, 0.7])  # P(rule fires | y = 1)
    fire_neg = np.array([0.05, 0.10, 0.02, 0.20])  # P(rule fires | y = 0)
    p_fire = np.where(y[:, None], fire_pos[None, :], fire_neg[None, :])
    votes = (rng.random((n, 4)) < p_fire).astype(np.int8)
    true_acc = prior * fire_pos / (prior * fire_pos + (1 - prior) * fire_neg)
    init = np.clip(votes.mean(axis=1) * 1.5, 0, 1)  # a crude weighted vote
    model = BinaryDawidSkene().fit(votes, init)
    est = np.array([a["acc_pos"] for a in model.rule_accuracy()])
    assert np.all(np.abs(est - true_acc) < 0.1), (est, true_acc)
    assert abs(model.prior - prior) < 0.05


def test_label_model_fits_and_saves(mini: RuleModel, tmp_path: Path):
    texts = ["医院专家走进社区开展义诊，送医下乡，为群众看病。"] * 10 + ["供电公司检修线路，保障用电。"] * 10
    votes = [mini.apply(art(t)) for t in texts]
    lm = LabelModel(mini).fit(votes)
    probs = lm.predict_proba(votes)
    assert probs[0]["outreach_clinic"] > 0.5 and probs[-1]["non_health"] > 0.5
    lm.save(tmp_path / "lm.json")
    again = LabelModel.load(tmp_path / "lm.json", mini).predict_proba(votes)
    assert again[0]["outreach_clinic"] == pytest.approx(probs[0]["outreach_clinic"])


def test_shipped_label_model_matches_the_default_rules():
    from healthtag.resources import bundled_label_model

    LabelModel.load(bundled_label_model(), RuleModel(load_taxonomy()))
