"""Tests of training.crossfit and of training with reviewed labels, on the tiny model's run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from healthtag.training.config import load_train_config
from healthtag.training.crossfit import GATES, _nested_scores, _reviewed, combination_variants, main
from healthtag.training.train import run
from support import FIXTURES


def test_reviewed_subsets_come_from_the_training_folds_only():
    train_idx = [0, 2, 3, 5, 8]
    assert _reviewed(train_idx, "0", 0) == []
    assert _reviewed(train_idx, "all", 0) == train_idx
    some = _reviewed(train_idx, "3", 1)
    assert len(some) == 3 and set(some) <= set(train_idx)


def test_nested_threshold_scores_never_come_from_heads_that_learned_that_articles_label():
    import numpy as np
    import torch

    calls: list[list[int]] = []

    class Marker(torch.nn.Module):
        """Heads whose scores say which training call made them (logit = call number)."""

        def __init__(self, call: int):
            super().__init__()
            self.call = call

        def doc_logits(self, doc):
            return torch.full((doc.shape[0], 1), float(self.call))

    def train(reviewed):
        calls.append(list(reviewed))
        return Marker(len(calls) - 1)

    train_idx, reviewed = [0, 1, 2, 4, 5, 7, 8, 9], [0, 2, 4, 5, 8]
    out = _nested_scores(np.full((10, 1), -1.0), torch.zeros(10, 3), train_idx, reviewed, 0, train)
    assert len(calls) == 2 and sorted(calls[0] + calls[1]) == reviewed      # each reviewed label used once
    for i in train_idx:
        call = int(round(float(np.log(out[i, 0] / (1 - out[i, 0])))))
        assert i not in calls[call]                                           # scored by heads blind to it
    assert (out[[3, 6]] == -1.0).all()                                        # held-out rows untouched


def test_crossfit_reports_out_of_fold_rows_with_spread(tiny_config_path: Path, tmp_path, capsys):
    out = tmp_path / "cv.json"
    main(["--config", str(tiny_config_path), "--seeds", "2", "--folds", "2", "--labelled", "0", "all",
          "--gate", str(FIXTURES / "gold_labels_small.jsonl"), "--epochs", "2", "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result) == {"0", "all"}
    for table in result.values():
        assert {"rules", "network alone", "model (max_rules_gate)", "model (max_network_gate)"} <= set(table)
        mean, spread = table["model (max_rules_gate)"]["micro_f1"]
        assert 0.0 <= mean <= 1.0 and spread >= 0.0
        assert "gate_accuracy" in table["model (max_network_gate)"]
        shipped = [row for name, row in table.items() if "margin_micro" in row]
        assert len(shipped) == 1                       # the configured combination carries the interval
        row = shipped[0]
        assert row["margin_micro_low"][0] <= row["margin_micro"][0] + 1e-4 <= row["margin_micro_high"][0] + 2e-4
        assert [s["margin_micro"] for s in row["per_seed"]] == pytest.approx(
            [s["micro_f1"] - r["micro_f1"] for s, r in zip(row["per_seed"], table["rules"]["per_seed"])], abs=2e-4)
    printed = capsys.readouterr().out
    assert "cross-fitted" in printed and "paired bootstrap over dev's articles" in printed


def test_training_with_reviewed_labels_records_them(tiny_config_path: Path, tmp_path):
    config = load_train_config(tiny_config_path)
    config.data.labelled = [str(FIXTURES / "gold_labels_small.jsonl")]
    config.data.gate_gold = str(FIXTURES / "gold_labels_small.jsonl")
    model = run(config, out=tmp_path / "m")
    saved = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert saved["training"]["reviewed_labels"][0]["file"] == "gold_labels_small.jsonl"
    from healthtag.training.evaluate import evaluate

    _, text = evaluate(FIXTURES / "gold_labels_small.jsonl", model)
    assert "IN-SAMPLE" in text
    assert saved["calibration"]["gate"] == "gold_labels_small.jsonl"
    assert saved["calibration"]["reviewed_out_of_fold"] is True        # calibration file = reviewed file
    assert "reviewed labels of" in (model / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_a_weighted_combination_is_compared_with_its_unweighted_twin():
    from healthtag.models.model_config import CombineSettings
    from healthtag.models.taxonomy import load_taxonomy

    tax = load_taxonomy(None)
    labels = [lab.id for lab in tax.all_labels]
    plain = combination_variants(CombineSettings("max_mean_gate"), tax, labels)
    assert list(plain) == list(GATES)
    weighted = combination_variants(CombineSettings("max_mean_gate", rules_alone_weight=0.75), tax, labels)
    assert list(weighted) == [*GATES, "max_mean_gate, rules_alone_weight 1"]
    assert all(weighted[g].combination.rules_alone_weight == 0.75 for g in GATES)
    twin = weighted["max_mean_gate, rules_alone_weight 1"].combination
    assert (twin.combine, twin.rules_alone_weight) == ("max_mean_gate", 1.0)


def test_training_and_crossfit_fit_topic_thresholds_on_the_extra_calibration_gold(tiny_config_path: Path, tmp_path,
                                                                                 monkeypatch):
    import healthtag.training.crossfit as crossfit_module
    from healthtag.training import calibrate as calibrate_module

    config = load_train_config(tiny_config_path)
    config.data.calibration_extra = [str(FIXTURES / "gold_seeds.jsonl")]
    model = run(config, out=tmp_path / "m")
    saved = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert saved["calibration"]["extra"][0]["file"] == "gold_seeds.jsonl"
    assert saved["calibration"]["extra"][0]["articles"] == 24
    # crossfit passes the extra articles into every fold's topic fit
    seen: list[int] = []
    original = calibrate_module.fitting_with

    def spied(extra, fit=None):
        seen.append(0 if extra is None else len(extra.sets))
        return original(extra, fit)

    monkeypatch.setattr(crossfit_module, "fitting_with", spied)
    path = tmp_path / "extra.yaml"
    raw = yaml.safe_load(tiny_config_path.read_text(encoding="utf-8"))
    raw["data"]["calibration_extra"] = [str(FIXTURES / "gold_seeds.jsonl")]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    main(["--config", str(path), "--seeds", "1", "--folds", "2", "--gate", str(FIXTURES / "gold_labels_small.jsonl"),
          "--epochs", "1"])
    assert seen and set(seen) == {24}
