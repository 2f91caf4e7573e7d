"""The abstract's `min_chars`, chosen by repeated cross-validation on dev's references.

Why: the greedy selector stops as soon as an abstract reaches `summary.min_chars`, so that one
number sets how long abstracts are, and it was never measured. The rule this script answers is
`docs/rules/2026-12-07-summary-budget.md`, written before the script ran.

The shipped model's sentence scores are computed once per path (full, fast) for every gold
article with a reference abstract; then each candidate `min_chars` gives per-reference ROUGE-L
for the model and for Lead-N and TextRank under the same budget. Over ten fold seeds x 5 folds,
each held-out fold of dev takes the candidate with the best mean ROUGE-L (full path) on the other
four; the paired gain over the fixed current value is the out-of-fold mean minus the current
value's on the same references. The seed-page and gate-set references are never used to choose:
they only report the chosen value.

    python scripts/summary_budget_cv.py --out docs/summary_budget_cv.json
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
from healthtag.inference.summarize import lead_scores, summarize, textrank_scores
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import load_taxonomy
from healthtag.models.topic_model import TopicSummaryModel
from healthtag.resources import bundled_model_dir, bundled_seeds_dir
from healthtag.training.calibrate import folds as fold_split
from healthtag.training.evaluate import rouge_l_per_article, score_in_batches
from healthtag.training.gold import GoldSet, load_gold

GOLD = {"dev": Path("../shared/gold/dev.jsonl"), "seeds": Path("../shared/gold/seeds.jsonl"),
        "gate": Path("../shared/gold/gate.jsonl")}
CANDIDATES = (60, 80, 100, 120, 140)


def with_references(gold: GoldSet) -> tuple[list, list[str]]:
    """The articles that carry a reference abstract, and those references."""
    keep = [i for i, s in enumerate(gold.summaries) if s]
    return [gold.articles[i] for i in keep], [gold.summaries[i] for i in keep]


def scorer_for(model_dir: Path, runtime: str) -> tuple[Scorer, object]:
    """One model load per runtime path serves every gold file."""
    model = TopicSummaryModel.load(model_dir, runtime=runtime)
    return Scorer(load_taxonomy(None), model.config.labels, model.config.combination, network=model), model.config.summary


def rouge_table(articles: list, refs: list[str], scores: dict[str, list], budget) -> dict[int, dict[str, np.ndarray]]:
    """{min_chars: {system: per-reference ROUGE-L}} for every candidate, and the full path's abstract lengths."""
    out = {}
    for m in CANDIDATES:
        b = replace(budget, min_chars=m)
        abstracts = {name: [summarize(a.sentences, s[k], b) for k, a in enumerate(articles)]
                     for name, s in scores.items()}
        out[m] = {name: np.array(rouge_l_per_article(hyps, refs)) for name, hyps in abstracts.items()}
        out[m]["length"] = np.array([len(h) for h in abstracts["full"]], dtype=float)
    return out


def cross_validated(table: dict[int, dict[str, np.ndarray]], current: int, seeds: int, folds: int) -> dict:
    """Per fold seed: the out-of-fold ROUGE-L of the chosen candidate minus the current value's, both paths."""
    n = len(table[current]["full"])
    gains = {"full": [], "fast": []}
    chosen = Counter()
    for seed in range(seeds):
        pick = np.empty(n, dtype=int)
        for fold in fold_split(n, folds, seed):   # the split crossfit and threshold calibration use
            test = np.array(fold)
            train = np.setdiff1d(np.arange(n), test)
            best = max(CANDIDATES, key=lambda m: (table[m]["full"][train].mean(), -m))
            pick[test] = best
            chosen[best] += 1
        for path in gains:
            oof = np.array([table[pick[i]][path][i] for i in range(n)])
            gains[path].append(float(oof.mean() - table[current][path].mean()))
    return {"gain_" + p: {"mean": round(float(np.mean(g)), 4), "sd": round(float(np.std(g, ddof=1)), 4),
                          "each": [round(x, 4) for x in g]} for p, g in gains.items()} | {
        "fold_choices": dict(sorted(chosen.items()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=bundled_model_dir())
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    sets = {name: with_references(load_gold(p, bundled_seeds_dir() if name == "seeds" else None))
            for name, p in GOLD.items()}
    (full_scorer, budget), (fast_scorer, _) = scorer_for(args.model, "full"), scorer_for(args.model, "fast")
    tables = {}
    for name, (articles, refs) in sets.items():
        scores = {"full": score_in_batches(full_scorer, articles).sentence,
                  "fast": score_in_batches(fast_scorer, articles).sentence,
                  "lead_n": [lead_scores(len(a.sentences)) for a in articles],
                  "textrank": [textrank_scores(a.sentences) for a in articles]}
        tables[name] = rouge_table(articles, refs, scores, budget)
    current = budget.min_chars
    dev = tables["dev"]
    result = {"model": str(args.model), "current": {"min_chars": current, "max_chars": budget.max_chars,
                                                    "redundancy": budget.redundancy},
              "references": {k: len(v[1]) for k, v in sets.items()},
              "cv": cross_validated(dev, current, args.seeds, args.folds)}
    on_all = max(CANDIDATES, key=lambda m: (dev[m]["full"].mean(), -m))
    result["chosen_on_all_dev"] = on_all
    result["by_candidate"] = {
        name: {m: {system: round(float(v.mean()), 4) for system, v in t[m].items()} for m in CANDIDATES}
        for name, t in tables.items()}
    others = {path: float(np.concatenate([tables[s][on_all][path] - tables[s][current][path]
                                          for s in ("seeds", "gate")]).mean()) for path in ("full", "fast")}
    result["other_references_change"] = {k: round(v, 4) for k, v in others.items()}
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("current", "cv", "chosen_on_all_dev", "other_references_change")},
                     indent=1))
    for name in tables:
        print(name, json.dumps(result["by_candidate"][name]))


if __name__ == "__main__":
    main()
