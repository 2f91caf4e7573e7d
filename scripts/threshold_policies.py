"""Threshold policies for the topic decisions, compared by repeated 5-fold cross-validation on dev.

Why: per-label thresholds fitted on dev labels with a handful of positives are a
natural suspect for a dev margin that does not hold on other sources. Each
policy is fitted on four folds and scored on the fifth (`cross_validated_sets`,
the folds `healthtag evaluate` uses), ten fold seeds; the shipped model's heads
never saw a dev label, so every figure is out of fold. The non_health threshold
is fitted per label under every policy.

    python scripts/threshold_policies.py [full|fast]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from healthtag.models.evidence import DEFAULT_THRESHOLD
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy
from healthtag.models.topic_model import TopicSummaryModel
from healthtag.resources import bundled_model_dir
from healthtag.training.calibrate import best_threshold
from healthtag.training.evaluate import score_in_batches
from healthtag.training.gold import load_gold
from healthtag.training.topic_eval import repeated_cv_f1

DEV = Path("../shared/gold/dev.jsonl")
POLICIES = ("per_label", "default", "global", "min3", "min5", "min10", "shrink5", "shrink10")


def policy_fit(policy: str):
    """A ``fit(probs, gold_sets, labels) -> thresholds`` for one named policy.

    per_label: the shipped fit; default: 0.5 for every topic; global: one topic threshold
    maximising pooled F1; minK: per label where the training folds hold >= K positives,
    else 0.5; shrinkK: the same, else the global one.
    """
    def fit(probs: np.ndarray, gold_sets, labels: list[str]) -> dict[str, float]:
        truth = {name: np.array([name in g for g in gold_sets]) for name in labels}
        topics = [j for j, name in enumerate(labels) if name != NON_HEALTH]
        shared = best_threshold(np.concatenate([probs[:, j] for j in topics]),
                                np.concatenate([truth[labels[j]] for j in topics]))
        out = {}
        for j, name in enumerate(labels):
            scores, y = probs[:, j], truth[name]
            if name == NON_HEALTH or policy == "per_label":
                out[name] = best_threshold(scores, y)
            elif policy == "default":
                out[name] = DEFAULT_THRESHOLD
            elif policy == "global":
                out[name] = shared
            elif policy.startswith("min"):
                out[name] = best_threshold(scores, y, min_positives=int(policy[3:]))
            else:   # shrinkK
                out[name] = best_threshold(scores, y) if y.sum() >= int(policy[6:]) else shared
        return out
    return fit


def main(runtime: str = "full") -> None:
    gold = load_gold(DEV)
    model = TopicSummaryModel.load(bundled_model_dir(), runtime=runtime)
    labels = model.config.labels
    scorer = Scorer(load_taxonomy(None), labels, model.config.combination, network=model)
    probs = np.asarray(score_in_batches(scorer, gold.articles).combined)
    topics = [name for name in labels if name != NON_HEALTH]
    print(f"runtime {runtime}, {len(gold.labels)} dev articles, 10 fold seeds x 5 folds (mean ± spread over seeds)")
    for policy in POLICIES:
        micro, macro = repeated_cv_f1(probs, gold.labels, labels, topics, fit=policy_fit(policy))
        print(f"{policy:10} micro {micro.mean():.4f} ± {micro.std():.4f}   macro {macro.mean():.4f} ± {macro.std():.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
