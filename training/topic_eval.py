"""Multi-label topic metrics against gold label sets (DESIGN.md evaluation protocol).

Gold records list their labels as the annotators wrote them, with
`non_health` as a label of its own. Two views are reported: over all labels as
gold lists them (a correct non_health verdict counts as a true positive), and
over the topics alone (the stricter figure), plus non_health accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from healthtag.models.taxonomy import NON_HEALTH

from .calibrate import ExtraCalibration, cross_validated_sets
from .metrics import prf_from_counts


@dataclass
class LabelCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return prf_from_counts(self.tp, self.fp, self.fn)[0]

    @property
    def recall(self) -> float:
        return prf_from_counts(self.tp, self.fp, self.fn)[1]

    @property
    def f1(self) -> float:
        return prf_from_counts(self.tp, self.fp, self.fn)[2]


@dataclass
class TopicReport:
    name: str
    per_label: dict[str, LabelCounts] = field(default_factory=dict)
    n: int = 0
    non_health_correct: int = 0
    gold_sets: list[set[str]] = field(default_factory=list, repr=False)   # per article, for paired resampling
    predicted_sets: list[set[str]] = field(default_factory=list, repr=False)

    def _micro(self, labels: list[str]) -> float:
        tot = LabelCounts(
            sum(self.per_label[k].tp for k in labels),
            sum(self.per_label[k].fp for k in labels),
            sum(self.per_label[k].fn for k in labels),
        )
        return tot.f1

    def _labels(self, topics_only: bool) -> list[str]:
        # labels with gold support or predictions: a label nobody used has no F1
        return [k for k, c in self.per_label.items() if (c.tp + c.fp + c.fn) and not (topics_only and k == NON_HEALTH)]

    @property
    def micro_f1(self) -> float:
        return self._micro(self._labels(False))

    @property
    def macro_f1(self) -> float:
        labels = self._labels(False)
        return sum(self.per_label[k].f1 for k in labels) / len(labels) if labels else 0.0

    @property
    def topic_micro_f1(self) -> float:
        return self._micro(self._labels(True))

    @property
    def topic_macro_f1(self) -> float:
        labels = self._labels(True)
        return sum(self.per_label[k].f1 for k in labels) / len(labels) if labels else 0.0

    @property
    def non_health_accuracy(self) -> float:
        return self.non_health_correct / self.n if self.n else 0.0

    def summary(self) -> dict:
        return {
            "micro_f1": round(self.micro_f1, 4),
            "macro_f1": round(self.macro_f1, 4),
            "topic_micro_f1": round(self.topic_micro_f1, 4),
            "topic_macro_f1": round(self.topic_macro_f1, 4),
            "non_health_accuracy": round(self.non_health_accuracy, 4),
            "n": self.n,
        }

    def to_dict(self) -> dict:
        return {
            **self.summary(),
            "per_label": {
                k: {"p": round(c.precision, 4), "r": round(c.recall, 4), "f1": round(c.f1, 4), "support": c.tp + c.fn}
                for k, c in self.per_label.items()
            },
        }


def score_topics(name: str, gold: list[set[str]], pred: list[set[str]], label_ids: list[str]) -> TopicReport:
    """Compare predicted label sets (a non-health article predicts {'non_health'}) with gold sets."""
    rep = TopicReport(name=name, per_label={k: LabelCounts() for k in [*label_ids, NON_HEALTH]},
                      gold_sets=[set(g) for g in gold], predicted_sets=[set(p) for p in pred])
    for g, p in zip(gold, pred, strict=True):
        rep.n += 1
        rep.non_health_correct += (NON_HEALTH in g) == (NON_HEALTH in p)
        for k in g | p:
            c = rep.per_label.setdefault(k, LabelCounts())
            if k in g and k in p:
                c.tp += 1
            elif k in p:
                c.fp += 1
            else:
                c.fn += 1
    return rep


def article_counts(report: TopicReport, labels: list[str]) -> np.ndarray:
    """[articles, labels, (tp, fp, fn)] of one report's decisions."""
    out = np.zeros((len(report.gold_sets), len(labels), 3))
    for i, (g, p) in enumerate(zip(report.gold_sets, report.predicted_sets)):
        for j, k in enumerate(labels):
            out[i, j] = (k in g and k in p, k in p and k not in g, k in g and k not in p)
    return out


def micro_macro(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Micro- and macro-F1 per draw from summed counts [draws, labels, 3]; as `TopicReport`, a label
    with no support and no prediction in a draw has no F1 and is left out of that draw's macro."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1)
    micro = np.where(denom > 0, 2 * tp.sum(-1) / np.maximum(denom, 1e-12), 0.0)
    per = 2 * tp + fp + fn
    f1 = np.where(per > 0, 2 * tp / np.maximum(per, 1e-12), 0.0)
    used = per > 0
    macro = np.where(used.any(-1), (f1 * used).sum(-1) / np.maximum(used.sum(-1), 1), 0.0)
    return micro, macro


def paired_bootstrap(baseline: TopicReport, other: TopicReport, draws: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict[str, list[float]]:
    """``other`` minus ``baseline`` in micro- and macro-F1: [low, high] over articles drawn with replacement.

    Why: crossfit's spread over fold seeds says how much the *procedure* varies on these 147 articles;
    it says nothing of how much another 147 articles from the same sources could move a margin, which
    is what a bar on dev is really asking. Both rows are resampled with the same articles (paired).
    """
    if baseline.gold_sets != other.gold_sets or not baseline.gold_sets:
        raise ValueError("paired_bootstrap needs two reports on the same gold articles")
    labels = sorted(set(baseline.per_label) | set(other.per_label))
    a, b = article_counts(baseline, labels), article_counts(other, labels)
    n = len(baseline.gold_sets)
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(draws)]).astype(float)
    micro_a, macro_a = micro_macro(np.einsum("dn,nlc->dlc", weights, a))
    micro_b, macro_b = micro_macro(np.einsum("dn,nlc->dlc", weights, b))
    tail = (1 - level) / 2 * 100
    return {"micro_f1": [round(float(x), 4) for x in np.percentile(micro_b - micro_a, [tail, 100 - tail])],
            "macro_f1": [round(float(x), 4) for x in np.percentile(macro_b - macro_a, [tail, 100 - tail])],
            "draws": draws, "level": level}


def repeated_cv_f1(probs: np.ndarray, gold: list[set[str]], label_names: list[str], topic_ids: list[str],
                   seeds: int = 10, fit=None, fit_probs: np.ndarray | None = None,
                   extra: ExtraCalibration | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Topic micro- and macro-F1 per fold seed, thresholds fitted out of fold (`cross_validated_sets`).

    One seed's folds of a 147-article dev file move F1 by about 0.01; a comparison needs the
    mean and spread over several, each scored with the same folds for every variant.
    """
    reports = [score_topics("cv", gold, cross_validated_sets(probs, gold, label_names, seed=seed, fit=fit,
                                                                      fit_probs=fit_probs, extra=extra), topic_ids)
               for seed in range(seeds)]
    return np.array([r.micro_f1 for r in reports]), np.array([r.macro_f1 for r in reports])


def format_side_by_side(reports: list[TopicReport], label_names: dict[str, str]) -> str:
    """A plain-text table: the summary rows, then per-label P/R/F1 for each system."""
    head = f"{'':24}" + "".join(f"{r.name:>18}" for r in reports)
    rows = [head]
    for key, title in [
        ("micro_f1", "micro-F1 (all labels)"),
        ("macro_f1", "macro-F1 (all labels)"),
        ("topic_micro_f1", "micro-F1 (topics only)"),
        ("topic_macro_f1", "macro-F1 (topics only)"),
        ("non_health_accuracy", "non_health accuracy"),
    ]:
        rows.append(f"{title:24}" + "".join(f"{r.summary()[key]:>18.3f}" for r in reports))
    rows.append("")
    rows.append(f"{'label (support)':24}" + "".join(f"{'P / R / F1':>18}" for _ in reports))
    labels = list(reports[0].per_label)
    for k in labels:
        sup = reports[0].per_label[k].tp + reports[0].per_label[k].fn
        cells = "".join(
            f"{r.per_label[k].precision:>8.2f}/{r.per_label[k].recall:.2f}/{r.per_label[k].f1:.2f}" for r in reports
        )
        rows.append(f"{k[:19] + f' ({sup})':24}{cells}   {label_names.get(k, '')}")
    return "\n".join(rows)
