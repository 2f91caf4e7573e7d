"""Speed and memory of `healthtag tag` on real articles: default model, rules only, TextRank baseline.

Each mode runs as its own `healthtag tag` process; peak RSS is that process's
maximum resident set. Articles/s counts the whole run (start-up included) and
also the steady rate after subtracting the start-up time of a one-article
run (timed after an untimed one, so a fresh machine's one-off encoder build is
reported apart, not folded into either figure). Memory flatness: the default model is also run on a quarter of the set.

    python -m healthtag.training.bench_tag --corpus ../shared/corpus/health_news.jsonl --articles 1000 [--force-avx2]

It first prints the CPU (model, cores, the ISA flags that decide the speed
path), any ISA cap in force, and the encoder path the model will run on, as
the child process sees it: a figure without those cannot be compared.
``--force-avx2`` caps oneDNN and ATen at AVX2 for every child, the common
case on users' laptops, measurable on any bigger x86 CPU.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from healthtag.training.preflight import require_file

from healthtag.models.allocator import describe as describe_allocator
from healthtag.models.cpu_info import FORCE_AVX2, cpu_info, isa_limits
from healthtag.models.encoder_settings import PRECISIONS
from healthtag.resources import bundled_seeds_dir

_RUNNER = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
           "print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def write_articles(corpus: Path, n: int, path: Path) -> list[int]:
    """Seed articles, then corpus articles (cycled with fresh ids) until there are ``n``."""
    from .build_weak_dataset import corpus_articles, seed_articles

    pool = [(a.title, a.text) for a in seed_articles(bundled_seeds_dir())]
    pool += [(a.title, a.text) for a in corpus_articles(corpus)]
    lengths = []
    with open(path, "w", encoding="utf-8") as fh:
        for i, (title, text) in enumerate(itertools.islice(itertools.cycle(pool), n)):
            fh.write(json.dumps({"id": f"bench-{i}", "title": title, "text": text}, ensure_ascii=False) + "\n")
            lengths.append(len(text))
    return lengths


_CHILD_PROBE = ("import sys, torch; from healthtag.models.runtime import describe_precision; "
                "from healthtag.models.model_config import read_model_config; from healthtag.resources import bundled_model_dir; "
                "c = read_model_config(sys.argv[1] or bundled_model_dir()); "
                "e = c.fast.encoder if c.fast else c.encoder; "
                "p = sys.argv[2]; asked = 'as --precision asks' if p else \"as the model's config asks\"; "
                "print('fast path' if c.fast else 'no fast path', '|', describe_precision(p or e.precision, e.fallback, asked)); "
                "print(torch.get_num_threads())")


def bench_environment(force_avx2: bool, threads: int | None = None) -> dict[str, str]:
    """The environment every timed child runs in: the ISA caps when forcing AVX2, the thread pins when asked.

    ``threads=1`` stands in for a VM whose two vCPUs are one SMT core: forced to AVX2 on one thread,
    this project's 2-core AMD EPYC ran the full path at 2.3 articles/s, where the team's 2-vCPU
    AVX2-only Zen 3 measured 2.0 (and the same path on two threads here runs at 4.3).
    """
    pins = {} if threads is None else {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return {**os.environ, **(FORCE_AVX2 if force_avx2 else {}), **pins}


@dataclass
class ChildRuntime:
    """What a `healthtag tag` child will run on, asked once in a child with the same environment."""

    path: str       # whether the model has a fast path, and the arithmetic its encoder runs in
    threads: str    # torch's intra-op thread count, with any OMP/MKL pin that set it

    @property
    def has_fast_path(self) -> bool:
        return not self.path.startswith("no fast path")


def child_runtime(model: Path | None, env: dict[str, str], precision: str | None = None) -> ChildRuntime:
    """The model path and torch's thread count as a timed child sees them.

    torch sizes its pool by its own rule (physical or logical cores, by build and version),
    so on a VM whose two vCPUs are one SMT core the encoder may run on one thread or on two
    that share one core's vector units; a figure without the count cannot be explained.
    """
    out = subprocess.run([sys.executable, "-c", _CHILD_PROBE, str(model or ""), precision or ""], capture_output=True,
                         text=True, env=env)
    lines = out.stdout.strip().splitlines()
    if len(lines) < 2:
        why = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output"
        return ChildRuntime(f"unknown ({why})", "unknown")
    pinned = [f"{k}={env[k]}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if env.get(k)]
    return ChildRuntime(lines[0], lines[1] + (f" ({', '.join(pinned)})" if pinned else ""))


def gated_without_network(model: Path | None, articles: Path) -> tuple[int, int]:
    """(excluded, all): bench articles the rules' health gate excludes whatever the network says.

    The model path tags those without the encoder (`Scorer.needs_network`), so a set rich in
    general news runs faster than one of health reports; the count says which kind was timed.
    """
    import numpy as np

    from healthtag.inference.ingest import read_jsonl
    from healthtag.inference.segment import article_from_record
    from healthtag.models.evidence import DEFAULT_THRESHOLD
    from healthtag.models.model_config import read_model_config
    from healthtag.models.scoring import Scorer
    from healthtag.models.taxonomy import NON_HEALTH, model_taxonomy
    from healthtag.resources import bundled_model_dir

    model_dir = model or bundled_model_dir()
    config = read_model_config(model_dir)
    arts = [article_from_record(rec.article, str(articles)) for rec in read_jsonl(articles) if rec.error is None]
    scorer = Scorer(model_taxonomy(model_dir), config.labels, config.combination)
    scores = scorer.score(arts, network=np.zeros((len(arts), len(config.labels))))
    need = scorer.needs_network(scorer.gate_floor(scores.evidence, scores.rules),
                                config.thresholds.get(NON_HEALTH, DEFAULT_THRESHOLD))
    return int((~need).sum()), len(arts)


def steady_rate(n: int, seconds: float, startup: float) -> float:
    """Articles/s once started: NaN where the run is too short to be told from its start-up (shown as n/a)."""
    working = seconds - startup
    return n / working if working > 0.05 * seconds else float("nan")


def timed_run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _RUNNER, *args], capture_output=True, text=True, check=True,
                         env=env).stdout
    rc, seconds, rss_kb = out.split()
    if rc != "0":
        raise SystemExit(f"healthtag tag failed (exit {rc}): {' '.join(args)}")
    return float(seconds), int(rss_kb) / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--force-avx2", action="store_true",
                        help="cap oneDNN, ATen, MKL and FBGEMM at AVX2 in every child")
    parser.add_argument("--runtime", choices=("both", "fast", "full"), default="both",
                        help="which model path to time (both: the fast path and the full one, side by side)")
    parser.add_argument("--threads", type=int, default=None,
                        help="pin every child to this many threads (1: a VM whose two vCPUs share one core)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="the encoder arithmetic of the model runs (default: the model's choice for this CPU)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    env = bench_environment(args.force_avx2, args.threads)
    print(f"CPU: {cpu_info().describe()}")
    limits = isa_limits(env)
    print("ISA cap: " + (", ".join(f"{k}={v}" for k, v in limits.items()) if limits else "none (the CPU's best path)"))
    child = child_runtime(args.model, env, args.precision)
    print(f"model path: {child.path}")
    print(f"torch intra-op threads: {child.threads}")
    print(f"allocator: {describe_allocator(env)}")
    require_file(args.corpus, "unlabeled corpus (--corpus)")
    tag = [sys.executable, "-m", "healthtag", "tag"]
    model = (["--model", str(args.model)] if args.model else []) + (["--precision", args.precision] if args.precision else [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        lengths = write_articles(args.corpus, args.articles, tmp_path / "bench.jsonl")
        write_articles(args.corpus, 1, tmp_path / "one.jsonl")
        write_articles(args.corpus, args.articles // 4, tmp_path / "quarter.jsonl")
        paths = [r for r in ("fast", "full") if args.runtime in (r, "both") and (r == "full" or child.has_fast_path)]
        modes = {f"model, {r} path (tags + model abstract)": [*model, "--runtime", r] for r in paths}
        modes.update({
            "--rules-only (Lead-N abstract)": ["--rules-only"],
            "TextRank baseline (rules + TextRank)": ["--rules-only", "--summarizer", "textrank"],
        })
        rows, notes = [], []
        for name, extra in modes.items():
            one = tag + [str(tmp_path / "one.jsonl"), "-o", str(tmp_path / "o1"), *extra]
            first, _ = timed_run(one, env)   # untimed warm-up: builds the encoder cache on a fresh machine
            startup, _ = timed_run(one, env)
            seconds, rss = timed_run(tag + [str(tmp_path / "bench.jsonl"), "-o", str(tmp_path / "o"), *extra], env)
            n = sum(1 for _ in open(tmp_path / "o", encoding="utf-8"))
            rows.append((name, n, seconds, n / seconds, steady_rate(n, seconds, startup), startup, rss))
            if first > startup + 1.0:
                notes.append(f"{name}: the first run on this machine took {first:.1f} s for one article "
                             f"(building the encoder cache), not counted above")
        q_seconds, q_rss = timed_run(tag + [str(tmp_path / "quarter.jsonl"), "-o", str(tmp_path / "oq"),
                                            *next(iter(modes.values()))], env)
        gated = gated_without_network(args.model, tmp_path / "bench.jsonl") if paths else None
    print(f"{len(lengths)} articles, median {statistics.median(lengths):.0f} chars, "
          f"mean {statistics.mean(lengths):.0f} chars; {time.strftime('%Y-%m-%d')}")
    print(f"{'mode':44}{'records':>8}{'wall s':>9}{'art/s':>8}{'steady':>8}{'start s':>9}{'peak RSS MB':>13}")
    for name, n, seconds, rate, steady, startup, rss in rows:
        shown = f"{'n/a':>8}" if math.isnan(steady) else f"{steady:>8.1f}"
        print(f"{name:44}{n:>8}{seconds:>9.1f}{rate:>8.1f}{shown}{startup:>9.1f}{rss:>13.0f}")
    print(f"memory flatness, {next(iter(modes))}: {args.articles // 4} articles -> {q_rss:.0f} MB, "
          f"{args.articles} articles -> {rows[0][6]:.0f} MB")
    if gated is not None:
        print(f"general news the rules' health gate excludes alone (tagged without the encoder): "
              f"{gated[0]} of {gated[1]} articles")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
