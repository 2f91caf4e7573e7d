"""Speed of `healthtag tag --engine ray` with 1 and 2 workers against local `healthtag tag`.

Each run is its own process (Ray start-up included in the wall time); the
steady rate subtracts the start-up of a one-article run of the same kind.
Local `tag` uses every core in one process (torch threads); a Ray worker is
one actor on one CPU, so "per core" compares local/cores with ray/workers.

    python -m healthtag.training.bench_ray --corpus ../shared/corpus/health_news.jsonl --articles 2000 --model-articles 200
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from .bench_tag import timed_run, write_articles
from .preflight import require_file


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=2000, help="articles for the rules-only runs")
    parser.add_argument("--model-articles", type=int, default=200, help="articles for the model runs")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args(argv)
    require_file(args.corpus, "unlabeled corpus (--corpus)")
    tag = [sys.executable, "-m", "healthtag", "-q", "tag"]
    cores = os.cpu_count() or 1
    model = ["--model", str(args.model)] if args.model else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        write_articles(args.corpus, 1, t / "one.jsonl")
        for mode, n, extra in (("rules-only", args.articles, ["--rules-only"]), ("model", args.model_articles, model)):
            data = t / f"{mode}.jsonl"
            write_articles(args.corpus, n, data)
            for engine, workers in (("local", None), ("ray", 1), ("ray", 2)):
                flags = extra + (["--engine", "ray", "--workers", str(workers)] if engine == "ray" else [])
                stem = str(t / f"{mode}-{engine}-{workers}")
                startup, _ = timed_run(tag + [str(t / "one.jsonl"), "-o", stem + "-one", *flags])
                seconds, rss = timed_run(tag + [str(data), "-o", stem + "-all", *flags])
                steady = n / max(seconds - startup, 1e-9)
                per_core = steady / (cores if engine == "local" else workers)
                rows.append((mode, engine if workers is None else f"ray x{workers}", n, seconds, n / seconds, steady,
                             per_core, startup, rss))
    print(f"{_cpu()}, {cores} cores; {time.strftime('%Y-%m-%d')}")
    print(f"{'mode':12}{'engine':10}{'art.':>6}{'wall s':>8}{'art/s':>8}{'steady':>8}{'/core':>8}{'start s':>9}{'RSS MB':>8}")
    for mode, engine, n, seconds, rate, steady, per_core, startup, rss in rows:
        print(f"{mode:12}{engine:10}{n:>6}{seconds:>8.1f}{rate:>8.1f}{steady:>8.1f}{per_core:>8.1f}{startup:>9.1f}{rss:>8.0f}")
    for mode in ("rules-only", "model"):
        r = {row[1]: row for row in rows if row[0] == mode}
        print(f"{mode}: 2 workers / 1 worker = {r['ray x2'][5] / r['ray x1'][5]:.2f}x steady; "
              f"ray per worker / local per core = {r['ray x2'][6] / r['local'][6]:.2f}")


if __name__ == "__main__":
    main()
