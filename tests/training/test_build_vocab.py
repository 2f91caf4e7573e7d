"""Tests of training.build_vocab: the kept list and its trimmed tokenizer are replaced together."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from healthtag.models.vocab_trim import load_kept_vocab
from healthtag.training import build_vocab


def _args(out: Path, corpus: Path, encoder: Path) -> list[str]:
    return ["--out", str(out), "--corpus", str(corpus), "--no-inews", "--encoder", str(encoder)]


def test_the_list_and_its_tokenizer_are_written_as_a_pair(tiny_encoder_dir: Path, tmp_path: Path, monkeypatch):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "c1", "title": "义诊", "text": "专家走进乡村开展义诊活动。"},
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "model" / "kept_vocab.json"
    build_vocab.main(_args(out, corpus, tiny_encoder_dir))
    kept = load_kept_vocab(out)
    tokenizer = json.loads((out.parent / "tokenizer.json").read_text(encoding="utf-8"))
    assert len(tokenizer["model"]["vocab"]) == len(kept["ids"])
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}

    def failing_tokenizer(tokenizer, kept_ids, path):
        Path(path).write_text("half a tokeni", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(build_vocab, "write_trimmed_tokenizer", failing_tokenizer)
    with pytest.raises(OSError, match="disk full"):
        build_vocab.main(_args(out, corpus, tiny_encoder_dir))
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before   # old pair intact, no temporary files
