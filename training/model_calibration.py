"""A model's thresholds: fitted on dev (and, for non_health, the gate set too; for the topics, the
seed pages too where the config names them) under the config's combination.

Why a module of its own: `train` calibrates the heads it has just trained, and
`recalibrate` calibrates a finished model's heads again when only the way the
network and the rules are combined changes (no retraining, so its distilled
fast path stays valid). Both must fit thresholds the same way, from the same
scores, or a recalibrated model would not be the one the training command
builds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from healthtag.models.model_config import CombineSettings
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, Taxonomy

from .calibrate import ExtraCalibration, fitting_with, gate_threshold
from .gold import GoldSet


@dataclass
class Calibration:
    thresholds: dict[str, float]             # on the combined scores: what predictions use
    network_thresholds: dict[str, float]     # on the network alone: for the `disagreement` list
    evidence_thresholds: dict[str, float]    # on the rule evidence alone: for the side-by-side evaluation
    record: dict                             # which files, digests and sizes it was fitted on


def calibrate(tax: Taxonomy, labels: list[str], combination: CombineSettings,
              gold: GoldSet, gold_network: np.ndarray,
              gate: GoldSet | None = None, gate_network: np.ndarray | None = None,
              network_is_out_of_fold: bool = False,
              extra: Sequence[tuple[GoldSet, np.ndarray]] = ()) -> Calibration:
    """Thresholds from network probabilities already computed for the gold (and gate) articles.

    ``extra`` (gold sets with their network probabilities: the seed pages) joins the fit of every
    topic threshold of all three kinds (`calibrate.fitting_with`); the health gate's comes from the
    calibration gold and the gate set alone.
    """
    scorer = Scorer(tax, labels, combination)
    scores = scorer.score(gold.articles, network=gold_network)
    extra_scores = [scorer.score(g.articles, network=n) for g, n in extra]

    def fit(which: str) -> dict[str, float]:
        joined = ExtraCalibration.joined([getattr(sc, which) for sc in extra_scores], [g.labels for g, _ in extra])
        return fitting_with(joined)(getattr(scores, which), gold.labels, labels)

    thresholds = fit("combined")
    record = {"gold": gold.path.name, "gold_digest": gold.digest, "articles": len(gold.articles),
              "reviewed_out_of_fold": network_is_out_of_fold}
    if extra:
        record["extra"] = [{"file": g.path.name, "path": str(g.path), "digest": g.digest, "articles": len(g.articles)}
                           for g, _ in extra]
    if gate is not None and gate_network is not None:
        gate_scores = scorer.score(gate.articles, network=gate_network)
        thresholds[NON_HEALTH] = gate_threshold(scores.combined, gold.labels, gate_scores.combined, gate.labels, labels)
        record.update(gate=gate.path.name, gate_digest=gate.digest, gate_articles=len(gate.articles))
    return Calibration(thresholds, fit("network"), fit("evidence"), record)
