"""Encoder precision side by side: speed of whole articles and how far the vectors move from fp32.

Why this exists: the default model runs the encoder in bf16, which on CPUs
with native bf16 is as fast as int8 dynamic quantisation while giving the
fp32 vectors; int8 moves them (the heads and thresholds would then be
fitted to different inputs). This prints the evidence for that choice.

Each precision encodes the same articles with the default model's encoder
settings (layers, windows, trimmed vocabulary); articles/s is the pooled
encoder pass only (tokenisation excluded), best of ``--repeats`` runs,
because this shared 2-core machine is noisy.

    python -m healthtag.training.bench_precision --corpus ../shared/corpus/health_news.jsonl
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from pathlib import Path

import torch
from healthtag.models.chunking import tokenize_article
from healthtag.models.runtime import (
    PRECISIONS,
    EncoderSettings,
    build_article_encoder,
    resolve_precision,
)
from healthtag.training.preflight import require_file

from healthtag.resources import bundled_model_dir


def _pooled_docs(settings: EncoderSettings, articles, repeats: int) -> tuple[torch.Tensor, float]:
    tok, encoder = build_article_encoder(settings)
    tokens = [tokenize_article(tok, a.title, a.sentences, settings.window, settings.overlap) for a in articles]
    best = float("inf")
    with torch.inference_mode():
        encoder.encode(tokens[:4])   # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            pooled = encoder.encode(tokens)
            best = min(best, time.perf_counter() - started)
    return torch.stack([p.doc for p in pooled]), len(articles) / best


def main(argv: list[str] | None = None) -> None:
    from healthtag.models.model_config import read_model_config

    from .build_weak_dataset import corpus_articles

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="model directory whose encoder settings to use")
    args = parser.parse_args(argv)
    require_file(args.corpus, "unlabeled corpus (--corpus)")
    model_dir = args.model or bundled_model_dir()
    base = read_model_config(model_dir).encoder
    articles = list(itertools.islice(corpus_articles(args.corpus), args.articles))
    results = {}
    for precision in sorted(PRECISIONS, key=lambda p: p != "fp32"):   # fp32 first: it is the reference
        settings = dataclasses.replace(base, precision=precision)
        results[precision] = (resolve_precision(precision), *_pooled_docs(settings, articles, args.repeats))
    reference = results["fp32"][1]
    print(f"{len(articles)} corpus articles, {base.num_layers or 12} layers, windows {base.window}/{base.overlap}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'precision':12}{'runs as':>9}{'art/s':>8}{'cos vs fp32 min':>17}{'mean':>8}")
    for precision, (runs_as, docs, rate) in results.items():
        cos = torch.nn.functional.cosine_similarity(docs, reference, dim=1)
        print(f"{precision:12}{runs_as:>9}{rate:>8.1f}{cos.min().item():>17.4f}{cos.mean().item():>8.4f}")


if __name__ == "__main__":
    main()
