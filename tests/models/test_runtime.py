"""Tests of models.runtime."""
from __future__ import annotations

import torch
from healthtag.models import runtime
from healthtag.models.chunking import tokenize_article
from healthtag.models.runtime import (
    EncoderSettings,
    build_article_encoder,
    resolve_precision,
)

SENTENCES = ["县人民医院开展义诊活动，为群众免费测量血压。", "专家团队深入乡镇卫生院，开展带教查房。",
             "市卫健委召开医联体建设推进会，部署分级诊疗工作。"]


def _pooled(settings: EncoderSettings):
    tok, encoder = build_article_encoder(settings)
    arts = [tokenize_article(tok, "义诊", SENTENCES[i:], settings.window, settings.overlap) for i in range(3)]
    with torch.inference_mode():
        return encoder, encoder.encode(arts)


def test_bf16_falls_back_to_fp32_without_native_support(monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: False)
    assert resolve_precision("bf16") == "fp32"
    assert resolve_precision("int8") == "int8"   # never swapped: int8 vectors differ
    assert resolve_precision("bf16", "int8") == "int8"   # only where the model names int8 as its fallback
    assert resolve_precision("fp32", "int8") == "fp32"
    assert "int8" in runtime.describe_precision("bf16", "int8") and "validated" in runtime.describe_precision("bf16", "int8")
    assert "matrices of layer 0;" in runtime.describe_precision("bf16", "int8", int8_layers=[0])
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: True)
    assert resolve_precision("bf16") == "bf16"
    assert resolve_precision("bf16", "int8") == "bf16"


def test_fallback_is_checked():
    import pytest

    with pytest.raises(ValueError, match="fallback"):
        EncoderSettings(fallback="fp16")


def test_int8_keeps_the_second_ffn_matrix_in_float(tiny_encoder_dir):
    from healthtag.models.runtime import int8_linears

    _, encoder = build_article_encoder(EncoderSettings(spec=str(tiny_encoder_dir), precision="fp32", window=64, overlap=8))
    names = int8_linears(encoder.model)
    assert "encoder.layer.0.attention.self.query" in names and "encoder.layer.0.attention.output.dense" in names
    assert "encoder.layer.0.intermediate.dense" in names and "encoder.layer.0.output.dense" not in names
    _, quantised = build_article_encoder(EncoderSettings(spec=str(tiny_encoder_dir), precision="int8", window=64, overlap=8))
    layer = quantised.model.encoder.layer[0]
    assert "quantized" in type(layer.intermediate.dense).__module__
    assert type(layer.output.dense) is torch.nn.Linear


def test_int8_layers_limit_the_quantised_layers(tiny_encoder_dir):
    import pytest

    settings = EncoderSettings(spec=str(tiny_encoder_dir), precision="int8", window=64, overlap=8, int8_layers=[0])
    _, quantised = build_article_encoder(settings)
    first, rest = quantised.model.encoder.layer[0], quantised.model.encoder.layer[1:]
    assert len(rest) >= 1 and "quantized" in type(first.attention.self.query).__module__
    assert not any("quantized" in type(m).__module__ for layer in rest for m in layer.modules())
    assert sum(type(m) is torch.nn.Linear for layer in rest for m in layer.modules()) == 6 * len(rest)
    with pytest.raises(ValueError, match="int8_layers"):
        EncoderSettings(int8_layers=[])
    with pytest.raises(ValueError, match="no layer 40"):
        build_article_encoder(EncoderSettings(spec=str(tiny_encoder_dir), precision="int8", window=64, overlap=8,
                                              int8_layers=[0, 40]))


def test_bf16_vectors_match_fp32_and_int8_runs(tiny_encoder_dir, monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: True)   # exercise the bf16 path on any CPU
    base = {"spec": str(tiny_encoder_dir), "window": 64, "overlap": 8}
    bf16_encoder, bf16 = _pooled(EncoderSettings(**base, precision="bf16"))
    _, fp32 = _pooled(EncoderSettings(**base, precision="fp32"))
    int8_encoder, int8 = _pooled(EncoderSettings(**base, precision="int8"))
    assert next(bf16_encoder.model.parameters()).dtype == torch.bfloat16
    assert any("quantized" in type(m).__module__ for m in int8_encoder.model.modules())
    for a, b, c in zip(bf16, fp32, int8):
        assert a.doc.dtype == torch.float32 and a.doc.shape == b.doc.shape == c.doc.shape
        assert torch.nn.functional.cosine_similarity(a.doc, b.doc, dim=0) > 0.99
        assert torch.isfinite(c.doc).all()


def test_int8_vectors_do_not_depend_on_batch_mates(tiny_encoder_dir):
    """Dynamic int8 scales a whole batch at once; one window per call keeps an article's vectors its own."""
    settings = EncoderSettings(spec=str(tiny_encoder_dir), precision="int8", window=16, overlap=4)
    tok, encoder = build_article_encoder(settings)
    assert encoder.batch_windows == 1
    arts = [tokenize_article(tok, "义诊", SENTENCES[i:] * (3 - i), settings.window, settings.overlap) for i in range(3)]
    with torch.inference_mode():
        alone = encoder.encode(arts[:1])[0]
        batched = encoder.encode(arts)[0]
        encoder.batch_windows = 16          # what the batch would give: the same article, other vectors
        mixed = encoder.encode(arts)[0]
    assert torch.equal(alone.doc, batched.doc) and torch.equal(alone.sentences, batched.sentences)
    assert not torch.equal(alone.doc, mixed.doc)


def test_bf16_and_fp32_vectors_do_not_depend_on_batch_mates(tiny_encoder_dir, monkeypatch):
    """Batches are padded to a full window (and a lone window gets a blank partner), so kernels see one shape."""
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: True)
    for precision in ("bf16", "fp32"):
        settings = EncoderSettings(spec=str(tiny_encoder_dir), precision=precision, window=16, overlap=4)
        tok, encoder = build_article_encoder(settings)
        assert encoder.pad_to == 16
        arts = [tokenize_article(tok, "义诊", SENTENCES[i:] * (3 - i), settings.window, settings.overlap) for i in range(3)]
        short = tokenize_article(tok, "义诊", ["义诊。"], settings.window, settings.overlap)
        assert len(short.windows) == 1
        with torch.inference_mode():
            batched = encoder.encode([*arts, short])
            alone = [encoder.encode([a])[0] for a in [*arts, short]]
        for a, b in zip(alone, batched):
            assert torch.equal(a.doc, b.doc) and torch.equal(a.sentences, b.sentences), precision
        _, batch_ids, _ = next(iter(encoder.window_batches([short])))
        assert tuple(batch_ids.shape) == (2, 16)      # the lone window and its blank partner


def test_fp32_pads_short_windows_to_their_step_and_keeps_them_their_own(tiny_encoder_dir):
    """A short last window runs narrower than a full one, batched only with windows of its width."""
    settings = EncoderSettings(spec=str(tiny_encoder_dir), precision="fp32", window=16, overlap=4)
    tok, encoder = build_article_encoder(settings)
    assert encoder.width_step == runtime.width_step("fp32") and runtime.width_step("bf16") is None
    encoder.width_step = 4                   # the tiny window is narrower than the shipped step
    assert [encoder.padded_width(n) for n in (2, 4, 5, 15, 16)] == [4, 4, 8, 16, 16]
    arts = [tokenize_article(tok, "义诊", SENTENCES[i:] * (3 - i), settings.window, settings.overlap) for i in range(3)]
    short = tokenize_article(tok, "义诊", ["义诊。"], settings.window, settings.overlap)
    with torch.inference_mode():
        batches = [(mask.sum(dim=1).tolist(), ids.shape[1]) for _, ids, mask in encoder.window_batches([*arts, short])]
        batched = encoder.encode([*arts, short])
        alone = [encoder.encode([a])[0] for a in [*arts, short]]
        encoder.width_step = None
        full_width = encoder.encode([*arts, short])
    for lengths, width in batches:   # every row of a batch (blank partners aside) has this batch's width
        assert all(-(-n // 4) * 4 == width for n in lengths if n > 2)
    assert min(width for _, width in batches) < 16
    for a, b, c in zip(alone, batched, full_width):
        assert torch.equal(a.doc, b.doc) and torch.equal(a.sentences, b.sentences)
        assert torch.allclose(a.doc, c.doc, atol=1e-5)
