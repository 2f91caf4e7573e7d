"""Tests of training.train."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from healthtag.models.topic_model import TopicSummaryModel

from healthtag.text.article import Article


def test_training_writes_a_loadable_model(tiny_model_dir: Path):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "heads.safetensors", "MODEL_CARD.md", "eval.json"} <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["labels"][-1] == "non_health" and set(config["thresholds"]) == set(config["labels"])
    log = (tiny_model_dir.parent / "run" / "log.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in log]
    assert any("self_training_changed_fraction" in r for r in rows)
    assert any(r.get("dropped_targets", 0) > 0 for r in rows)          # loss filtering was active
    evaluation = json.loads((tiny_model_dir / "eval.json").read_text())
    assert {"rules", "weighted vote", "label model", "rule evidence", "network alone", "model"} <= set(evaluation["topics"])
    assert config["combination"]["rule_evidence"] == "graded_vote" and set(config["evidence_thresholds"]) == set(config["labels"])
    assert {"lead_n", "textrank", "model"} == set(evaluation["summaries"])
    model = TopicSummaryModel.load(tiny_model_dir)
    art = Article(id="a", source="t", start=0, end=0, title="义诊", sentences=["专家走进乡村开展义诊。", "群众纷纷点赞。"])
    out = model.run_network([art])
    assert out.doc.shape == (1, len(config["labels"])) and out.sentence[0].shape == (2,)
    assert np.all((out.doc >= 0) & (out.doc <= 1))
    card = (tiny_model_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "full_vote_mentions` = 3" in card and f"{evaluation['topics']['model']['micro_f1']:.3f}" in card
    # which gate targets general news got is part of "which labels it trained on"
    assert config["training"]["general_gate"] == {"targets": "label_model", "general_health_rate": None,
                                                  "finetune_targets": None}   # the tiny recipe tunes no layer
    assert "health-gate targets (`data.general_gate: label_model`): the label model's posterior." in card
