"""The label model: one binary Dawid-Skene model per label, fitted by EM on unlabeled articles.

It estimates, for every rule, how often it fires (or vetoes, or abstains) on
articles that have the label and on those that don't, i.e. each rule's
accuracy, without gold labels. Abstention is an outcome of its own, because
keyword rules abstain far more on negatives. Its posteriors are the soft
training targets; serving never needs it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from healthtag.inference.records import write_atomically
from healthtag.models.evidence import (
    DEFAULT_VOTES,
    VoteSettings,
    apply_gate,
    ungated_vote,
)
from healthtag.models.rules import ArticleVotes, RuleModel

_OUTCOMES = (1, 0, -1)


@dataclass
class BinaryDawidSkene:
    """Dawid-Skene for one binary label: P(y=1) and, per rule, P(vote | y).

    theta[j, c, o]: probability that rule j gives outcome o ∈ (+1, 0, −1)
    (index 0, 1, 2) when the true class is c ∈ {0, 1}.
    """

    prior: float = 0.5
    theta: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 3)))
    iterations: int = 0

    @staticmethod
    def _onehot(votes: np.ndarray) -> np.ndarray:
        # votes (n, m) in {-1,0,1} -> (n, m, 3) one-hot over outcomes (+1, 0, -1)
        return np.stack([votes == o for o in _OUTCOMES], axis=-1).astype(np.float64)

    def posterior(self, votes: np.ndarray) -> np.ndarray:
        if votes.shape[1] == 0:
            return np.full(votes.shape[0], self.prior)
        oh = self._onehot(votes)
        log_t = np.log(np.clip(self.theta, 1e-6, 1.0))
        ll1 = math.log(max(self.prior, 1e-6)) + np.einsum("nmo,mo->n", oh, log_t[:, 1, :])
        ll0 = math.log(max(1 - self.prior, 1e-6)) + np.einsum("nmo,mo->n", oh, log_t[:, 0, :])
        return 1.0 / (1.0 + np.exp(np.clip(ll0 - ll1, -50, 50)))

    def fit(
        self, votes: np.ndarray, init: np.ndarray, smoothing: float = 1.0, max_iter: int = 200, tol: float = 1e-6,
        fixed_prior: float | None = None,
    ) -> "BinaryDawidSkene":
        """EM from an initial posterior (the weighted vote), with Dirichlet smoothing.

        `fixed_prior` holds P(y=1) instead of re-estimating it: with two or three
        correlated keyword rules per label, free EM tends to shrink a rare
        label's prior until no article can reach 0.5.
        """
        oh = self._onehot(votes)
        q = np.clip(init.astype(np.float64), 1e-3, 1 - 1e-3)
        for it in range(max_iter):
            self.prior = fixed_prior if fixed_prior is not None else float((q.sum() + 1.0) / (len(q) + 2.0))
            pos = np.einsum("n,nmo->mo", q, oh) + smoothing
            neg = np.einsum("n,nmo->mo", 1 - q, oh) + smoothing
            self.theta = np.stack([neg / neg.sum(-1, keepdims=True), pos / pos.sum(-1, keepdims=True)], axis=1)
            new_q = self.posterior(votes)
            self.iterations = it + 1
            if np.max(np.abs(new_q - q)) < tol:
                q = new_q
                break
            q = new_q
        return self

    def rule_accuracy(self) -> list[dict[str, float]]:
        """Per rule: P(y = the rule's verdict | the rule voted), for + and − votes."""
        out = []
        for j in range(self.theta.shape[0]):
            t1, t0 = self.theta[j, 1], self.theta[j, 0]
            pos = self.prior * t1[0] / max(self.prior * t1[0] + (1 - self.prior) * t0[0], 1e-12)
            neg = (1 - self.prior) * t0[2] / max(self.prior * t1[2] + (1 - self.prior) * t0[2], 1e-12)
            out.append({"acc_pos": float(pos), "acc_neg": float(neg)})
        return out


class LabelModel:
    """Per-label Dawid-Skene over the taxonomy's rules, fitted on unlabeled articles."""

    def __init__(self, rule_model: RuleModel, votes: VoteSettings = DEFAULT_VOTES):
        self.rule_model = rule_model
        self.votes = votes
        self.taxonomy = rule_model.taxonomy
        self.columns = {
            lab.id: [rule_model.rule_index[r.name] for r in lab.rules] for lab in self.taxonomy.all_labels
        }
        self.models: dict[str, BinaryDawidSkene] = {}

    def fit(self, all_votes: list[ArticleVotes]) -> "LabelModel":
        """Fit non_health on all articles, each topic on the articles that pass the health gate.

        Topics are only defined for health articles; fitted on a pool that is
        mostly general news, a topic's class prior collapses towards zero and
        every rule looks like noise.
        """
        mat = self.rule_model.vote_matrix(all_votes)
        nh = self.taxonomy.non_health
        nh_init = np.array([ungated_vote(v, nh.id, nh.threshold, self.votes.sharpness) for v in all_votes])
        self.models[nh.id] = BinaryDawidSkene().fit(mat[:, self.columns[nh.id]], nh_init)
        health = self.models[nh.id].posterior(mat[:, self.columns[nh.id]]) < 0.5
        if not health.any():
            health = np.ones(len(all_votes), dtype=bool)
        for lab in self.taxonomy.labels:
            init = np.array([ungated_vote(v, lab.id, lab.threshold, self.votes.sharpness) for v, h in zip(all_votes, health) if h])
            prior = float(((init >= 0.5).sum() + 1.0) / (len(init) + 2.0))
            self.models[lab.id] = BinaryDawidSkene().fit(mat[health][:, self.columns[lab.id]], init, fixed_prior=prior)
        return self

    def predict_proba(self, all_votes: list[ArticleVotes], gate: bool = True) -> list[dict[str, float]]:
        """Posteriors per label; ``gate=False`` leaves the topics unscaled by P(non_health)."""
        mat = self.rule_model.vote_matrix(all_votes)
        cols = {k: self.models[k].posterior(mat[:, c]) for k, c in self.columns.items()}
        rows = [{k: float(cols[k][i]) for k in cols} for i in range(len(all_votes))]
        return [apply_gate(r) for r in rows] if gate else rows

    def rule_report(self) -> dict[str, dict[str, float]]:
        out = {}
        for lab_id, model in self.models.items():
            for j, acc in zip(self.columns[lab_id], model.rule_accuracy()):
                out[self.rule_model.rules[j].name] = acc
        return out

    def to_dict(self) -> dict:
        return {
            k: {"prior": m.prior, "theta": m.theta.tolist(), "rules": [self.rule_model.rules[j].name for j in self.columns[k]]}
            for k, m in self.models.items()
        }

    def save(self, path: str | Path) -> None:
        """Written through a temporary sibling: the shipped label model is overwritten by every training run."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(Path(path), json.dumps(self.to_dict(), ensure_ascii=False, indent=1).encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path, rule_model: RuleModel) -> "LabelModel":
        """A saved label model; it must have been fitted with the same rules."""
        lm = cls(rule_model)
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for k, cols in lm.columns.items():
            names = [rule_model.rules[j].name for j in cols]
            if k not in data or data[k]["rules"] != names:
                raise ValueError(f"{path}: label model was fitted with other rules for '{k}'; refit it")
            lm.models[k] = BinaryDawidSkene(prior=data[k]["prior"], theta=np.array(data[k]["theta"]))
        return lm
