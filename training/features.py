"""Pooled encoder vectors for many articles, computed once and cached as a `datasets.Dataset`.

With a frozen encoder the heads only ever see these vectors, so extracting
them once turns hours of encoder passes per epoch into one pass in total.
The cache key covers everything that changes the vectors (encoder settings,
layers, token cap and the articles themselves).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Sequence

import torch
from healthtag.models.chunking import tokenize_article
from healthtag.models.encoder_cache import file_digest
from healthtag.models.runtime import EncoderSettings, build_article_encoder
from tqdm import tqdm

TokenCaps = int | None | list[int | None]   # one cap for every article, or one per article in pool order


def article_cap(caps: TokenCaps, index: int) -> int | None:
    """The token cap of article ``index`` under ``caps`` (`TrainConfig.token_caps`)."""
    return caps[index] if isinstance(caps, list) else caps


FEATURES_VERSION = 2   # bump when what is stored changes (columns, pooling), to invalidate old caches


def cache_key(settings: EncoderSettings, layers: Sequence[int], max_tokens: TokenCaps,
              titles: Sequence[str], sentences: Sequence[Sequence[str]]) -> str:
    h = hashlib.sha1()
    described = settings.to_dict()
    tuned = described.pop("tuned_layers")   # absent for a base encoder: keys of older caches stay valid
    if tuned:   # the file's content, not where it lies, changes the vectors
        described["tuned_layers"] = file_digest(Path(tuned))
    h.update(json.dumps([FEATURES_VERSION, described, list(layers), max_tokens], sort_keys=True).encode())
    for title, sents in zip(titles, sentences):
        h.update(title.encode())
        h.update("\x1f".join(sents).encode())
    return h.hexdigest()[:16]


def features_path(cache_dir: Path, settings: EncoderSettings, layers: Sequence[int], max_tokens: TokenCaps,
                  titles: Sequence[str], sentences: Sequence[Sequence[str]]) -> Path:
    """The folder in ``cache_dir`` where `extract_features` keeps these articles' vectors."""
    return Path(cache_dir) / f"features-{cache_key(settings, layers, max_tokens, titles, sentences)}"


def extract_features(titles: Sequence[str], sentences: Sequence[Sequence[str]], settings: EncoderSettings,
                     layers: Sequence[int] = (-1,), max_tokens: TokenCaps = None,
                     cache_dir: Path | None = None, chunk: int = 32, desc: str = "features"):
    """Dataset with columns doc_vec, sent_vecs, sent_tokens, one row per article, in input order."""
    from datasets import Dataset, load_from_disk

    target = features_path(cache_dir, settings, layers, max_tokens, titles, sentences) if cache_dir else None
    if target is not None and (target / "dataset_info.json").exists():
        return load_from_disk(str(target))
    tok, encoder = build_article_encoder(settings, layers=tuple(layers))
    rows: dict[str, list] = {"doc_vec": [], "sent_vecs": [], "sent_tokens": []}
    with tqdm(total=len(titles), desc=desc, unit="art", file=sys.stderr) as bar:
        for first in range(0, len(titles), chunk):
            batch = [tokenize_article(tok, titles[i], sentences[i], settings.window, settings.overlap,
                                      max_tokens=article_cap(max_tokens, i))
                     for i in range(first, min(first + chunk, len(titles)))]
            with torch.inference_mode():
                pooled_batch = encoder.encode(batch)
            for pooled in pooled_batch:
                rows["doc_vec"].append(pooled.doc.numpy().astype("float32"))
                rows["sent_vecs"].append(pooled.sentences.numpy().astype("float32"))
                rows["sent_tokens"].append(pooled.sentence_tokens)
            bar.update(len(batch))
    ds = Dataset.from_dict(rows)
    if target is not None:
        ds.save_to_disk(str(target))
    return ds


def article_features(articles, settings: EncoderSettings, cache_dir: Path | None, desc: str):
    """`extract_features` for a list of Articles (title and sentences, every token read)."""
    return extract_features([a.title for a in articles], [a.sentences for a in articles], settings,
                            cache_dir=cache_dir, desc=desc)
