"""Tests of training.recalibrate: new thresholds for a finished model when only the combination changes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from healthtag.training.config import load_train_config
from healthtag.training.recalibrate import NeedsRetraining, run


def _config(tiny_config_path: Path, tmp_path: Path, model: Path, **combination) -> Path:
    raw = yaml.safe_load(tiny_config_path.read_text(encoding="utf-8"))
    raw["out"] = str(model)
    raw["combination"].update(combination)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_recalibrating_with_the_training_config_gives_the_training_thresholds(tiny_model_dir, tiny_config_path,
                                                                               tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    run(load_train_config(_config(tiny_config_path, tmp_path, model)))
    before = json.loads((tiny_model_dir / "config.json").read_text())
    after = json.loads((model / "config.json").read_text())
    for key in ("thresholds", "network_thresholds", "evidence_thresholds", "combination"):
        assert after[key] == before[key], key


def test_a_new_rule_weighting_gets_new_thresholds_and_keeps_the_heads(tiny_model_dir, tiny_config_path, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    run(load_train_config(_config(tiny_config_path, tmp_path, model, rules_alone_weight=0.5)))
    config = json.loads((model / "config.json").read_text())
    assert config["combination"]["rules_alone_weight"] == 0.5
    assert (model / "heads.safetensors").read_bytes() == (tiny_model_dir / "heads.safetensors").read_bytes()
    evaluation = json.loads((model / "eval.json").read_text())
    assert any("passing mentions scaled by 0.5 + 0.5 x the network's probability" in note for note in evaluation["notes"])
    card = (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"{evaluation['topics']['model']['micro_f1']:.3f}" in card
    assert not list(tmp_path.glob(".model.*"))      # the staging folder was swapped in, nothing left behind


def test_what_the_heads_learned_from_cannot_change_without_retraining(tiny_model_dir, tiny_config_path, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    with pytest.raises(NeedsRetraining, match="retrain"):
        run(load_train_config(_config(tiny_config_path, tmp_path, model, rule_evidence="weighted_vote")))
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_recalibrating_runs_the_network_once_per_article_and_reports_what_evaluate_reports(
        tiny_model_dir, tiny_config_path, tmp_path, monkeypatch):
    from healthtag.models.topic_model import TopicSummaryModel
    from healthtag.training.evaluate import evaluate

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    config = load_train_config(_config(tiny_config_path, tmp_path, model, rules_alone_weight=0.5))
    seen: list[str] = []
    original = TopicSummaryModel.run_network

    def counted(self, articles):
        seen.extend(a.id for a in articles)
        return original(self, articles)

    monkeypatch.setattr(TopicSummaryModel, "run_network", counted)
    run(config)
    assert seen and len(seen) == len(set(seen))       # calibration and the evaluation share one pass
    monkeypatch.setattr(TopicSummaryModel, "run_network", original)
    gate = Path(config.data.gate_gold) if config.data.gate_gold else None
    fresh, _ = evaluate(Path(config.data.calibration_gold), model, gate_path=gate, runtime="full")
    recorded = json.loads((model / "eval.json").read_text())
    assert recorded["topics"] == json.loads(json.dumps(fresh["topics"], ensure_ascii=False))


def test_network_scores_for_other_articles_are_refused(tiny_model_dir, tiny_config_path):
    from healthtag.training.evaluate import evaluate

    config = load_train_config(tiny_config_path)
    gold = Path(config.data.calibration_gold)
    scores: dict = {}
    evaluate(gold, tiny_model_dir, runtime="full", scores_out=scores)
    short = scores["gold"]
    short.votes = short.votes[:-1]
    with pytest.raises(ValueError, match="network scores passed in are for"):
        evaluate(gold, tiny_model_dir, runtime="full", network_scores={"gold": short})


def test_extra_calibration_gold_fits_the_topics_every_fold_and_is_reported(tiny_model_dir, tiny_config_path, tmp_path):
    from healthtag.training.evaluate import evaluate

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    extra = tmp_path / "seed_pages.jsonl"
    shutil.copy(Path(__file__).resolve().parents[1] / "fixtures" / "gold_seeds.jsonl", extra)
    path = _config(tiny_config_path, tmp_path, model)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"]["calibration_extra"] = [str(extra)]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load_train_config(path)
    run(config)
    after = json.loads((model / "config.json").read_text())
    before = json.loads((tiny_model_dir / "config.json").read_text())
    assert [e["file"] for e in after["calibration"]["extra"]] == ["seed_pages.jsonl"]
    assert after["thresholds"]["non_health"] == before["thresholds"]["non_health"]   # the gate's fit is dev's alone
    assert "seed_pages.jsonl" in (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    recorded = json.loads((model / "eval.json").read_text())
    assert any("also fitted on seed_pages.jsonl" in note for note in recorded["notes"])
    on_extra, _ = evaluate(extra, model, runtime="full")
    assert any(note.startswith("IN-SAMPLE for the topics") for note in on_extra["notes"])
    extra.unlink()                                      # gone: dev's folds are fitted without it, and it says so
    without, _ = evaluate(Path(config.data.calibration_gold), model, runtime="full")
    assert any("seed_pages.jsonl" in note and "not at" in note for note in without["notes"])


def test_a_file_cannot_be_both_reviewed_labels_and_extra_calibration(tiny_config_path, tmp_path):
    from healthtag.training.train import preflight

    raw = yaml.safe_load(tiny_config_path.read_text(encoding="utf-8"))
    gold = raw["data"]["calibration_gold"]
    raw["data"].update(labelled=[gold], calibration_extra=[gold])
    path = tmp_path / "both.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="both reviewed labels"):
        preflight(load_train_config(path))
