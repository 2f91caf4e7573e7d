"""Training on a user's own taxonomy: the model keeps those rules and tags with them."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from healthtag.inference.predictor import Predictor
from healthtag.models.rules import RuleModel
from healthtag.models.taxonomy import load_taxonomy, taxonomy_digest
from healthtag.resources import MODEL_LABEL_MODEL_FILE, MODEL_TAXONOMY_FILE
from healthtag.training.config import load_train_config
from healthtag.training.label_model import LabelModel
from healthtag.training.preflight import MissingInput
from healthtag.training.train import run

from healthtag.text.article import Article

BUNDLED = Path(__file__).parents[2] / "configs" / "taxonomy.yaml"

BUNDLED_RULE = "terms: [首例, 成功, 新技术, 重点专科, 学科, 专科, 挂牌, 揭牌, 手术, 三甲, 填补, 率先, 首家]}"
NARROWED_RULE = ("terms: [首例, 新技术, 重点专科, 学科, 专科, 挂牌, 揭牌, 三甲, 填补, 率先, 首家]}\n"
                 "      - {name: specialty_operation, kind: regex, scope: [title], weight: 1.5, "
                 "pattern: \"(?:成功|首例).{0,12}手术\"}")


def custom_taxonomy(directory: Path) -> Path:
    """The bundled taxonomy with one title rule narrowed and a rule added: other rules, the same labels."""
    from importlib.resources import files

    text = files("healthtag.configs").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    assert text.count(BUNDLED_RULE) == 1, "the bundled specialty_title rule changed; update this fixture"
    path = directory / "my_taxonomy.yaml"
    path.write_text(text.replace(BUNDLED_RULE, NARROWED_RULE), encoding="utf-8")
    return path


def test_a_model_trained_on_its_own_taxonomy_keeps_it_and_tags_with_it(tiny_config_path: Path, tmp_path, caplog,
                                                                        monkeypatch):
    monkeypatch.setattr(logging.getLogger("healthtag"), "propagate", True)   # a CLI test may have turned it off
    taxonomy = custom_taxonomy(tmp_path)
    config = load_train_config(tiny_config_path)
    config.taxonomy = str(taxonomy)
    config.run_dir = str(tmp_path / "run")   # its weak labels differ from the shared tiny run's
    model = run(config, out=tmp_path / "m")

    assert (model / MODEL_TAXONOMY_FILE).read_text(encoding="utf-8") == taxonomy.read_text(encoding="utf-8")
    own = load_taxonomy(taxonomy)
    saved = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert saved["taxonomy_digest"] == taxonomy_digest(own) != taxonomy_digest(load_taxonomy(None))
    # the label model shipped beside it was fitted with the new rules (loading checks the rule names)
    LabelModel.load(model / MODEL_LABEL_MODEL_FILE, RuleModel(own))
    with pytest.raises(ValueError, match="other rules"):
        LabelModel.load(model / MODEL_LABEL_MODEL_FILE, RuleModel(load_taxonomy(None)))
    assert "trained on its own taxonomy" in (model / "MODEL_CARD.md").read_text(encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        predictor = Predictor.load(model, runtime="full")
    assert Path(predictor.scorer.taxonomy.source) == model / MODEL_TAXONOMY_FILE
    assert "differs from the one" not in caplog.text
    article = Article(id="a", source="t", start=0, end=0, title="我院成功完成一例手术", sentences=["医生完成手术。"])
    fired = {hit.rule for hit in predictor.scorer.rule_model.apply(article).hits}
    assert "specialty_operation" in fired and "specialty_title" not in fired

    # other rules named explicitly are still the user's choice, with the warning that the thresholds were not
    # fitted for them
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        bundled = Predictor.load(model, runtime="full", taxonomy=BUNDLED)
    assert "specialty_title" in {hit.rule for hit in bundled.scorer.rule_model.apply(article).hits}
    assert "differs from the one" in caplog.text


def test_retraining_on_the_bundled_taxonomy_leaves_no_stale_copy(tiny_config_path: Path, tmp_path):
    config = load_train_config(tiny_config_path)
    config.taxonomy = str(custom_taxonomy(tmp_path))
    config.run_dir = str(tmp_path / "run")
    out = run(config, out=tmp_path / "m")
    assert (out / MODEL_TAXONOMY_FILE).is_file()
    config.taxonomy = None
    run(config, out=out)
    assert not (out / MODEL_TAXONOMY_FILE).exists() and not (out / MODEL_LABEL_MODEL_FILE).exists()
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert saved["taxonomy_digest"] == taxonomy_digest(load_taxonomy(None))
    assert "the bundled `configs/taxonomy.yaml`" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_a_missing_taxonomy_stops_training_before_any_work(tiny_config_path: Path, tmp_path):
    config = load_train_config(tiny_config_path)
    config.taxonomy = str(tmp_path / "nowhere.yaml")
    config.run_dir = str(tmp_path / "run")
    with pytest.raises(MissingInput, match="nowhere.yaml: no such file: the taxonomy"):
        run(config, out=tmp_path / "m")
    assert not (tmp_path / "run").exists() and not (tmp_path / "m").exists()


def test_a_run_on_another_taxonomy_never_rewrites_the_shipped_label_model(tiny_config_path: Path, tmp_path):
    from healthtag.training.train import shipped_label_model_path

    config = load_train_config(tiny_config_path)
    config.label_model_out = str(tmp_path / "label_model.json")
    assert shipped_label_model_path(config, Path(config.out)) == config.label_model_out
    config.taxonomy = str(custom_taxonomy(tmp_path))
    assert shipped_label_model_path(config, Path(config.out)) is None


def test_the_train_command_names_a_missing_taxonomy(tiny_config_path: Path, tmp_path):
    from healthtag.cli import app
    from typer.testing import CliRunner

    res = CliRunner().invoke(app, ["train", "--config", str(tiny_config_path), "--out", str(tmp_path / "m"),
                                   "--taxonomy", str(tmp_path / "nowhere.yaml")])
    assert res.exit_code == 2
    assert "nowhere.yaml: no such file: the taxonomy" in res.output
    assert not (tmp_path / "m").exists()
