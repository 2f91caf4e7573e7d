"""Fit a finished model's thresholds again under the config's combination, keeping its heads and fast path.

How the network's probabilities and the rules' evidence become one score
(`combination.combine`, `combination.rules_alone_weight`) is applied after the
heads, so changing it needs new thresholds, not new heads; so does changing the gold the
thresholds are fitted on (`data.calibration_extra`). Retraining would
give the same heads and throw away the distilled fast path (half an hour to
distil again). This fits the thresholds exactly as `train` does
(`model_calibration.calibrate`, scores of the full encoder), rewrites the
model's config, evaluation and card in a staged copy and swaps it in whole.
The fast path's validation records were measured under the old thresholds, so
they are dropped; `fast_check` records them again.

    python -m healthtag.training.recalibrate --config configs/default.yaml [--model DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

from healthtag.models.model_config import CombineSettings, read_model_config, write_model_config
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import load_taxonomy, taxonomy_digest
from healthtag.models.topic_model import TopicSummaryModel

from .config import TrainConfig, load_train_config
from .evaluate import evaluate, score_in_batches
from .gold import load_gold
from .model_calibration import calibrate
from .model_card import write_model_card
from .model_output import staged_model_dir

log = logging.getLogger(__name__)
# what may change without retraining: both act on the heads' outputs only
AFTER_THE_HEADS = ("combine", "rules_alone_weight")


class NeedsRetraining(SystemExit):
    """The config differs from the model in something its heads were trained with."""


def check_recalibratable(model: CombineSettings, wanted: CombineSettings, training: dict, digest_ok: bool) -> None:
    """Refuse what thresholds alone cannot change: rule evidence and vote constants shape the weak labels
    the heads learned, reviewed labels need out-of-fold calibration scores, other rules another model."""
    same_elsewhere = dataclasses.replace(wanted, **{k: getattr(model, k) for k in AFTER_THE_HEADS}) == model
    if not same_elsewhere:
        raise NeedsRetraining("the config's rule evidence or vote constants differ from the model's; they shape "
                              "the weak labels the heads learned, so retrain (python -m healthtag.training.train)")
    if training.get("reviewed_labels"):
        raise NeedsRetraining("this model learned from reviewed labels, whose calibration scores must come from "
                              "heads trained without them; retrain (python -m healthtag.training.train)")
    if not digest_ok:
        raise NeedsRetraining("the taxonomy or rules changed since this model was trained; retrain")


def run(config: TrainConfig, model_dir: Path | None = None) -> Path:
    model_dir = Path(model_dir or config.out)
    current = read_model_config(model_dir)
    tax = load_taxonomy(config.taxonomy)
    check_recalibratable(current.combination, config.combination, current.training,
                         current.taxonomy_digest == taxonomy_digest(tax))
    model = TopicSummaryModel.load(model_dir, runtime="full")
    scorer = Scorer(tax, current.labels, current.combination, network=model)
    gold_path = Path(config.data.calibration_gold)
    gold = load_gold(gold_path)
    gate_path = Path(config.data.gate_gold) if config.data.gate_gold else None
    gate = load_gold(gate_path) if gate_path else None
    extra = [load_gold(Path(path)) for path in config.data.calibration_extra]
    network = {"gold": score_in_batches(scorer, gold.articles),
               "gate": score_in_batches(scorer, gate.articles) if gate else None,
               "extra": [score_in_batches(scorer, more.articles) for more in extra]}
    calibrated = calibrate(tax, current.labels, config.combination, gold, network["gold"].network, gate,
                           network["gate"].network if gate else None,
                           extra=[(more, sc.network) for more, sc in zip(extra, network["extra"])])
    with staged_model_dir(model_dir) as stage:
        staged = read_model_config(stage)     # file paths inside the copy, not the folder it replaces
        fast = staged.fast and dataclasses.replace(staged.fast, validation={})
        write_model_config(stage, dataclasses.replace(
            staged, combination=config.combination, thresholds=calibrated.thresholds,
            network_thresholds=calibrated.network_thresholds, evidence_thresholds=calibrated.evidence_thresholds,
            calibration=calibrated.record, fast=fast))
        result, text = evaluate(gold_path, stage, gate_path=gate_path, runtime="full", network_scores=network)
        (stage / "eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        write_model_card(stage)
    log.info("%s", text)
    log.info("\n%s: thresholds fitted again under %s; run python -m healthtag.training.fast_check to validate its "
             "fast path again", model_dir, config.combination)
    return model_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="the model directory (default: the config's out)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run(load_train_config(args.config), args.model)


if __name__ == "__main__":
    main()
