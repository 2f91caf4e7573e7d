"""Train a healthtag model end to end from a YAML config.

Steps: weak dataset (rules + label model over unlabeled text) → pooled
vectors from the frozen encoder (cached) → document and sentence heads
(noise-aware) → thresholds calibrated on the gold dev file → model directory
with config, heads, kept vocabulary, evaluation JSON and model card.

    python -m healthtag.training.train --config configs/default.yaml
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
import yaml

from healthtag.models.runtime import EncoderSettings
from healthtag.models.topic_model import combine_scores, save_model

from .build_weak_dataset import build as build_weak
from .calibrate import fit_thresholds
from .evaluate import evaluate, load_gold, rule_scores
from .features import extract_features
from .heads_training import HeadTrainingConfig, TrainingData, predict_docs, train_heads
from .model_card import write_model_card


def load_config(path: Path) -> dict:
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: cannot read config ({exc})")
    for key in ("out", "encoder", "data", "training"):
        if key not in (config or {}):
            raise SystemExit(f"{path}: missing section {key!r}")
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None, help="override the config's output directory")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    run(config, out=args.out)


def run(config: dict, out: Path | None = None) -> Path:
    from datasets import load_from_disk

    started = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(out or config["out"])
    run_dir = Path(config.get("run_dir", "runs/" + config.get("name", "model")))
    data_cfg = config["data"]
    settings = EncoderSettings.from_dict(config["encoder"])

    weak_dir = run_dir / "weak"
    build_weak(Namespace(out=str(weak_dir), corpus=data_cfg.get("corpus"), seeds=data_cfg.get("seeds"),
                         taxonomy=None, no_inews=data_cfg.get("no_inews", False),
                         inews_limit=data_cfg.get("inews_limit"), save_label_model=None))
    weak = load_from_disk(str(weak_dir / "dataset"))
    labels = json.loads((weak_dir / "label_names.json").read_text(encoding="utf-8"))
    features = extract_features(weak["title"], weak["sentences"], settings,
                                max_tokens=data_cfg.get("max_train_tokens"),
                                cache_dir=run_dir / "features", desc="weak-set vectors")
    t_features = time.perf_counter() - started

    train_cfg = HeadTrainingConfig.from_dict(config["training"])
    data = TrainingData.build(features, weak, "soft_labels")
    heads, log = train_heads(data, train_cfg, run_dir)
    print(f"heads trained in {log.seconds:.0f}s ({len(data)} articles)", file=sys.stderr)

    gold_path = Path(data_cfg["calibration_gold"])
    gold = load_gold(gold_path)
    gold_features = extract_features([a.title for a in gold.articles], [a.sentences for a in gold.articles],
                                     settings, cache_dir=run_dir / "features", desc="calibration vectors")
    network = predict_docs(heads, torch.tensor(np.asarray(gold_features["doc_vec"], dtype=np.float32))).numpy()
    combine = config.get("combine", "max")
    evidence_kind = config.get("rule_evidence", "weighted_vote")
    evidence = rule_scores(gold.articles, labels, evidence=evidence_kind)
    combined = combine_scores(network, evidence, combine)
    model_config = {
        "name": config.get("name", out.name),
        "encoder": settings.to_dict(),
        "labels": labels,
        "label_names": _label_names(),
        "thresholds": fit_thresholds(combined, gold.labels, labels),
        "network_thresholds": fit_thresholds(network, gold.labels, labels),
        "evidence_thresholds": fit_thresholds(evidence, gold.labels, labels),
        "combine": combine,
        "rule_evidence": evidence_kind,
        "summary": config.get("summary", {}),
        "calibration": {"gold": gold_path.name, "gold_digest": gold.digest, "articles": len(gold.articles)},
        "training": {"config": config["training"], "articles": len(data),
                     "train_seconds_total": round(time.perf_counter() - started, 1)},
    }
    save_model(out, model_config, heads, Path(settings.kept_vocab) if settings.kept_vocab else None)
    train_seconds = time.perf_counter() - started
    result, text = evaluate(gold_path, out)
    (out / "eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    write_model_card(out, config, result, text, log, train_seconds, t_features, len(data))
    print(text)
    print(f"\nmodel written to {out} in {train_seconds / 60:.1f} min of training "
          f"({t_features / 60:.1f} min of it encoder vectors)")
    return out


def _label_names() -> dict[str, str]:
    from healthtag.models.taxonomy import load_taxonomy

    return {lab.id: lab.name for lab in load_taxonomy(None).all_labels}


if __name__ == "__main__":
    main()
