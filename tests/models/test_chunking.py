"""Tests of models.chunking."""
from __future__ import annotations

import pytest
from healthtag.models.chunking import tokenize_article, window_spans


def test_window_spans_cover_everything_with_overlap():
    spans = window_spans(1000, window=256, overlap=32)
    assert spans[0] == (0, 254) and spans[-1][1] == 1000
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 == a1 - 32
    assert window_spans(0, 256, 32) == [(0, 0)]
    with pytest.raises(ValueError):
        window_spans(10, 256, 300)


def test_long_article_is_not_truncated(tiny_encoder_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_encoder_dir))
    sentences = ["县人民医院开展义诊活动，为群众免费测量血压。"] * 400
    art = tokenize_article(tok, "标题", sentences, window=64, overlap=8)
    assert art.n_tokens > 62 * 10 and len(art.windows) > 10
    assert all(c >= 1 for c in art.coverage)
    assert set(art.segment_of_token) == set(range(401))
