"""Tests of training.heads_training: reviewed labels are clean rows that self-training never replaces."""
from __future__ import annotations

import torch
from healthtag.training.config import HeadTrainingConfig
import pytest
from healthtag.models.multitask import MultiTaskHeads
from healthtag.training.heads_training import (
    TrainingData,
    contrastive_loss,
    next_round_targets,
    sure_rows,
    train_heads,
)


def weak_rows(n: int, dim: int = 8, labels: int = 3) -> TrainingData:
    torch.manual_seed(0)
    doc = torch.randn(n, dim)
    targets = (doc[:, :labels] > 0).float()
    sents = [torch.randn(2, dim) for _ in range(n)]
    return TrainingData(doc, targets, sents, [torch.zeros(2) for _ in range(n)],
                        [torch.zeros(2, 4) for _ in range(n)], [torch.zeros(2, dtype=torch.bool) for _ in range(n)])


def test_labelled_rows_are_clean_weighted_and_survive_self_training():
    features = {"doc_vec": torch.randn(4, 8).numpy(), "sent_vecs": [torch.randn(1, 8).numpy() for _ in range(4)]}
    reviewed = TrainingData.labelled(features, [["一句。"]] * 4, [{"a"}, {"non_health"}, set(), {"a", "b"}],
                                     ["a", "b", "non_health"], weight=3.0)
    assert reviewed.targets.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]]
    assert reviewed.clean.all() and torch.all(reviewed.weights == 3.0)
    data = weak_rows(60).concat(reviewed)
    assert len(data) == 64 and int(data.clean.sum()) == 4
    confident = torch.ones_like(data.targets)                 # the network is sure every label is on
    nxt = next_round_targets(data, confident, 0.9)
    assert torch.all(nxt[:60] == 1.0)                          # weak rows take the confident predictions
    assert torch.equal(nxt[60:], reviewed.targets)             # reviewed rows keep their own labels
    config = HeadTrainingConfig(epochs=2, batch_size=16, head_hidden=8, self_training_rounds=1, log_every=1)
    heads, log = train_heads(data, config)
    assert any("self_training_changed_fraction" in r for r in log.rounds)


def test_contrastive_term_pulls_same_label_sets_together_and_pushes_others_apart():
    labels = torch.tensor([[1, 0], [1, 0], [0, 1]], dtype=torch.bool)
    sure = torch.ones(3, dtype=torch.bool)
    apart = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])       # same sets together, the other orthogonal
    assert contrastive_loss(apart, labels, sure).item() == pytest.approx(0.0, abs=1e-6)
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])       # a same-set pair orthogonal, a different one equal
    assert contrastive_loss(mixed, labels, sure).item() == pytest.approx(2 / 3, abs=1e-6)
    assert contrastive_loss(mixed, labels, torch.tensor([True, False, False])) is None   # nothing to compare


def test_sure_rows_need_every_label_confident_and_always_include_reviewed_rows():
    data = weak_rows(3)
    data.clean[2] = True
    predicted = torch.tensor([[0.95, 0.02, 0.0], [0.95, 0.5, 0.0], [0.5, 0.5, 0.5]])
    assert sure_rows(data, predicted, 0.9).tolist() == [True, False, True]


def test_contrastive_weight_trains_a_different_head_and_leaves_the_default_path_alone():
    data = weak_rows(64)
    # a tiny head after two epochs is sure of few rows at 0.9; at 0.55 some rows are compared
    base = HeadTrainingConfig(epochs=2, batch_size=16, head_hidden=8, self_training_rounds=1, log_every=1,
                              self_training_confidence=0.55)
    plain, plain_log = train_heads(data, base)
    again, _ = train_heads(data, base)
    contrasted, log = train_heads(data, HeadTrainingConfig(**{**base.__dict__, "contrastive_weight": 1.0}))
    x = torch.randn(5, 8)
    assert torch.equal(plain.doc_logits(x), again.doc_logits(x))
    assert not torch.equal(plain.doc_logits(x), contrasted.doc_logits(x))
    assert any(r.get("sure_rows_fraction", 0) > 0 for r in log.rounds)
    assert any(r.get("contrastive", 0) > 0 for r in log.rounds if r.get("round") == 1)
    assert not any("contrastive" in r for r in plain_log.rounds)
    heads = MultiTaskHeads(8, 3, 8, 0.0).eval()
    assert torch.allclose(heads.doc_output(heads.doc_hidden(x)), heads.doc_logits(x))
    with pytest.raises(ValueError, match="contrastive_weight"):
        HeadTrainingConfig(contrastive_weight=-1.0)
