"""Where the fast path's abstracts differ from the full path's on dev, and which is closer to the reference.

Why: the fast path's ROUGE-L gap is a mean over 93 references; this says how many
abstracts differ at all, on how many the full path wins, and shows the worst
cases, so a student variant can be judged by what it gets wrong and not by a
mean alone. Each model directory's fast path is compared with the full path of
the first one (all share the teacher). The abstracts are the ones `healthtag tag`
writes (the predictor splits the text itself), so the means differ a little from
`healthtag evaluate`'s, which reads the gold file's sentences.

    python scripts/abstract_differences.py [MODEL_DIR ...]     # default: models/default
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from healthtag.inference.predictor import Predictor
from healthtag.resources import bundled_model_dir
from healthtag.training.evaluate import rouge_l_per_article
from healthtag.training.fast_check import scored
from healthtag.training.gold import load_gold

DEV = Path("../shared/gold/dev.jsonl")


def abstracts(model_dir: Path, runtime: str, articles) -> list[str]:
    preds, _ = scored(Predictor.load(model_dir, runtime=runtime), articles)
    return [p.summary or "" for p in preds]


def main(model_dirs: list[Path]) -> None:
    gold = load_gold(DEV)
    keep = [i for i, s in enumerate(gold.summaries) if s]
    articles, refs = [gold.articles[i] for i in keep], [gold.summaries[i] for i in keep]
    full = abstracts(model_dirs[0], "full", articles)
    full_rouge = np.array(rouge_l_per_article(full, refs))
    print(f"{len(refs)} dev references; full path ({model_dirs[0]}) ROUGE-L {full_rouge.mean():.4f}")
    for model_dir in model_dirs:
        fast = abstracts(model_dir, "fast", articles)
        diff = np.array(rouge_l_per_article(fast, refs)) - full_rouge
        differ = np.array([a != b for a, b in zip(full, fast)])
        print(f"\nfast path of {model_dir}: ROUGE-L {full_rouge.mean() + diff.mean():.4f} ({diff.mean():+.4f}); "
              f"{int(differ.sum())} abstracts differ from the full path's, fast closer on "
              f"{int((diff > 0).sum())}, full closer on {int((diff < 0).sum())}")
        for k in np.argsort(diff)[:3]:
            print(f"  {diff[k]:+.3f}  reference: {refs[k][:50]}\n"
                  f"          full:      {full[k][:50]}\n          fast:      {fast[k][:50]}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or [bundled_model_dir()])
