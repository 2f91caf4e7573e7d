"""Shift the fast path's document logits onto the full path's, measured on unlabeled pool articles.

The distilled student ranks articles much as the teacher does, but on the health gate it sits
about half a unit of log-odds below it on every kind of text looked at (pool articles, local
reports, general news): it calls articles health a little more readily. The shipped gate
threshold is fitted on the full path's scores, so on the fast path it cuts in another place,
and general news that mentions a hospital passes more often. The correction is the mean
difference of the two paths' document logits on pool articles the distillation drew its windows
from (the fast path's check articles stay untouched, so its agreement figures remain out of sample);
no label is read.

    python -m healthtag.training.student_offset --config configs/default.yaml [--model DIR]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from healthtag.models.model_config import read_model_config, write_model_config
from healthtag.models.taxonomy import NON_HEALTH
from healthtag.models.topic_model import TopicSummaryModel

log = logging.getLogger(__name__)

# which labels get an offset: the health gate only (the one whose bias is the same on every
# kind of text; the topics' offsets change sign between local news and health reports)
LABEL_SETS = ("non_health", "all")
# the draw of pool articles, the same whether distillation or this module's command measures it
OFFSET_SEED = 29


@torch.inference_mode()
def doc_logits(model: TopicSummaryModel, articles: Sequence, batch: int = 16) -> np.ndarray:
    """[articles × labels] document logits of one runtime, without any offset."""
    rows = []
    for start in range(0, len(articles), batch):
        rows += [logits.float().numpy() for logits in model.doc_logits(model.encode(articles[start:start + batch]))]
    return np.stack(rows).astype(np.float64)


def mean_offset(full: np.ndarray, fast: np.ndarray, labels: Sequence[str], which: str) -> dict[str, float]:
    """Mean (full − fast) logit per label; only the gate's unless ``which`` is ``all``."""
    if which not in LABEL_SETS:
        raise ValueError(f"which must be one of {LABEL_SETS}, got {which!r}")
    diff = (full - fast).mean(axis=0)
    return {lab: round(float(d), 4) for lab, d in zip(labels, diff) if which == "all" or lab == NON_HEALTH}


def offset_articles(pool: Sequence, check_ids: set[str], count: int, seed: int) -> list:
    """Up to ``count`` pool articles outside the fast path's check articles, drawn with ``seed``."""
    pool = [a for a in pool if a.id not in check_ids]
    order = np.random.default_rng(seed).permutation(len(pool))[:count]
    return [pool[i] for i in sorted(order.tolist())]


def run_offset(config, model_dir: Path, count: int = 400, seed: int = OFFSET_SEED, which: str = "non_health",
               articles: Sequence | None = None) -> dict[str, float]:
    """Measure the offset for ``model_dir`` and record it (with how) in its ``config.json``.

    ``articles``: the pool to draw from (default: the config's pool); the check articles are left out.
    """
    cfg = read_model_config(model_dir)
    if cfg.fast is None:
        raise SystemExit(f"{model_dir}: no fast path to correct (python -m healthtag.training.distill first)")
    if articles is None:
        from .build_weak_dataset import pool_articles

        articles = pool_articles(config)
    articles = offset_articles(articles, set(cfg.fast.recipe.get("check_articles", [])), count, seed)
    if not articles:
        raise SystemExit("no pool article outside the fast path's check articles to measure the offset on")
    count = len(articles)
    started = time.perf_counter()
    logits = {}
    for runtime in ("full", "fast"):
        model = TopicSummaryModel.load(model_dir, runtime=runtime)
        logits[runtime] = doc_logits(model, articles)
    offset = mean_offset(logits["full"], logits["fast"], cfg.labels, which)
    spread = (logits["full"] - logits["fast"]).std(axis=0)
    cfg.fast.doc_logit_offset = offset
    cfg.fast.recipe["doc_logit_offset"] = {
        "articles": count, "seed": seed, "labels": which,
        "sd_of_difference": {lab: round(float(s), 4) for lab, s in zip(cfg.labels, spread) if lab in offset},
        "precision": model.settings.precision, "minutes": round((time.perf_counter() - started) / 60, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_model_config(model_dir, cfg)
    log.info("fast-path document logit offset (full − fast, mean over %d pool articles): %s", count,
             ", ".join(f"{k} {v:+.3f}" for k, v in offset.items()))
    return offset


def main(argv: list[str] | None = None) -> None:
    from .config import load_train_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="training config (names the pool)")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the config's out)")
    parser.add_argument("--articles", type=int, default=400, help="pool articles to measure on")
    parser.add_argument("--seed", type=int, default=OFFSET_SEED)
    parser.add_argument("--labels", choices=LABEL_SETS, default="non_health")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_train_config(args.config)
    run_offset(config, Path(args.model or config.out), args.articles, args.seed, args.labels)


if __name__ == "__main__":
    main()
