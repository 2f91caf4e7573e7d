"""Labeling-function analysis: how often each rule fires, with whom it agrees, and,
given gold labels, how often it is right.

The rules' coverage and precision cap everything learned from them, so rule
authors need this table every time they edit configs/taxonomy.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from healthtag.models.evidence import decide, weighted_vote
from healthtag.models.rules import ArticleVotes, RuleModel
from healthtag.models.taxonomy import NON_HEALTH

from .label_model import LabelModel


@dataclass
class RuleStats:
    name: str
    label: str
    kind: str
    coverage: float
    overlap: float
    conflict: float
    lm_accuracy: float | None
    gold_precision: float | None
    gold_votes: int


def analyse(
    rule_model: RuleModel,
    all_votes: list[ArticleVotes],
    label_model: LabelModel | None = None,
    gold: list[set[str] | None] | None = None,
) -> tuple[list[RuleStats], dict[str, float], list[tuple[int, float]]]:
    """(per-rule stats, per-label coverage of the weighted vote, most-conflicted article indices)."""
    mat = rule_model.vote_matrix(all_votes).astype(np.int16)
    n = max(len(all_votes), 1)
    rules = rule_model.rules
    lm_acc = label_model.rule_report() if label_model else {}
    by_label: dict[str, list[int]] = {}
    for j, r in enumerate(rules):
        by_label.setdefault(r.label, []).append(j)
    stats = []
    for j, r in enumerate(rules):
        col = mat[:, j]
        voted = col != 0
        others = [k for k in by_label[r.label] if k != j]
        other_votes = mat[:, others] if others else np.zeros((mat.shape[0], 0), dtype=np.int16)
        overlap = voted & (other_votes != 0).any(axis=1) if others else np.zeros_like(voted)
        conflict = voted & ((other_votes * col[:, None]) < 0).any(axis=1) if others else np.zeros_like(voted)
        gp, gv = None, 0
        if gold is not None and voted.any():
            right = [
                (r.label in g) == (v > 0)
                for g, v in zip(gold, col)
                if v != 0 and g is not None
            ]
            gv = len(right)
            gp = sum(right) / gv if gv else None
        acc = lm_acc.get(r.name)
        stats.append(
            RuleStats(
                name=r.name, label=r.label, kind=r.kind,
                coverage=float(voted.sum()) / n, overlap=float(overlap.sum()) / n, conflict=float(conflict.sum()) / n,
                lm_accuracy=(acc["acc_pos"] if r.vote > 0 else acc["acc_neg"]) if acc else None,
                gold_precision=gp, gold_votes=gv,
            )
        )
    taxonomy = rule_model.taxonomy
    label_cov: dict[str, float] = {lab.id: 0.0 for lab in taxonomy.all_labels}
    conflicts = []
    for i, v in enumerate(all_votes):
        health, topics = decide(weighted_vote(v, taxonomy))
        for t in topics:
            label_cov[t] += 1 / n
        if not health:
            label_cov[NON_HEALTH] += 1 / n
        score = 0.0
        for lab in taxonomy.all_labels:
            pos = sum(h.weight for h in v.hits if h.label == lab.id and h.vote > 0)
            neg = sum(h.weight for h in v.hits if h.label == lab.id and h.vote < 0)
            score += min(pos, neg)
        if score > 0:
            conflicts.append((i, score))
    conflicts.sort(key=lambda x: -x[1])
    return stats, label_cov, conflicts


def format_report(
    stats: list[RuleStats], label_cov: dict[str, float], conflicts: list[tuple[int, float]], titles: list[str], top: int = 10
) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:5.1f}%"

    lines = [f"{'rule':30} {'label':22} {'kind':9} {'cover':>7} {'overlap':>8} {'conflict':>8} {'LM acc':>7} {'gold P':>7} {'n':>5}"]
    for s in stats:
        lines.append(
            f"{s.name:30} {s.label:22} {s.kind:9} {pct(s.coverage):>7} {pct(s.overlap):>8} {pct(s.conflict):>8} "
            f"{pct(s.lm_accuracy):>7} {pct(s.gold_precision):>7} {s.gold_votes:>5}"
        )
    lines += ["", "label coverage (weighted vote):"]
    lines += [f"  {k:24} {pct(v)}" for k, v in label_cov.items()]
    lines += ["", f"articles where rules disagree most (top {top}):"]
    lines += [f"  {score:5.2f}  {titles[i][:60]}" for i, score in conflicts[:top]] or ["  none"]
    return "\n".join(lines)


def rules_report(articles: list, gold_sets: list[set[str] | None] | None, taxonomy, top: int = 10) -> str:
    """The printable report for `healthtag rules-report`; the label model is fitted on these articles."""
    model = RuleModel(taxonomy)
    votes = [model.apply(a) for a in articles]
    lm = LabelModel(model).fit(votes) if votes else None
    stats, cov, conf = analyse(model, votes, lm, gold_sets)
    header = f"{len(articles)} articles, {len(model.rules)} rules (label model fitted on these articles)"
    return header + "\n" + format_report(stats, cov, conf, [a.title for a in articles], top)
