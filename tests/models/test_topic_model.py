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
