"""Repeated cross-validation on dev: how a training recipe does out of fold, with its spread.

For every seed and every fold split of dev, the heads are trained (on the
weak labels, plus the dev articles of the other folds when ``--labelled`` asks
for reviewed labels), thresholds are fitted on the other folds, and the held-out
fold is decided; each seed gives one out-of-fold prediction per dev article.
The table reports mean ± standard deviation over seeds for the rules, the
network alone and the model under each health-gate choice, side by side, and
the gate's accuracy on the general-news gate set (its threshold fitted on the
other folds of dev plus the other folds of the gate set, so that figure is
out of fold too).

    python -m healthtag.training.crossfit --config configs/default.yaml --seeds 3 --folds 5 --labelled 0 50 all

It reads the run directory that `train` leaves (weak dataset, vector cache);
dev is the config's calibration gold, and nothing it computes is written into
a model. The config's extra calibration gold (`data.calibration_extra`, the seed
pages) joins every fold's topic-threshold fit, as it joins the shipped fit, and
is never held out: the figures stay out of fold for dev.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from healthtag.inference.records import write_atomically
from healthtag.models.encoder_settings import EncoderSettings
from healthtag.models.evidence import each_rule_alone, predicted_labels
from healthtag.models.model_config import CombineSettings
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy

from .calibrate import ExtraCalibration, decide_labels, fitting_with, folds, gate_threshold
from .config import TrainConfig, load_train_config
from .features import article_features, extract_features
from .finetune import encoder_for
from .gold import GoldSet, load_gold
from .heads_training import TrainingData, predict_docs, train_heads
from .preflight import MissingInput, require_file
from .topic_eval import TopicReport, paired_bootstrap, score_topics
from .unit_labels import pool_rows

log = logging.getLogger(__name__)
GATES = ("max_rules_gate", "max_network_gate", "max_mean_gate")


@dataclass
class WeakRun:
    """What a finished `train` run leaves for experiments: dev, the weak pool as training rows, the labels."""

    dev: GoldSet
    weak_data: TrainingData
    labels: list[str]
    settings: EncoderSettings     # the encoder the vectors come from (tuned top layers when the recipe tunes)


def combination_variants(combination: CombineSettings, tax, labels: list[str]) -> dict[str, Scorer]:
    """The combinations compared side by side: each health gate with the configured rule weighting,
    and, when the rules are weighted by the network's agreement, the configured gate without it."""
    variants = {combine: Scorer(tax, labels, dataclasses.replace(combination, combine=combine)) for combine in GATES}
    if combination.rules_alone_weight < 1.0:
        variants[f"{combination.combine}, rules_alone_weight 1"] = Scorer(
            tax, labels, dataclasses.replace(combination, rules_alone_weight=1.0))
    return variants


def load_weak_dataset(config: TrainConfig):
    """The weak dataset ``train`` left in ``config``'s run directory, and its label order."""
    from datasets import load_from_disk

    run_dir = config.run_path
    if not (run_dir / "weak" / "dataset").exists():
        raise MissingInput(f"{run_dir / 'weak'}: no weak dataset; run python -m healthtag.training.train first")
    labels = json.loads((run_dir / "weak" / "label_names.json").read_text(encoding="utf-8"))
    return load_from_disk(str(run_dir / "weak" / "dataset")), labels


def weak_training_rows(config: TrainConfig, weak, labels: list[str],
                       target_column: str = "soft_labels") -> tuple[TrainingData, EncoderSettings]:
    """The pool's training rows as `train` builds them, vectors from the run's cache, and the encoder they
    come from; ``target_column`` picks the article rows' targets."""
    settings = encoder_for(config, weak)
    features = extract_features(weak["title"], weak["sentences"], settings,
                                max_tokens=config.token_caps(weak["source"]), cache_dir=config.run_path / "features",
                                desc="weak-set vectors")
    return pool_rows(weak, features, config, labels, target_column), settings


def load_weak_run(config: TrainConfig) -> WeakRun:
    """The weak dataset and vector cache of ``config``'s run directory (vectors come from the cache)."""
    weak, labels = load_weak_dataset(config)
    dev = load_gold(require_file(config.data.calibration_gold, "dev gold (data.calibration_gold)"))
    rows, settings = weak_training_rows(config, weak, labels)
    return WeakRun(dev, rows, labels, settings)


def _doc(features) -> torch.Tensor:
    return torch.tensor(np.asarray(features["doc_vec"], dtype=np.float32))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--labelled", nargs="+", default=["0"], help="dev articles used as reviewed labels: N or all")
    parser.add_argument("--gate", type=Path, default=Path("../shared/gold/gate.jsonl"))
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs (faster sweeps)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_train_config(args.config)
    run = load_weak_run(config)
    dev, weak_data, labels = run.dev, run.weak_data, run.labels
    gate = load_gold(require_file(args.gate, "gate set (--gate)"))
    cache = config.run_path / "features"
    dev_features = article_features(dev.articles, run.settings, cache, "dev vectors")
    gate_features = article_features(gate.articles, run.settings, cache, "gate vectors")
    dev_doc, gate_doc = _doc(dev_features), _doc(gate_features)
    # the extra calibration gold (seed pages) joins every fold's topic-threshold fit, as it joins the shipped one
    extra = [load_gold(require_file(p, "extra calibration gold (data.calibration_extra)"))
             for p in config.data.calibration_extra]
    extra_articles = [a for more in extra for a in more.articles]
    extra_labels = [lab for more in extra for lab in more.labels]
    extra_doc = _doc(article_features(extra_articles, run.settings, cache, "extra calibration vectors")) if extra else None
    tax = load_taxonomy(config.taxonomy)
    # topics and the gate come from the document head alone; the sentence head is not trained here
    training = dataclasses.replace(config.training, sentence_loss_weight=0.0,
                                   epochs=args.epochs or config.training.epochs)
    nh = labels.index(NON_HEALTH)
    dev_votes = Scorer(tax).score(dev.articles).votes         # the rules are applied once, not per fold
    gate_votes = Scorer(tax).score(gate.articles).votes
    extra_votes = Scorer(tax).score(extra_articles).votes if extra else []
    rules_sets = [set(predicted_labels(each_rule_alone(v, tax))) for v in dev_votes]
    rules_gate = float(np.mean([(NON_HEALTH in set(predicted_labels(each_rule_alone(v, tax)))) == (NON_HEALTH in g)
                                for v, g in zip(gate_votes, gate.labels)]))
    scorers = combination_variants(config.combination, tax, labels)
    results = {}
    for amount in args.labelled:
        rows: dict[str, list[dict]] = {}
        started = time.perf_counter()
        for seed in range(args.seeds):
            def _train(reviewed: list[int], seed: int = seed):
                """Heads on the weak pool plus the ``reviewed`` dev articles as clean labels."""
                data = weak_data
                if reviewed:
                    data = weak_data.concat(TrainingData.labelled(
                        dev_features.select(reviewed), [dev.articles[i].sentences for i in reviewed],
                        [dev.labels[i] for i in reviewed], labels, config.data.labelled_weight))
                return train_heads(data, dataclasses.replace(training, seed=training.seed + seed))[0]

            split = folds(len(dev.articles), args.folds, seed)
            gate_split = folds(len(gate.articles), args.folds, seed)
            oof: dict[str, list[set[str] | None]] = {}
            gate_ok: dict[str, list[bool]] = {name: [] for name in scorers}
            heads = None
            for k, held in enumerate(split):
                held_set, gate_held = set(held), set(gate_split[k])
                train_idx = [i for i in range(len(dev.articles)) if i not in held_set]
                reviewed = _reviewed(train_idx, amount, seed)
                if heads is None or reviewed:
                    heads = _train(reviewed)
                net_dev = predict_docs(heads, dev_doc).numpy()
                net_gate = predict_docs(heads, gate_doc).numpy()
                net_extra = predict_docs(heads, extra_doc).numpy() if extra else None
                # thresholds need scores the heads did not learn: with reviewed labels, each half of the
                # training folds is scored by heads trained on the other half's labels only (nested)
                net_fit = net_dev if not reviewed else _nested_scores(net_dev, dev_doc, train_idx, reviewed,
                                                                          seed, _train)
                g_train = [i for i in range(len(gate.articles)) if i not in gate_held]
                for variant, scorer in scorers.items():
                    scores = scorer.score(dev.articles, network=net_dev, votes=dev_votes)
                    fit = scores if net_fit is net_dev else scorer.score(dev.articles, network=net_fit, votes=dev_votes)
                    gscores = scorer.score(gate.articles, network=net_gate, votes=gate_votes)
                    train_labels = [dev.labels[i] for i in train_idx]
                    always = (ExtraCalibration(scorer.score(extra_articles, network=net_extra, votes=extra_votes).combined,
                                               extra_labels) if extra else None)
                    thr = fitting_with(always)(fit.combined[train_idx], train_labels, labels)
                    thr[NON_HEALTH] = gate_threshold(fit.combined[train_idx], train_labels,
                                                     gscores.combined[g_train], [gate.labels[i] for i in g_train],
                                                     labels)
                    for i, s in zip(held, decide_labels(scores.combined[held], labels, thr)):
                        oof.setdefault(f"model ({variant})", [None] * len(dev.articles))[i] = s
                    for i in gate_split[k]:
                        gate_ok[variant].append((gscores.combined[i, nh] >= thr[NON_HEALTH])
                                                == (NON_HEALTH in gate.labels[i]))
                    if variant == GATES[0]:
                        nthr = fitting_with(ExtraCalibration(net_extra, extra_labels) if extra else None)(
                            net_fit[train_idx], [dev.labels[i] for i in train_idx], labels)
                        for i, s in zip(held, decide_labels(net_dev[held], labels, nthr)):
                            oof.setdefault("network alone", [None] * len(dev.articles))[i] = s
            reports = {"rules": score_topics("rules", dev.labels, rules_sets, tax.label_ids)}
            reports.update({name: score_topics(name, dev.labels, sets, tax.label_ids) for name, sets in oof.items()})
            shipped = f"model ({config.combination.combine})"
            for name, rep in reports.items():
                row = rep.summary()
                if name.startswith("model ("):
                    row["gate_accuracy"] = float(np.mean(gate_ok[name[7:-1]]))
                if name == "rules":
                    row["gate_accuracy"] = rules_gate
                if name == shipped:
                    row.update(margin_interval(reports["rules"], rep, seed))
                rows.setdefault(name, []).append(row)
        results[amount] = _summarise(rows)
        _print(amount, results[amount], args, time.perf_counter() - started)
    if args.json:
        write_atomically(args.json, json.dumps(results, indent=1).encode("utf-8"))


def margin_interval(rules: TopicReport, model: TopicReport, seed: int) -> dict[str, float]:
    """This seed's model-minus-rules margin with its 95 % paired bootstrap interval over dev's articles.

    The spread over seeds says how much the procedure varies on these articles; the interval says how far
    another draw of articles from the same sources could move the margin, which is what a bar asks.
    """
    interval = paired_bootstrap(rules, model, draws=1000, seed=seed)
    return {"margin_micro": model.micro_f1 - rules.micro_f1, "margin_micro_low": interval["micro_f1"][0],
            "margin_micro_high": interval["micro_f1"][1], "margin_macro": model.macro_f1 - rules.macro_f1,
            "margin_macro_low": interval["macro_f1"][0], "margin_macro_high": interval["macro_f1"][1]}


def _nested_scores(net_dev: np.ndarray, dev_doc: torch.Tensor, train_idx: list[int], reviewed: list[int], seed: int,
                   train) -> np.ndarray:
    """Network scores for the training folds that are out of fold for their own reviewed labels.

    Fitting thresholds on articles whose labels the heads just learned makes
    them too lenient exactly where the network is over-confident; the last
    round found reviewed labels "not helping" for that reason. Two inner
    halves each get scores from heads trained on the other half's labels.
    """
    out = net_dev.copy()
    halves = folds(len(train_idx), 2, 1000 + seed)
    reviewed_set = set(reviewed)
    for h, half in enumerate(halves):
        scored = [train_idx[j] for j in half]
        others = sorted(i for j in halves[1 - h] if (i := train_idx[j]) in reviewed_set)
        out[scored] = predict_docs(train(others), dev_doc[scored]).numpy()
    return out


def _reviewed(train_idx: list[int], amount: str, seed: int) -> list[int]:
    if amount == "0":
        return []
    if amount == "all":
        return list(train_idx)
    rng = np.random.default_rng(seed)
    return sorted(rng.permutation(train_idx)[: int(amount)].tolist())


def _summarise(rows: dict[str, list[dict]]) -> dict:
    """Mean and spread over seeds per figure, plus each seed's figures under ``per_seed``.

    Two recipes run with the same ``--seeds`` share their fold splits and head seeds
    seed by seed, so their difference can be compared pairwise, not only through
    the two spreads.
    """
    out = {}
    for name, runs in rows.items():
        out[name] = {k: (round(float(np.mean([r[k] for r in runs])), 4), round(float(np.std([r[k] for r in runs])), 4))
                     for k in runs[0] if k != "n"}
        out[name]["per_seed"] = [{k: round(float(v), 4) for k, v in r.items() if k != "n"} for r in runs]
    return out


def _print(amount: str, table: dict, args, seconds: float) -> None:
    keys = ["micro_f1", "macro_f1", "topic_micro_f1", "non_health_accuracy", "gate_accuracy"]
    print(f"\ndev labels used as reviewed labels: {amount} (cross-fitted), {args.seeds} seeds x {args.folds} folds, "
          f"{seconds / 60:.1f} min; mean ± std over seeds")
    print(f"{'':44}" + "".join(f"{k:>22}" for k in keys))
    for name, row in table.items():
        print(f"{name:44}" + "".join(f"{row[k][0]:>14.3f} ± {row[k][1]:.3f}" if k in row else f"{'':>22}"
                                     for k in keys))
    for name, row in table.items():
        if "margin_micro" in row:
            print(f"{name} minus rules: micro-F1 {row['margin_micro'][0]:+.3f} (95 % paired bootstrap over dev's "
                  f"articles [{row['margin_micro_low'][0]:+.3f}, {row['margin_micro_high'][0]:+.3f}]), macro-F1 "
                  f"{row['margin_macro'][0]:+.3f} [{row['margin_macro_low'][0]:+.3f}, {row['margin_macro_high'][0]:+.3f}]; "
                  "intervals averaged over seeds")


if __name__ == "__main__":
    main()
