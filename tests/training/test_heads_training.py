"""Tests of training.heads_training: reviewed labels are clean rows that self-training never replaces."""
from __future__ import annotations

import torch
from healthtag.training.config import HeadTrainingConfig
from healthtag.training.heads_training import (
    TrainingData,
    next_round_targets,
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
