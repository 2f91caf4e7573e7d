"""Why the network learns what it learns: weak positives per topic, rule precision, what the network adds
or repeats compared with the rules, and a learning curve. Writes a markdown section for the model card.

    python -m healthtag.training.diagnose --config configs/default.yaml --out docs/diagnosis.md

Dev figures use cross-validated thresholds (5 folds); the heads are trained on
the weak labels only (no dev label), so nothing here is fitted on dev except
thresholds, out of fold.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from healthtag.inference.records import write_atomically
from healthtag.models.evidence import each_rule_alone, predicted_labels
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy

from .build_weak_dataset import source_family
from .calibrate import cross_validated_sets
from .config import load_train_config
from .crossfit import load_weak_run
from .features import article_features
from .heads_training import predict_docs, train_heads
from .topic_eval import score_topics

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from datasets import load_from_disk

    config = load_train_config(args.config)
    run = load_weak_run(config)
    dev, data, labels = run.dev, run.weak_data, run.labels
    weak = load_from_disk(str(config.run_path / "weak" / "dataset"))
    dev_feats = article_features(dev.articles, run.settings, config.run_path / "features", "dev vectors")
    tax = load_taxonomy(config.taxonomy)
    dev_doc = torch.tensor(np.asarray(dev_feats["doc_vec"], dtype=np.float32))
    rules_sets = [set(predicted_labels(each_rule_alone(v, tax))) for v in Scorer(tax).score(dev.articles).votes]
    rules = score_topics("rules", dev.labels, rules_sets, tax.label_ids)
    weak_pos = Counter(lab for labs in weak["labels"] for lab in labs)
    by_source = Counter(source_family(s) for s in weak["source"])

    curve = []
    net_sets = None
    rng = np.random.default_rng(0)
    for fraction in sorted(args.fractions):
        idx = np.sort(rng.permutation(len(data))[: int(len(data) * fraction)])
        part = data.subset(idx.tolist())
        heads, _ = train_heads(part, dataclasses.replace(config.training, sentence_loss_weight=0.0))
        net = predict_docs(heads, dev_doc).numpy()
        sets = cross_validated_sets(net, dev.labels, labels)
        rep = score_topics("network", dev.labels, sets, tax.label_ids)
        curve.append((fraction, len(idx), rep.micro_f1, rep.macro_f1))
        net_sets, net_report = sets, rep

    lines = ["## Why the network learns what it learns", "",
             f"Command: `python -m healthtag.training.diagnose --config {args.config}`. Pool: {len(weak)} articles "
             f"({', '.join(f'{k} {v}' for k, v in by_source.most_common())})"
             + (f", plus {len(data) - len(weak)} paragraph rows (`data.unit_labels`)" if len(data) > len(weak) else "")
             + ". Dev figures: 5-fold cross-validated "
             "thresholds, heads trained on weak labels only.", "",
             "| topic | weak positives in pool | dev support | rules P / R | network P / R | rule-missed TPs the network finds | rule FPs the network repeats |",
             "|---|---|---|---|---|---|---|"]
    for lab in [*tax.label_ids, NON_HEALTH]:
        r, n = rules.per_label[lab], net_report.per_label[lab]
        found = sum(1 for g, rs, ns in zip(dev.labels, rules_sets, net_sets) if lab in g and lab not in rs and lab in ns)
        repeated = sum(1 for g, rs, ns in zip(dev.labels, rules_sets, net_sets)
                       if lab not in g and lab in rs and lab in ns)
        lines.append(f"| {lab} | {weak_pos.get(lab, 0)} | {r.tp + r.fn} | {r.precision:.2f} / {r.recall:.2f} | "
                     f"{n.precision:.2f} / {n.recall:.2f} | {found} | {repeated} |")
    lines += ["", f"Rules: micro-F1 {rules.micro_f1:.3f}, macro-F1 {rules.macro_f1:.3f}.", "",
              "Learning curve of the network alone (a random share of the pool, one seed):", "",
              "| share of pool | training rows | micro-F1 | macro-F1 |", "|---|---|---|---|"]
    lines += [f"| {f:.2f} | {n} | {mi:.3f} | {ma:.3f} |" for f, n, mi, ma in curve]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, ("\n".join(lines) + "\n").encode("utf-8"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
