"""Tests of models.topic_model."""
from __future__ import annotations

import pytest
from healthtag.models.topic_model import ModelLoadError, TopicSummaryModel


def test_broken_model_dir_is_a_clear_error(tmp_path, tiny_model_dir):
    with pytest.raises(ModelLoadError, match="no such model directory"):
        TopicSummaryModel.load(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        TopicSummaryModel.load(bad)


def test_requested_precision_runs_and_says_what_it_was_validated_for(tiny_model_dir, tmp_path):
    """A user trading accuracy for speed (`--precision int8`) is told what the model recorded about that trade."""
    import shutil

    from healthtag.models.model_config import FastPath, read_model_config, write_model_config

    int8 = TopicSummaryModel.load(tiny_model_dir, precision="int8")
    assert any("quantized" in type(m).__module__ for m in int8.encoder.model.modules())
    assert "encoder runs in int8, as requested; not validated for this model" in int8.runtime_note
    assert "bf16's vectors up to rounding" in TopicSummaryModel.load(tiny_model_dir, precision="fp32").runtime_note
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    config = read_model_config(model_dir)
    figures = {"micro_f1": 0.7, "rouge_l": 0.33}
    config.fast = FastPath(encoder=config.encoder, recipe={},
                           validation={"fast/int8": {"gold": {"fast": figures, "full": {"micro_f1": 0.71, "rouge_l": 0.34}}}})
    write_model_config(model_dir, config)
    note = TopicSummaryModel.load(model_dir, precision="int8").runtime_note
    assert "validated on dev: micro-F1 0.700, ROUGE-L 0.330 (full path 0.710, 0.340)" in note


def test_fp32_fallback_names_int8_and_its_price(tiny_model_dir, tmp_path, monkeypatch):
    """On one thread of a CPU without bf16 the fast path's runtime line names the faster int8 option with its
    recorded figures; on two threads int8 is not faster, so the line does not suggest it."""
    import shutil

    import healthtag.models.runtime as runtime
    import torch
    from healthtag.models.model_config import FastPath, read_model_config, write_model_config

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    config = read_model_config(model_dir)
    full = {"micro_f1": 0.71, "rouge_l": 0.34}
    config.fast = FastPath(encoder=config.encoder, recipe={}, validation={
        "fast/fp32": {"gold": {"fast": {"micro_f1": 0.70, "rouge_l": 0.333}, "full": full}},
        "fast/int8": {"gold": {"fast": {"micro_f1": 0.69, "rouge_l": 0.328}, "full": full}}})
    write_model_config(model_dir, config)
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    note = TopicSummaryModel.load(model_dir, runtime="fast").runtime_note
    assert "encoder runs in fp32" in note
    assert ("`--precision int8` runs faster on one thread without bf16, at dev ROUGE-L 0.328 and micro-F1 0.690 "
            "against fp32's 0.333 and 0.700 (full path 0.340, 0.710)") in note
    # where bf16 is native, or the user chose the arithmetic, there is nothing to suggest
    assert "--precision int8" not in TopicSummaryModel.load(model_dir, runtime="fast", precision="fp32").runtime_note
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert "--precision int8" not in TopicSummaryModel.load(model_dir, runtime="fast").runtime_note
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: True)
    assert "--precision int8" not in TopicSummaryModel.load(model_dir, runtime="fast").runtime_note
