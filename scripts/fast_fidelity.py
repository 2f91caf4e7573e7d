"""How faithfully a model's fast path reproduces its own full path on local reports, label-free.

Why: dev's 93 reference abstracts are a small, noisy measure of a student; agreement with the
teacher on a few hundred local reports says more about what the student loses, and reads no
label (dev's and the holdout's texts only, never their annotations). Each model directory given
is compared with its own full path, on the same CPU and precision, so two students can be put
side by side in one run.

    python scripts/fast_fidelity.py MODEL_DIR [MODEL_DIR ...] [--precision fp32]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from healthtag.inference.predictor import Predictor
from healthtag.inference.segment import article_from_record
from healthtag.training.fast_check import agreement, scored

TEXTS = {"dev": Path("../shared/gold/dev.jsonl"), "holdout": Path("../shared/holdout/texts.jsonl")}


def local_reports() -> dict[str, list]:
    """dev's and the holdout's texts, title and body only (the gold fields are never read)."""
    out = {}
    for name, path in TEXTS.items():
        with path.open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        out[name] = [article_from_record({"id": r["id"], "title": r.get("title", ""), "text": r["text"]}, str(path))
                     for r in records]
    return out


def fidelity(model_dir: Path, precision: str | None, sets: dict[str, list]) -> dict:
    """`fast_check.agreement` of the fast path with the full path, per text set and over all of them."""
    paths = {runtime: Predictor.load(model_dir, runtime=runtime, precision=precision) for runtime in ("full", "fast")}
    runs = {name: [scored(paths[runtime], arts) for runtime in ("full", "fast")] for name, arts in sets.items()}
    runs["all"] = [([p for r in runs.values() for p in r[i][0]], np.concatenate([r[i][1] for r in runs.values()]))
                   for i in (0, 1)]
    return {name: agreement(full[0], fast[0], full[1], fast[1]) for name, (full, fast) in runs.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--precision", choices=("bf16", "fp32", "int8"), default=None)
    args = parser.parse_args(argv)
    sets = local_reports()
    for model_dir in args.models:
        result = fidelity(model_dir, args.precision, sets)
        for name, figures in result.items():
            print(f"{model_dir} {name:8s} " + " ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
