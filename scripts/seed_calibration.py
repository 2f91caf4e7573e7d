"""Topic thresholds fitted on dev alone against dev plus the seed pages, out of fold on both files.

Why: the seed pages are the only gold of the users' own kind (long local reports), and dev's
rare topics have a handful of positives each, so where the topic thresholds are fitted is a
choice the two files can be asked about together. The shipped model's scores are computed once
(heads never saw a gold label); then, over ten fold seeds:

- dev: each fold decided by thresholds fitted on the other dev folds, plus every seed article
  for the variant (the recipe's `data.calibration_extra`);
- seed pages: five folds over the 24 articles, each decided by thresholds fitted on all of dev,
  plus the other seed folds for the variant.

The health gate's threshold is fitted on dev in both variants (the shipped one also reads the
gate set). Paired differences are per fold seed. With ``fast`` the fast path's scores are decided
by thresholds fitted on the full path's, which is how the fast path ships.

    python scripts/seed_calibration.py [full|fast]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy
from healthtag.models.topic_model import TopicSummaryModel
from healthtag.resources import bundled_model_dir
from healthtag.training.calibrate import ExtraCalibration, decide_labels, fit_thresholds, fitting_with
from healthtag.training.evaluate import score_in_batches
from healthtag.training.gold import load_gold
from healthtag.training.topic_eval import repeated_cv_f1, score_topics

DEV, SEEDS = Path("../shared/gold/dev.jsonl"), Path("../shared/gold/seeds.jsonl")


def scores_of(runtime: str, dev, seeds) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    model = TopicSummaryModel.load(bundled_model_dir(), runtime=runtime)
    scorer = Scorer(load_taxonomy(None), model.config.labels, model.config.combination, network=model)
    return (np.asarray(score_in_batches(scorer, dev.articles).combined),
            np.asarray(score_in_batches(scorer, seeds.articles).combined), model.config.labels, model.runtime_note)


def main(runtime: str = "full") -> None:
    dev, seeds = load_gold(DEV), load_gold(SEEDS)
    d, s, labels, note = scores_of("full", dev, seeds)      # the scores thresholds are fitted on
    dd, ss = d, s                                            # the scores decided
    if runtime != "full":
        dd, ss, _, note = scores_of(runtime, dev, seeds)
    topics = [x for x in labels if x != NON_HEALTH]

    def on_dev_plus(fold_scores, fold_sets, names):
        """A seed-page fold's fit: all of dev, the other seed folds joining the topic fits (the gate: dev's)."""
        return fitting_with(ExtraCalibration(fold_scores, list(fold_sets)))(d, dev.labels, names)

    dev_only = decide_labels(ss, labels, fit_thresholds(d, dev.labels, labels))   # no seed fold to hold out
    seeds_alone = score_topics("dev alone", seeds.labels, dev_only, topics)
    runs = {
        ("dev", "dev alone"): repeated_cv_f1(dd, dev.labels, labels, topics, fit_probs=d),
        ("dev", "dev + seed pages"): repeated_cv_f1(dd, dev.labels, labels, topics, fit_probs=d,
                                                    extra=ExtraCalibration(s, seeds.labels)),
        ("seed pages", "dev alone"): (np.full(10, seeds_alone.micro_f1), np.full(10, seeds_alone.macro_f1)),
        ("seed pages", "dev + seed pages"): repeated_cv_f1(ss, seeds.labels, labels, topics, fit=on_dev_plus,
                                                           fit_probs=s),
    }
    print(f"decided: {note}; thresholds fitted on the full path's scores")
    print(f"{'decided':12} {'fitted on':18} {'micro-F1':>16} {'macro-F1':>16}")
    for (where, how), (micro, macro) in runs.items():
        print(f"{where:12} {how:18} {micro.mean():.4f} ± {micro.std():.4f} {macro.mean():.4f} ± {macro.std():.4f}")
    for where in ("dev", "seed pages"):
        for k, name in ((0, "micro"), (1, "macro")):
            diff = runs[(where, "dev + seed pages")][k] - runs[(where, "dev alone")][k]
            print(f"{where}, {name}-F1, dev + seed pages − dev alone: {diff.mean():+.4f} ± {diff.std(ddof=1):.4f} "
                  f"(higher in {(diff > 0).sum()} of {len(diff)} fold seeds)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "full")
