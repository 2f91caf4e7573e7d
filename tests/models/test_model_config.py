"""Tests of models.model_config: typed config.json, migration of old directories, taxonomy digest."""
from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import pytest
from healthtag.models.encoder_settings import EncoderSettings
from healthtag.models.model_config import (
    ModelLoadError,
    migrate_model_config,
    read_model_config,
)
from healthtag.models.taxonomy import load_taxonomy, taxonomy_digest

from healthtag.resources import bundled_model_dir


def copy_model(tmp_path: Path, edit=None) -> Path:
    target = tmp_path / "m"
    shutil.copytree(bundled_model_dir(), target)
    if edit is not None:
        config = json.loads((target / "config.json").read_text(encoding="utf-8"))
        edit(config)
        (target / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return target


def test_shipped_config_is_current_and_records_the_taxonomy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no migration needed
        config = read_model_config(bundled_model_dir())
    assert config.combination.combine == "max_mean_gate" and config.combination.rule_evidence == "graded_vote"
    assert config.calibration["gate"] == "gate.jsonl" and not config.training.get("reviewed_labels")
    assert config.taxonomy_digest == taxonomy_digest(load_taxonomy(None))
    assert Path(config.encoder.kept_vocab).is_file()


def test_old_directories_migrate_in_one_place_with_a_warning():
    old = {"format": "healthtag-model/1", "encoder": {"quantize_int8": True}, "labels": ["a", "non_health"]}
    with pytest.warns(DeprecationWarning, match="older healthtag"):
        migrated = migrate_model_config(old, "x/config.json")
    assert migrated["encoder"]["precision"] == "int8" and "quantize_int8" not in migrated["encoder"]
    old2 = {"format": "healthtag-model/1", "encoder": {}, "heads": {}, "rule_evidence": "graded_vote"}
    with pytest.warns(DeprecationWarning):
        migrated = migrate_model_config(old2, "x/config.json")
    assert migrated["combination"]["combine"] == "max"          # what models before `combine` did
    assert migrated["combination"]["rule_evidence"] == "graded_vote"


def test_model_directory_cannot_enable_pickle_loading(tmp_path):
    target = copy_model(tmp_path, lambda c: c["encoder"].update(allow_pickle=True))
    with pytest.warns(UserWarning, match="allow_pickle ignored"):
        config = read_model_config(target)
    assert not hasattr(config.encoder, "allow_pickle")


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(colour="red"), "unknown key 'colour'"),
    (lambda c: c["encoder"].update(num_layers="seven"), "encoder.num_layers: expected an integer"),
    (lambda c: c["encoder"].update(precision="fp8"), "precision must be one of"),
    (lambda c: c["combination"].update(combine="median"), "combine must be one of"),
    (lambda c: c["combination"]["votes"].update(sharpness=-1), "sharpness must be > 0"),
    (lambda c: c.pop("thresholds"), "missing key 'thresholds'"),
    (lambda c: c["labels"].insert(0, "extra"), "n_outputs"),
    (lambda c: c["labels"].pop(), "must end with .non_health."),
])
def test_bad_configs_name_the_file_and_the_key(tmp_path, edit, message):
    target = copy_model(tmp_path, edit)
    with pytest.raises(ModelLoadError, match=message) as info:
        read_model_config(target)
    assert "config.json" in str(info.value)


def test_encoder_settings_validate_themselves():
    with pytest.raises(ValueError, match="precision"):
        EncoderSettings(precision="fp8")
    with pytest.raises(ValueError, match="overlap"):
        EncoderSettings(window=32, overlap=32)


def test_other_taxonomy_is_noticed(tmp_path, caplog, tiny_model_dir):
    from healthtag.inference.predictor import Predictor

    text = (Path(__file__).resolve().parents[2] / "configs" / "taxonomy.yaml").read_text(encoding="utf-8")
    assert "default_threshold: 1.0\n" in text
    commented = tmp_path / "commented.yaml"
    commented.write_text(text + "\n# a comment changes nothing\n", encoding="utf-8")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("default_threshold: 1.0\n", "default_threshold: 1.5\n", 1), encoding="utf-8")
    shipped = taxonomy_digest(load_taxonomy(None))
    assert taxonomy_digest(load_taxonomy(commented)) == shipped
    assert taxonomy_digest(load_taxonomy(changed)) != shipped
    with caplog.at_level(logging.WARNING, logger="healthtag"):
        Predictor.load(tiny_model_dir, taxonomy=commented)
    assert "differs from the one" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="healthtag"):
        Predictor.load(tiny_model_dir, taxonomy=changed)
    assert "differs from the one" in caplog.text


def test_unset_late_settings_keep_cache_keys_and_recipes():
    """A feature cache or tuned-layer recipe hashed before a setting existed must stay valid."""
    from healthtag.models.encoder_settings import EncoderSettings

    before = {"spec", "kept_vocab", "num_layers", "precision", "window", "overlap", "batch_windows", "tuned_layers",
              "fallback"}
    assert set(EncoderSettings().to_dict()) == before
    assert EncoderSettings(max_windows=4, int8_layers=[0]).to_dict()["int8_layers"] == [0]
    assert EncoderSettings(max_windows=4).to_dict()["max_windows"] == 4
