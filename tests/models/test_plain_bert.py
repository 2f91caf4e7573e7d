"""The plain BERT encoder must be transformers' BertModel to the bit, in eval and in train mode.

Serving and training both run it (`runtime.build_article_encoder`), and every shipped figure
was measured through transformers, so "close" would not do: a score one ulp away can flip a
tag at its threshold.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from healthtag.models.encoder import load_encoder, open_plain
from healthtag.models.plain_bert import PlainBertError, PlainTokenizer, load_plain_bert

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def both(tiny_encoder_dir):
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(str(tiny_encoder_dir), add_pooling_layer=False).eval()
    return reference, load_plain_bert(tiny_encoder_dir)


def _batch():
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 2000, (4, 40), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 25:] = 0
    mask[3, 6:] = 0
    return ids, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("padded", [True, False])
def test_eval_outputs_are_bit_identical(both, dtype, padded):
    reference, plain = (m.to(dtype) for m in both)
    ids, mask = _batch()
    if not padded:
        mask = torch.ones_like(mask)
    with torch.inference_mode():
        want = reference(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = plain(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert torch.equal(want.last_hidden_state, got.last_hidden_state)
    assert len(want.hidden_states) == len(got.hidden_states) == 3
    assert all(torch.equal(a, b) for a, b in zip(want.hidden_states, got.hidden_states))
    both[0].float(), both[1].float()


def test_train_mode_outputs_and_gradients_are_bit_identical(both):
    """Dropout draws in the same order, so distillation and fine-tuning train exactly as before."""
    reference, plain = both
    ids, mask = _batch()
    results = []
    for model in (reference, plain):
        model.float().train()
        model.zero_grad()
        torch.manual_seed(11)
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        out.pow(2).mean().backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results.append((out.detach(), grads))
        model.eval()
    (out_a, grads_a), (out_b, grads_b) = results
    assert torch.equal(out_a, out_b)
    assert set(grads_a) == set(grads_b) and len(grads_a) > 20
    assert all(torch.equal(grads_a[k], grads_b[k]) for k in grads_a)


def test_tokenizer_matches_transformers(tiny_encoder_dir):
    from transformers import AutoTokenizer

    reference, plain = AutoTokenizer.from_pretrained(str(tiny_encoder_dir)), PlainTokenizer(tiny_encoder_dir)
    texts = [line for line in (ROOT / "seeds").glob("*.txt").__next__().read_text(encoding="utf-8").splitlines()
             if line.strip()][:30]
    assert plain(texts, add_special_tokens=False)["input_ids"] == reference(texts, add_special_tokens=False)["input_ids"]
    assert (plain.bos_token_id, plain.eos_token_id, plain.pad_token_id) == (
        reference.bos_token_id, reference.eos_token_id, reference.pad_token_id)


def test_other_architectures_go_through_transformers(tiny_encoder_dir, tmp_path):
    copy = tmp_path / "relative"
    shutil.copytree(tiny_encoder_dir, copy)
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config["position_embedding_type"] = "relative_key"
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert open_plain(copy) is None
    with pytest.raises(PlainBertError, match="position embeddings"):
        load_plain_bert(copy)
    assert type(load_encoder(str(copy), plain=True).model).__name__ == "BertModel"
    assert type(load_encoder(str(tiny_encoder_dir), plain=True).model).__name__ == "PlainBertModel"


def test_weights_of_another_shape_are_refused(tiny_encoder_dir, tmp_path):
    copy = tmp_path / "wider"
    shutil.copytree(tiny_encoder_dir, copy)
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config["num_hidden_layers"] = 3
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(PlainBertError, match="missing"):
        load_plain_bert(copy)


def test_first_layers_alone_equal_the_whole_encoders_first_layers(tiny_encoder_dir):
    """Building and reading only the layers a model keeps must give the states the whole encoder gave."""
    whole = load_plain_bert(tiny_encoder_dir)
    first = load_plain_bert(tiny_encoder_dir, num_layers=1)
    assert len(first.encoder.layer) == first.config.num_hidden_layers == 1
    ids, mask = _batch()
    with torch.inference_mode():
        want = whole(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[1]
        got = first(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(want, got)
    with pytest.raises(PlainBertError, match="asked for 3 layers of 2"):
        load_plain_bert(tiny_encoder_dir, num_layers=3)


def test_serving_does_not_import_transformers(tiny_model_dir):
    """The point of the module: a tagging process never pays for transformers' imports."""
    code = ("import sys; from healthtag import Predictor; "
            f"p = Predictor.load({str(tiny_model_dir)!r}); "
            "r = p.predict('北京市卫生健康委员会召开会议。会议部署了分级诊疗工作。'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'transformers')[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
