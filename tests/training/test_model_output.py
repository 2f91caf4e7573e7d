"""Tests of training.model_output: a model directory is replaced whole or not at all."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from healthtag.training.model_output import (
    ModelOutputError,
    check_model_output,
    staged_model_dir,
)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _old_model(tmp_path: Path) -> Path:
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text('{"old": true}', encoding="utf-8")
    (out / "heads.safetensors").write_bytes(b"old heads")
    (out / "fast_layers.safetensors").write_bytes(b"old student")
    (out / "diagnosis.md").write_text("old diagnosis", encoding="utf-8")
    return out


def test_a_failing_build_leaves_the_old_model_byte_for_byte(tmp_path: Path):
    out = _old_model(tmp_path)
    before = _snapshot(out)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        with staged_model_dir(out, drop=["fast_layers.safetensors"]) as stage:
            (stage / "heads.safetensors").write_bytes(b"new heads")
            raise RuntimeError("evaluation failed")
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]     # no staging folder left behind


def test_a_complete_build_replaces_the_model_and_keeps_what_it_did_not_write(tmp_path: Path):
    out = _old_model(tmp_path)
    with staged_model_dir(out, drop=["fast_layers.safetensors"]) as stage:
        assert stage.parent == tmp_path and stage != out
        (stage / "config.json").write_text('{"new": true}', encoding="utf-8")
        (stage / "heads.safetensors").write_bytes(b"new heads")
        assert (out / "heads.safetensors").read_bytes() == b"old heads"   # untouched until the swap
    assert _snapshot(out) == {"config.json": b'{"new": true}', "diagnosis.md": b"old diagnosis",
                              "heads.safetensors": b"new heads"}          # the old student is dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_new_output_folder_is_created_with_its_parents(tmp_path: Path):
    out = tmp_path / "a" / "b" / "model"
    with staged_model_dir(out) as stage:
        (stage / "config.json").write_text("{}", encoding="utf-8")
    assert _snapshot(out) == {"config.json": b"{}"}
    assert out.stat().st_mode & 0o777 == out.parent.stat().st_mode & 0o777   # as mkdir makes it, not 0700


def test_the_model_folder_keeps_its_permissions(tmp_path: Path):
    out = _old_model(tmp_path)
    out.chmod(0o750)
    with staged_model_dir(out):
        pass
    assert out.stat().st_mode & 0o777 == 0o750


def test_outputs_that_are_not_model_folders_are_refused_before_any_work(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ModelOutputError, match="no model in it"):
        check_model_output(docs)
    with pytest.raises(ModelOutputError, match="no model in it"):
        with staged_model_dir(docs):
            pytest.fail("the block must not run")
    assert _snapshot(docs) == {"notes.txt": b"mine"}
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ModelOutputError, match="is a file"):
        check_model_output(tmp_path / "file.txt")
    check_model_output(tmp_path / "empty-or-new")      # a new folder is fine


def test_a_swap_killed_half_way_is_pointed_out(tmp_path: Path):
    out = _old_model(tmp_path)
    aside = tmp_path / ".model.old-abc123"
    shutil.move(out, aside)          # what a kill between the two renames leaves
    with pytest.raises(ModelOutputError, match=r"\.model\.old-abc123.*rename it back"):
        check_model_output(out)


def test_an_unfinished_build_is_reported(tmp_path: Path, caplog):
    out = _old_model(tmp_path)
    (tmp_path / ".model.new-xyz").mkdir()          # what a kill during training leaves
    with caplog.at_level("WARNING"):
        check_model_output(out)
    assert ".model.new-xyz" in caplog.text and "did not complete" in caplog.text


def test_the_label_model_is_saved_whole_into_a_new_folder(tmp_path: Path):
    from healthtag.models.rules import RuleModel
    from healthtag.models.taxonomy import load_taxonomy
    from healthtag.training.label_model import LabelModel

    rules = RuleModel(load_taxonomy(None))
    shipped = LabelModel.load(Path(__file__).resolve().parents[2] / "models" / "label_model.json", rules)
    target = tmp_path / "new" / "label_model.json"
    shipped.save(target)
    shipped.save(target)
    assert [p.name for p in target.parent.iterdir()] == ["label_model.json"]   # no temporary file left
    assert LabelModel.load(target, rules).to_dict() == shipped.to_dict()


def test_training_that_fails_at_the_end_keeps_the_previous_model(tiny_model_dir: Path, tiny_config_path: Path,
                                                                   tmp_path: Path, monkeypatch):
    from healthtag.training import train
    from healthtag.training.config import load_train_config

    out = tmp_path / "model"
    shutil.copytree(tiny_model_dir, out)
    (out / "diagnosis.md").write_text("a diagnosis of this model", encoding="utf-8")
    before = _snapshot(out)

    def broken_card(directory: Path) -> Path:
        raise OSError("disk full while writing the model card")

    monkeypatch.setattr(train, "write_model_card", broken_card)
    with pytest.raises(OSError, match="disk full"):
        train.run(load_train_config(tiny_config_path), out=out)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_training_may_save_its_label_model_into_a_new_output_folder(tiny_config_path: Path, tmp_path: Path):
    """The output folder was empty when the run began; what the run put there itself is no reason to refuse."""
    from healthtag.training import train
    from healthtag.training.config import load_train_config

    out = tmp_path / "model"
    config = load_train_config(tiny_config_path)
    config.out = str(out)                       # the config's own model: its label model is saved with it
    config.label_model_out = str(out / "label_model.json")
    out.mkdir()
    (out / "label_model.json").write_text("{}", encoding="utf-8")   # left by an earlier run of this config
    train.run(config, out=out)
    assert {"config.json", "heads.safetensors", "label_model.json"} <= {p.name for p in out.iterdir()}
    other = tmp_path / "other"
    other.mkdir()
    (other / "label_model.json").write_text("{}", encoding="utf-8")
    check_model_output(other, own_files=[other / "label_model.json"])
    with pytest.raises(ModelOutputError, match="no model in it"):
        check_model_output(other)      # the same file is someone else's when the run does not write it


def test_a_model_sent_elsewhere_leaves_the_shipped_label_model_alone(tiny_config_path: Path, tmp_path: Path):
    """An experiment (`--out` away from the config's model) must not rewrite the label model shipped with it."""
    from healthtag.training import train
    from healthtag.training.config import load_train_config

    config = load_train_config(tiny_config_path)
    shipped = tmp_path / "shipped" / "label_model.json"
    shipped.parent.mkdir()
    shipped.write_text('{"shipped": true}', encoding="utf-8")
    config.label_model_out = str(shipped)
    out = train.run(config, out=tmp_path / "experiment")
    assert shipped.read_text(encoding="utf-8") == '{"shipped": true}'
    assert (out / "config.json").exists() and not (out / "label_model.json").exists()
    assert (config.run_path / "weak" / "label_model.json").exists()   # the run's own label model is kept
    assert train.shipped_label_model_path(config, Path(config.out)) == str(shipped)   # the config's own model: saved
