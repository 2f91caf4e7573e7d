"""Train a healthtag model end to end from a YAML config.

Steps: weak dataset (rules + label model over unlabeled text) → pooled
vectors from the frozen encoder (cached) → document and sentence heads
(noise-aware) → thresholds calibrated on the gold dev file → model directory
with config, heads, kept vocabulary, evaluation JSON and model card.

    python -m healthtag.training.train --config configs/default.yaml
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
from healthtag.models.model_config import HeadsShape, ModelConfig
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy, taxonomy_digest
from healthtag.models.topic_model import FAST_LAYERS_FILE, save_model
from healthtag.models.vocab_trim import trimmed_tokenizer_path
from healthtag.resources import MODEL_LABEL_MODEL_FILE, MODEL_TAXONOMY_FILE

from .build_weak_dataset import build as build_weak
from .calibrate import folds
from .config import TrainConfig, load_train_config
from .evaluate import evaluate
from .features import article_features, extract_features
from .finetune import run_finetune
from .gold import file_digest, load_gold
from .heads_training import TrainingData, predict_docs, train_heads
from .model_calibration import calibrate
from .model_card import write_model_card
from .model_output import check_model_output, staged_model_dir
from .preflight import require_file, require_folder, require_inews
from .unit_labels import pool_rows

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None, help="override the config's output directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run(load_train_config(args.config), out=args.out)


def run(config: TrainConfig, out: Path | None = None) -> Path:
    from datasets import load_from_disk

    started = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(out or config.out)
    run_dir = config.run_path
    data_cfg = config.data
    settings = config.encoder
    preflight(config)
    tax = load_taxonomy(config.taxonomy)
    label_model_out = shipped_label_model_path(config, out)
    check_model_output(out, own_files=[label_model_out])   # a wrong --out is refused now, not after an hour

    weak_dir = run_dir / "weak"
    build_weak(Namespace(out=str(weak_dir), corpus=data_cfg.corpus, seeds=data_cfg.seeds,
                         taxonomy=config.taxonomy, no_inews=data_cfg.no_inews, inews_limit=data_cfg.inews_limit,
                         save_label_model=label_model_out, extra_corpora=data_cfg.extra_corpora,
                         peoples_daily=data_cfg.peoples_daily, exclude_gold=data_cfg.exclude_gold,
                         general_health_rate=data_cfg.general_health_rate, general_gate=data_cfg.general_gate),
               vote_settings=config.combination.votes)
    weak = load_from_disk(str(weak_dir / "dataset"))
    labels = json.loads((weak_dir / "label_names.json").read_text(encoding="utf-8"))
    finetuned = None
    caps = config.token_caps(weak["source"])
    if config.finetune.enabled:
        finetuned = run_finetune(weak, settings, config.finetune, caps, run_dir)
        settings = finetuned.settings
    features = extract_features(weak["title"], weak["sentences"], settings, max_tokens=caps,
                                cache_dir=run_dir / "features", desc="weak-set vectors")
    t_features = time.perf_counter() - started

    weak_data = pool_rows(weak, features, config, labels)
    reviewed, reviewed_keys = reviewed_rows(data_cfg.labelled, labels, settings, run_dir, data_cfg.labelled_weight)
    data = weak_data if reviewed is None else weak_data.concat(reviewed)
    heads, train_log = train_heads(data, config.training, run_dir)
    log.info("heads trained in %.0fs (%d articles)", train_log.seconds, len(data))

    gold_path = Path(data_cfg.calibration_gold)
    gold = load_gold(gold_path)
    gold_features = article_features(gold.articles, settings, run_dir / "features", "calibration vectors")
    gold_doc = torch.tensor(np.asarray(gold_features["doc_vec"], dtype=np.float32))
    shipped_network = predict_docs(heads, gold_doc).numpy()
    network = shipped_network if reviewed is None else out_of_fold_for_reviewed(
        shipped_network, gold_doc, gold.articles, weak_data, reviewed, reviewed_keys, config.training)
    gate = gate_network = None
    if data_cfg.gate_gold:
        gate = load_gold(Path(data_cfg.gate_gold))
        gate_features = article_features(gate.articles, settings, run_dir / "features", "gate-set vectors")
        gate_network = predict_docs(heads, torch.tensor(np.asarray(gate_features["doc_vec"], dtype=np.float32))).numpy()
    extra = []
    for path in data_cfg.calibration_extra:
        more = load_gold(Path(path))
        more_features = article_features(more.articles, settings, run_dir / "features", "extra calibration vectors")
        extra.append((more, predict_docs(heads, torch.tensor(np.asarray(more_features["doc_vec"],
                                                                         dtype=np.float32))).numpy()))
    calibrated = calibrate(tax, labels, config.combination, gold, network, gate, gate_network,
                           network_is_out_of_fold=network is not shipped_network, extra=extra)
    model_config = ModelConfig(
        name=config.name,
        encoder=settings,
        labels=labels,
        label_names={lab.id: lab.name for lab in tax.all_labels},
        thresholds=calibrated.thresholds,
        network_thresholds=calibrated.network_thresholds,
        evidence_thresholds=calibrated.evidence_thresholds,
        heads=HeadsShape(heads.hidden, heads.n_outputs, heads.head_hidden),
        combination=config.combination,
        summary=config.summary,
        taxonomy_digest=taxonomy_digest(tax),
        calibration=calibrated.record,
        training={"config": _plain(config.training), "articles": len(data),
                  "paragraph_rows": len(weak_data) - len(weak),
                  "general_gate": {"targets": data_cfg.general_gate, "general_health_rate": data_cfg.general_health_rate,
                                   "finetune_targets": config.finetune.targets if config.finetune.enabled else None},
                  "reviewed_labels": [{"file": Path(p).name, "digest": file_digest(Path(p))} for p in data_cfg.labelled],
                  "train_seconds_total": round(time.perf_counter() - started, 1),
                  "timing": {"feature_seconds": round(t_features, 1), "heads_seconds": round(train_log.seconds, 1)},
                  **({"finetune": {"config": _plain(config.finetune), "history": finetuned.history,
                                   "seconds": finetuned.seconds, "reused": finetuned.reused}} if finetuned else {})},
    )
    kept = Path(settings.kept_vocab) if settings.kept_vocab else None
    tokenizer = trimmed_tokenizer_path(kept) if kept is not None and trimmed_tokenizer_path(kept).exists() else None
    # built aside and swapped in whole: a run that dies here leaves the previous model as it was;
    # a fast path distilled from the previous weights does not carry over
    # the rules travel with the model when they are not the bundled ones; a stale copy never does
    with staged_model_dir(out, drop=[FAST_LAYERS_FILE, MODEL_TAXONOMY_FILE, MODEL_LABEL_MODEL_FILE],
                          own_files=[label_model_out]) as stage:
        save_model(stage, model_config, heads, kept, tokenizer)
        if config.taxonomy is not None:
            shutil.copyfile(config.taxonomy, stage / MODEL_TAXONOMY_FILE)
            shutil.copyfile(weak_dir / "label_model.json", stage / MODEL_LABEL_MODEL_FILE)
        train_seconds = time.perf_counter() - started
        result, text = evaluate(gold_path, stage, gate_path=Path(data_cfg.gate_gold) if data_cfg.gate_gold else None)
        (stage / "eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        write_model_card(stage)
    log.info("%s", text)
    log.info("\nmodel written to %s in %.1f min of training (%.1f min of it encoder vectors)",
             out, train_seconds / 60, t_features / 60)
    return out


def shipped_label_model_path(config: TrainConfig, out: Path) -> str | None:
    """Where this run may save its label model: the config's ``label_model_out`` unless ``--out`` moved the model.

    That file ships beside the config's model (``evaluate --rules-only`` reads it), so a run whose model goes
    elsewhere, an experiment, must not rewrite it; its label model stays in the run folder's ``weak/``. Nor must
    a run on another taxonomy: the shipped file belongs to the bundled rules, and that model keeps its own.
    """
    if config.label_model_out is not None and config.taxonomy is not None:
        log.info("trained on %s: %s is left as it is (this model keeps its own label model)", config.taxonomy,
                 config.label_model_out)
        return None
    if config.label_model_out is None or Path(out).resolve() == Path(config.out).resolve():
        return config.label_model_out
    log.info("the model goes to %s, not %s: %s is left as it is (this run's label model: %s)", out, config.out,
             config.label_model_out, config.run_path / "weak" / "label_model.json")
    return None


def reviewed_rows(paths: list[str], labels: list[str], settings, run_dir: Path, weight: float):
    """Training rows from reviewed labels (gold-format JSONL or the review CSV) and each row's article key;
    (None, []) when there are none."""
    if not paths:
        return None, []
    arts, sets = [], []
    for path in paths:
        gold = load_gold(Path(path))
        arts += gold.articles
        sets += gold.labels
    features = article_features(arts, settings, run_dir / "features", "reviewed-label vectors")
    log.info("%d reviewed articles join the weak labels (weight %.1f)", len(arts), weight)
    return TrainingData.labelled(features, [a.sentences for a in arts], sets, labels, weight), [article_key(a) for a in arts]


def article_key(article) -> str:
    """Same title and sentences = same article, whatever id a review sheet gave it."""
    return article.title + "\x1e" + "\x1f".join(article.sentences)


def out_of_fold_for_reviewed(network: np.ndarray, gold_doc: torch.Tensor, gold_articles, weak_data: TrainingData,
                             reviewed: TrainingData, reviewed_keys: list[str], training, k: int = 2) -> np.ndarray:
    """Calibration scores that are out of fold for calibration articles that are also reviewed labels.

    Thresholds fitted on articles whose labels the heads just learned come
    out too lenient (the heads are over-confident there), so each of ``k``
    folds of the calibration file is scored by heads trained without that
    fold's reviewed labels. Calibration articles nobody reviewed keep the
    shipped heads' scores.
    """
    keys = [article_key(a) for a in gold_articles]
    if not set(keys) & set(reviewed_keys):
        return network
    out = network.copy()
    quick = dataclasses.replace(training, sentence_loss_weight=0.0)   # thresholds need the document head only
    for fold in folds(len(keys), k, training.seed):
        held = {keys[i] for i in fold}
        keep = [j for j, key in enumerate(reviewed_keys) if key not in held]
        data = weak_data.concat(reviewed.subset(keep)) if keep else weak_data
        fold_heads, _ = train_heads(data, quick)
        out[fold] = predict_docs(fold_heads, gold_doc[fold]).numpy()
    log.info("calibration scores out of fold for %d reviewed calibration articles (%d folds)",
             len(set(keys) & set(reviewed_keys)), k)
    return out


def preflight(config: TrainConfig) -> None:
    """Everything the run reads must exist before the first encoder pass."""
    data = config.data
    if config.taxonomy is not None:
        require_file(config.taxonomy, "taxonomy (taxonomy / --taxonomy)", "a taxonomy YAML like configs/taxonomy.yaml")
    require_file(data.calibration_gold, "calibration gold (data.calibration_gold)")
    for path in data.calibration_extra:
        require_file(path, "extra calibration gold (data.calibration_extra)")
    learned = {Path(p).resolve() for p in data.labelled}
    for path in data.calibration_extra:
        if Path(path).resolve() in learned:
            raise ValueError(f"{path}: both reviewed labels (data.labelled) and extra calibration gold: thresholds "
                             "fitted on labels the heads learned would be too lenient; use it as one or the other")
    if data.gate_gold is not None:
        require_file(data.gate_gold, "gate set (data.gate_gold)")
    if data.corpus is not None:
        require_file(data.corpus, "unlabeled corpus (data.corpus)")
    if data.seeds is not None:
        require_folder(data.seeds, "seed pages (data.seeds)")
    if not data.no_inews:
        require_inews()
    for path in [*data.extra_corpora, *data.exclude_gold]:
        require_file(path, "file named in the data section")
    for path in data.labelled:
        require_file(path, "reviewed labels (data.labelled / --labelled)")
    if config.encoder.kept_vocab is not None:
        require_file(config.encoder.kept_vocab, "kept vocabulary (encoder.kept_vocab)",
                     "build it with python -m healthtag.training.build_vocab")


def _plain(obj) -> dict:
    from healthtag.models.typed_config import to_plain

    return to_plain(obj)


if __name__ == "__main__":
    main()
