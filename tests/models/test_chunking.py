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


def test_tokens_in_windows_is_exactly_what_that_many_windows_cover():
    from healthtag.models.chunking import tokens_in_windows, window_spans

    for window, overlap in ((256, 32), (64, 8), (16, 0)):
        for k in (1, 2, 5):
            n = tokens_in_windows(k, window, overlap)
            assert len(window_spans(n, window, overlap)) == k and len(window_spans(n + 1, window, overlap)) == k + 1


def test_a_window_cap_below_one_is_refused():
    from healthtag.models.encoder_settings import EncoderSettings

    with pytest.raises(ValueError, match="max_windows"):
        EncoderSettings(max_windows=0)
    assert EncoderSettings(max_windows=3).max_windows == 3
