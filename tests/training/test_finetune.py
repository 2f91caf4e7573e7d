"""Tests of training.finetune: the split encoder equals the whole one, and tuned layers ship and serve."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from healthtag.models.encoder_settings import EncoderSettings
from healthtag.models.runtime import build_article_encoder
from healthtag.models.tuned_layers import TunedLayersError, apply_tuned_layers, save_tuned_layers
from healthtag.training.features import cache_key, extract_features, features_path
from healthtag.training.finetune import (
    FinetuneConfig,
    finetune_top,
    lower_states,
    pooled_features,
    top_layers,
)

TITLES = ["县医院开展义诊", "家庭医生签约服务", "中医药传承创新"]
SENTENCES = [["专家走进乡村开展义诊活动。", "群众在家门口看上专家门诊。"] * 6,
             ["社区卫生服务中心推进家庭医生签约。"],
             ["中医院开展中医药文化宣传。", "针灸推拿受到欢迎。", "传承创新发展中医药。"] * 4]


def _settings(encoder_dir: Path, precision: str = "fp32") -> EncoderSettings:
    return EncoderSettings(spec=str(encoder_dir), num_layers=2, precision=precision, window=24, overlap=4)


def _vectors(ds) -> np.ndarray:
    return np.asarray(ds["doc_vec"], dtype=np.float32)


def test_stored_lower_states_through_the_base_top_layer_give_the_whole_encoders_vectors(tiny_encoder_dir, tmp_path):
    settings = _settings(tiny_encoder_dir)
    store, tokens = lower_states(TITLES, SENTENCES, settings, 1, None, tmp_path / "ft")
    assert len(store.first_window) == len(TITLES) + 1 and store.first_window[-1] > len(TITLES)   # several windows
    split = pooled_features(store, tokens, top_layers(settings, 1), settings)
    whole = extract_features(TITLES, SENTENCES, settings)
    np.testing.assert_allclose(_vectors(split), _vectors(whole), atol=2e-3)
    for a, b in zip(split["sent_vecs"], whole["sent_vecs"]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-3)
    assert split["sent_tokens"] == whole["sent_tokens"]


def test_finetuning_moves_the_top_layer_and_lowers_the_loss(tiny_encoder_dir, tmp_path):
    settings = _settings(tiny_encoder_dir)
    store, _ = lower_states(TITLES * 4, SENTENCES * 4, settings, 1, None, tmp_path / "ft")
    targets = np.tile(np.eye(3, dtype=np.float32), (4, 1))
    base = top_layers(settings, 1)
    before = [p.detach().clone() for p in base.parameters()]
    tuned, history = finetune_top(store, targets, np.ones(12, dtype=np.float32), top_layers(settings, 1),
                                  FinetuneConfig(layers=1, epochs=6, lr=1e-3, head_lr=1e-2, batch_windows=4), False)
    assert history[-1]["loss"] < history[0]["loss"]
    assert any(not torch.equal(a, b) for a, b in zip(before, tuned.parameters()))


def test_tuned_layers_file_is_checked_against_the_encoder(tiny_encoder_dir, tmp_path):
    _, encoder = build_article_encoder(_settings(tiny_encoder_dir))
    model = encoder.model
    path = tmp_path / "tuned.safetensors"
    with torch.no_grad():
        model.encoder.layer[1].output.dense.weight.add_(1.0)
    save_tuned_layers(model, [1], path)
    _, fresh = build_article_encoder(_settings(tiny_encoder_dir))
    assert apply_tuned_layers(fresh.model, path) == [1]
    assert torch.equal(fresh.model.encoder.layer[1].output.dense.weight, model.encoder.layer[1].output.dense.weight)
    _, cut = build_article_encoder(replace(_settings(tiny_encoder_dir), num_layers=1))
    with pytest.raises(TunedLayersError, match="names no layer"):
        apply_tuned_layers(cut.model, path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(TunedLayersError, match="readable"):
        apply_tuned_layers(fresh.model, tmp_path / "junk.safetensors")
    with pytest.raises(TunedLayersError, match="missing"):
        apply_tuned_layers(fresh.model, tmp_path / "absent.safetensors")


def test_a_finetuned_model_ships_its_layers_and_serves_the_vectors_it_was_trained_on(tiny_encoder_dir, tmp_path):
    import yaml
    from healthtag.models.topic_model import TopicSummaryModel
    from healthtag.training.config import load_train_config
    from healthtag.training.train import run

    config = {
        "name": "tiny-ft", "out": str(tmp_path / "model"), "run_dir": str(tmp_path / "run"),
        "encoder": {"spec": str(tiny_encoder_dir), "kept_vocab": None, "precision": "bf16", "num_layers": 2,
                    "window": 64, "overlap": 8},
        "data": {"no_inews": True, "max_train_tokens": 256,
                 "calibration_gold": str(FIXTURES / "gold_labels_small.jsonl")},
        "training": {"epochs": 2, "batch_size": 8},
        "finetune": {"layers": 1, "epochs": 1, "batch_windows": 8},
        "combination": {"combine": "max_rules_gate", "rule_evidence": "graded_vote"},
    }
    path = tmp_path / "ft.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = run(load_train_config(path))
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert saved["encoder"]["tuned_layers"] == "tuned_layers.safetensors"
    assert (out / "tuned_layers.safetensors").exists()
    assert "finetune" in saved["training"] and saved["training"]["finetune"]["history"]
    model = TopicSummaryModel.load(out)
    base = TopicSummaryModel.load(out)
    _, base.encoder = build_article_encoder(replace(model.settings, tuned_layers=None))
    tokens = [model.tokenize(t, s) for t, s in zip(TITLES, SENTENCES)]
    with torch.inference_mode():
        served = torch.stack([p.doc for p in model.encoder.encode(tokens)])
        untuned = torch.stack([p.doc for p in base.encoder.encode(tokens)])
    assert not torch.allclose(served, untuned, atol=1e-4)      # the tuned layer is what serves
    # the pool's cached vectors (stored lower states → tuned layer) equal the served encoder's on the same text
    from datasets import load_from_disk
    weak = load_from_disk(str(tmp_path / "run" / "weak" / "dataset"))
    cached = extract_features(weak["title"][:5], weak["sentences"][:5], model.settings, max_tokens=256)
    key = cache_key(model.settings, (-1,), 256, weak["title"], weak["sentences"])
    assert (tmp_path / "run" / "features" / f"features-{key}" / "dataset_info.json").exists()   # written by finetune
    full = extract_features(weak["title"], weak["sentences"], model.settings, max_tokens=256,
                            cache_dir=tmp_path / "run" / "features")
    np.testing.assert_allclose(_vectors(full)[:5], _vectors(cached), atol=3e-2)
    # a second run of the same recipe reuses the tuned layers and their vectors without a pass over the pool
    import shutil

    from healthtag.training.finetune import run_finetune
    cfg = load_train_config(path)
    for lower in (tmp_path / "run" / "finetune").glob("lower-*"):
        shutil.rmtree(lower)
    again = run_finetune(weak, cfg.encoder, cfg.finetune, 256, tmp_path / "run")
    assert again.reused and again.history == saved["training"]["finetune"]["history"]
    # finetune.targets names a column, not a recipe: equal targets reuse the same tuning
    from healthtag.training.finetune import target_column
    own = replace(cfg.finetune, targets="label_model")
    assert target_column(own, weak) == "soft_labels"          # no separate column: the heads' targets are its own
    same = run_finetune(weak, cfg.encoder, own, 256, tmp_path / "run")
    assert same.reused and same.settings.tuned_layers == again.settings.tuned_layers
    assert not list((tmp_path / "run" / "finetune").glob("lower-*"))
    # the frozen encoder's vectors are pooled only on request, from the same tuning (no second tuning)
    frozen = features_path(tmp_path / "run" / "features", cfg.encoder, (-1,), 256, weak["title"], weak["sentences"])
    assert not frozen.exists()
    asked = run_finetune(weak, cfg.encoder, replace(cfg.finetune, frozen_vectors=True), 256, tmp_path / "run")
    assert asked.reused and asked.settings.tuned_layers == again.settings.tuned_layers
    assert (frozen / "dataset_info.json").exists()
    np.testing.assert_allclose(_vectors(load_from_disk(str(frozen)))[:5],
                               _vectors(extract_features(weak["title"][:5], weak["sentences"][:5],
                                                         replace(model.settings, tuned_layers=None),
                                                         max_tokens=256)), atol=3e-2)


def test_the_tuning_cache_key_keeps_its_fields_unless_a_new_one_is_set():
    """Runs tuned before attention_dropout and frozen_vectors existed keep their cached tuning."""
    base = FinetuneConfig(layers=2)
    assert set(base.recipe_fields()) == {"layers", "epochs", "lr", "head_lr", "batch_windows", "train_windows",
                                         "warmup", "seed"}
    assert FinetuneConfig(layers=2, frozen_vectors=True).recipe_fields() == base.recipe_fields()
    assert FinetuneConfig(layers=2, attention_dropout=0.0).recipe_fields() == {**base.recipe_fields(),
                                                                              "attention_dropout": 0.0}
    with pytest.raises(ValueError, match="attention_dropout"):
        FinetuneConfig(layers=2, attention_dropout=1.0)
    assert FinetuneConfig(layers=2, general_once=True).recipe_fields() == {**base.recipe_fields(),
                                                                          "general_once": True}


def test_general_news_is_read_in_exactly_one_epoch_and_health_in_every_one():
    from healthtag.training.finetune import epoch_rows

    owner = np.repeat(np.arange(10), [1, 2, 1, 1, 1, 1, 1, 1, 1, 1])   # article 1 trains on two windows
    general = np.array([False, True, True, False, True, True, True, False, True, True])
    plain = epoch_rows(owner, general, FinetuneConfig(layers=1, epochs=3))
    assert [list(e) for e in plain] == [list(range(11))] * 3      # unset: every row in every epoch, as before
    once = epoch_rows(owner, general, FinetuneConfig(layers=1, epochs=3, general_once=True))
    health_rows = set(np.flatnonzero(~general[owner]).tolist())
    general_rows = np.flatnonzero(general[owner]).tolist()
    assert all(health_rows <= set(e.tolist()) for e in once)
    seen = sorted(r for e in once for r in e.tolist() if r not in health_rows)
    assert seen == general_rows                                     # each general row once, none lost
    assert {len(e) - len(health_rows) for e in once} <= {2, 3}     # dealt out evenly
    again = epoch_rows(owner, general, FinetuneConfig(layers=1, epochs=3, general_once=True))
    assert all(np.array_equal(a, b) for a, b in zip(once, again))  # seeded
    with pytest.raises(ValueError, match="general_once needs"):
        epoch_rows(owner, None, FinetuneConfig(layers=1, epochs=3, general_once=True))


def test_attention_dropout_is_set_on_every_tuned_layer_and_still_trains(tiny_encoder_dir, tmp_path):
    from healthtag.training.finetune import set_attention_dropout

    settings = _settings(tiny_encoder_dir)
    layers = top_layers(settings, 1)
    set_attention_dropout(layers, 0.0)
    assert [layer.attention.self.dropout.p for layer in layers] == [0.0]
    with pytest.raises(ValueError, match="found the attention dropout of 0 of 1"):
        set_attention_dropout(torch.nn.ModuleList([torch.nn.Linear(2, 2)]), 0.0)
    store, _ = lower_states(TITLES * 4, SENTENCES * 4, settings, 1, None, tmp_path / "ft")
    targets = np.tile(np.eye(3, dtype=np.float32), (4, 1))
    tuned, history = finetune_top(store, targets, np.ones(12, dtype=np.float32), top_layers(settings, 1),
                                  FinetuneConfig(layers=1, epochs=6, lr=1e-3, head_lr=1e-2, batch_windows=4,
                                                 attention_dropout=0.0), False)
    assert history[-1]["loss"] < history[0]["loss"]
    assert tuned[0].attention.self.dropout.p == 0.0


def test_finetune_targets_are_checked_and_pick_their_column():
    from datasets import Dataset
    from healthtag.training.build_weak_dataset import LABEL_MODEL_TARGETS
    from healthtag.training.finetune import FinetuneConfig, target_column

    with pytest.raises(ValueError, match="finetune.targets must be one of"):
        FinetuneConfig(layers=2, targets="gold")
    both = Dataset.from_dict({"soft_labels": [[0.1]], LABEL_MODEL_TARGETS: [[0.9]]})
    assert target_column(FinetuneConfig(layers=2), both) == "soft_labels"
    assert target_column(FinetuneConfig(layers=2, targets="label_model"), both) == LABEL_MODEL_TARGETS


def test_per_article_caps_shorten_only_the_capped_articles_in_every_pass(tiny_encoder_dir, tmp_path):
    """`data.general_windows` reaches the stored states and the pooled vectors article by article."""
    from healthtag.models.chunking import tokens_in_windows

    settings = _settings(tiny_encoder_dir)
    one = tokens_in_windows(1, settings.window, settings.overlap)
    caps = [one, None, one]
    store, tokens = lower_states(TITLES, SENTENCES, settings, 1, caps, tmp_path / "ft")
    whole = lower_states(TITLES, SENTENCES, settings, 1, None, tmp_path / "whole")[1]
    assert [len(t.windows) for t in tokens] == [1, len(whole[1].windows), 1]
    assert len(whole[0].windows) > 1 and len(whole[2].windows) > 1   # the caps did shorten something
    assert tokens[0].ids == whole[0].ids[:one] and tokens[1].ids == whole[1].ids
    capped = extract_features(TITLES, SENTENCES, settings, max_tokens=caps)
    uncapped = extract_features(TITLES, SENTENCES, settings)
    capped_tokens, uncapped_tokens = capped["sent_tokens"], uncapped["sent_tokens"]
    assert capped_tokens[1] == uncapped_tokens[1]
    assert sum(capped_tokens[0]) < sum(uncapped_tokens[0]) and capped_tokens[0][-1] == 0   # late sentences unread
    # the caps are part of the cache key: capped and uncapped vectors never share a folder
    assert cache_key(settings, (-1,), caps, TITLES, SENTENCES) != cache_key(settings, (-1,), None, TITLES, SENTENCES)
