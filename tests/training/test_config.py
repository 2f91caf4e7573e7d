"""Tests of training.config: the shipped training YAML loads and bad keys are caught with their line."""
from __future__ import annotations

from pathlib import Path

import pytest
from healthtag.models.typed_config import ConfigError
from healthtag.training.config import TrainConfig, load_train_config

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


def test_default_config_loads_typed():
    cfg = load_train_config(CONFIG)
    assert isinstance(cfg, TrainConfig)
    assert cfg.encoder.num_layers == 7 and cfg.combination.combine == "max_mean_gate"
    assert cfg.combination.votes.full_vote_mentions == 3 and cfg.training.self_training_rounds == 1
    assert cfg.run_path == Path("runs/default")
    # the shipped gate recipe: pattern-Bayes gate targets for the heads only; the tuned layers and the fast path's
    # student learn the label model's own targets, so the three settings go together
    assert cfg.data.general_gate == "pattern_bayes" and cfg.finetune.targets == "label_model"
    assert cfg.distill.teacher_heads == "label_model"


def test_the_default_recipe_carries_the_three_keys_that_keep_training_under_an_hour():
    """Recipe H shipped (docs/rules/2026-12-07-ship-recipe-h.md): dropping one of its keys puts a from-scratch run on
    a 2-core AVX2-only CPU back above 60 minutes, so a config edit that loses one must fail here."""
    cfg = load_train_config(CONFIG)
    assert cfg.data.general_windows == 1
    assert cfg.finetune.general_once is True
    assert cfg.finetune.attention_dropout == 0.0


@pytest.mark.parametrize("old, new, message", [
    ("  epochs: 30", "  epoch: 30", "unknown key 'epoch'"),
    ("  dropout: 0.2", "  dropout: 1.5", "dropout must be in [0, 1)"),
    ("  num_layers: 7 ", "  num_layers: seven ", "encoder.num_layers"),
    ("  combine: max_mean_gate", "  combine: maxx", "combine must be one of"),
])
def test_mistakes_are_reported_with_file_and_line(tmp_path, old, new, message):
    text = CONFIG.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = next(i for i, x in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if x.startswith(new))
    with pytest.raises(ConfigError) as info:
        load_train_config(bad)
    assert message in str(info.value) and str(bad) in str(info.value)
    if "unknown" in message or "num_layers" in message:
        assert f"{bad}:{line}:" in str(info.value)


def test_general_news_is_capped_to_its_first_windows_only_on_request():
    from dataclasses import replace

    from healthtag.models.chunking import tokens_in_windows

    cfg = load_train_config(CONFIG)
    sources = ["corpus:health_news.jsonl", "inews:train", "peoples_daily_1998", "seeds/000.txt"]
    # unset: one cap for every article, so the feature and tuning caches keep their keys
    uncapped = replace(cfg, data=replace(cfg.data, general_windows=None))
    assert uncapped.token_caps(sources) == cfg.data.max_train_tokens == 1024
    capped = replace(cfg, data=replace(cfg.data, general_windows=1))
    one_window = tokens_in_windows(1, cfg.encoder.window, cfg.encoder.overlap)
    assert one_window == cfg.encoder.window - 2
    assert capped.token_caps(sources) == [1024, one_window, one_window, 1024]
    # a cap wider than max_train_tokens never lengthens an article
    wide = replace(cfg, data=replace(cfg.data, general_windows=9))
    assert wide.token_caps(sources)[1] == 1024


def test_general_windows_must_be_positive(tmp_path):
    text = CONFIG.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    assert "  general_windows: 1 " in text
    bad.write_text(text.replace("  general_windows: 1 ", "  general_windows: 0 ", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="general_windows must be >= 1"):
        load_train_config(bad)
