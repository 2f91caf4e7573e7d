"""Threshold policies for the topic decisions, compared by repeated 5-fold cross-validation on dev.

Why: per-label thresholds fitted on dev labels with a handful of positives are a
natural suspect for a dev margin that does not hold on other sources. Each
policy is fitted on four folds and scored on the fifth, ten fold seeds; the
shipped model's heads never saw a dev label, so every figure is out of fold.

    python scripts/threshold_policies.py [full|fast]
"""
import sys
import numpy as np
from pathlib import Path
from healthtag.training.gold import load_gold
from healthtag.models.taxonomy import load_taxonomy, NON_HEALTH
from healthtag.models.topic_model import TopicSummaryModel
from healthtag.models.scoring import Scorer
from healthtag.training.evaluate import score_in_batches
from healthtag.training.calibrate import best_threshold, decide_labels, folds, GRID
from healthtag.training.topic_eval import score_topics
from healthtag.resources import bundled_model_dir
from sklearn.metrics import f1_score

runtime = sys.argv[1] if len(sys.argv) > 1 else "full"
gold = load_gold(Path("../shared/gold/dev.jsonl")); tax = load_taxonomy(None)
m = TopicSummaryModel.load(bundled_model_dir(), runtime=runtime)
labels = m.config.labels
sc = score_in_batches(Scorer(tax, labels, m.config.combination, network=m), gold.articles)
P = np.asarray(sc.combined); G = gold.labels
topic_ids = [l for l in labels if l != NON_HEALTH]

def fit(policy, probs, gsets):
    out = {}
    cols = {name: (probs[:, j], np.array([name in g for g in gsets])) for j, name in enumerate(labels)}
    if policy.startswith("global") or policy.startswith("shrink"):
        # one shared topic threshold maximising pooled (micro) F1 over topics
        s = np.concatenate([cols[t][0] for t in topic_ids]); y = np.concatenate([cols[t][1] for t in topic_ids])
        glob = best_threshold(s, y)
    for name in labels:
        s, y = cols[name]
        if name == NON_HEALTH or policy == "per_label":
            out[name] = best_threshold(s, y)
        elif policy == "default":
            out[name] = 0.5
        elif policy == "global":
            out[name] = glob
        elif policy.startswith("min"):
            k = int(policy[3:]); out[name] = best_threshold(s, y, min_positives=k)
        elif policy.startswith("shrink"):
            k = int(policy[6:]); out[name] = best_threshold(s, y) if y.sum() >= k else glob
    return out

def cv(policy, seed):
    pred = [None] * len(G)
    for held in folds(len(G), 5, seed):
        hs = set(held); tr = [i for i in range(len(G)) if i not in hs]
        thr = fit(policy, P[tr], [G[i] for i in tr])
        for i, l in zip(held, decide_labels(P[held], labels, thr)):
            pred[i] = l
    rep = score_topics(policy, G, pred, topic_ids)
    return rep.micro_f1, rep.macro_f1

print("runtime", runtime, "articles", len(G))
for policy in ["per_label", "default", "global", "min3", "min5", "min10", "shrink5", "shrink10"]:
    r = np.array([cv(policy, s) for s in range(10)])
    print(f"{policy:10} micro {r[:,0].mean():.4f} ± {r[:,0].std():.4f}   macro {r[:,1].mean():.4f} ± {r[:,1].std():.4f}")
