"""The one scoring path: articles → scores → decisions.

`Scorer.score` runs the rules (and, for a trained model, the network) on a
batch of articles and combines them into one score per label; `decide_batch`
turns those scores into the health flag, the topics and the disagreement
list. The predictor, the evaluation and threshold calibration all go through
these two, so a change to how scores are made cannot reach one of them only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from healthtag.text.article import Article

from .evidence import DEFAULT_THRESHOLD, decide, rule_evidence, weighted_vote
from .model_config import COMBINE_RULES, CombineSettings
from .rules import ArticleVotes, RuleModel
from .taxonomy import NON_HEALTH, Taxonomy


def combine_scores(network: np.ndarray, rules: np.ndarray, rule: str, gate_column: int = -1,
                   rules_alone_weight: float = 1.0, flat_rules: np.ndarray | None = None) -> np.ndarray:
    """Final scores from network probabilities and rule evidence (same label order).

    In the ``max`` rules, rule evidence for a topic only mentioned in passing (``rules``, the
    graded vote, below ``flat_rules``, the flat vote, which a weight below 1 therefore needs)
    is first scaled by ``rules_alone_weight + (1 - rules_alone_weight) * network``
    (`CombineSettings`): most of the rules' errors are passing mentions the network does not
    share, and a plain maximum hands every one of them to the threshold at full strength. A
    topic the article dwells on keeps its whole vote, since the article-level network easily
    misses the second and third topics of a long report. The health gate column is never
    scaled; each rule says how it decides the gate.
    """
    if rule in ("max", "max_rules_gate", "max_network_gate", "max_mean_gate"):
        a = rules_alone_weight
        vouched = rules
        if a < 1.0:
            if flat_rules is None:
                raise ValueError("rules_alone_weight below 1 needs flat_rules to tell passing mentions apart")
            vouched = np.where(rules < flat_rules - 1e-9, rules * (a + (1.0 - a) * network), rules)
        out = np.maximum(network, vouched)
        gate_rules, gate_network = rules[..., gate_column], network[..., gate_column]
        if rule == "max":
            out[..., gate_column] = np.maximum(gate_network, gate_rules)
        elif rule == "max_rules_gate":
            # health gate: the rules' verdict (its dev accuracy is higher)
            out[..., gate_column] = gate_rules
        elif rule == "max_network_gate":
            # health gate: the network's, trained against general news
            out[..., gate_column] = gate_network
        else:
            # health gate: network and rules averaged, so each can overrule a weak verdict of the other
            out[..., gate_column] = (gate_network + gate_rules) / 2
        return out
    if rule == "mean":
        return (network + rules) / 2
    if rule == "network":
        return np.array(network, copy=True)
    raise ValueError(f"unknown combine rule {rule!r}; choose one of {COMBINE_RULES}")


@dataclass
class BatchScores:
    """Everything scored for a batch, each matrix [articles × labels] in ``labels`` order."""

    labels: list[str]
    votes: list[ArticleVotes]
    rules: np.ndarray                       # the rules' own weighted vote (their 0.5 verdict)
    evidence: np.ndarray                    # the rule evidence the model combines with
    network: np.ndarray | None              # network probabilities (None for rules only)
    combined: np.ndarray                    # the final scores that thresholds apply to
    sentence: list[np.ndarray] | None       # salience per sentence (None for rules only)

    def row(self, i: int, which: str = "combined") -> dict[str, float]:
        return dict(zip(self.labels, getattr(self, which)[i].tolist()))


@dataclass
class Decision:
    health: bool
    topics: list[str]                       # best first
    disagreement: list[str]                 # labels where the rules' and the network's verdicts differ

    @property
    def gold_labels(self) -> set[str]:
        """The label set as gold files write it: the topics, or {'non_health'} alone."""
        return set(self.topics) if self.health else {NON_HEALTH}


class Scorer:
    """Rules, optionally a network, and how they combine; `score` is a pure function of its batch."""

    def __init__(self, taxonomy: Taxonomy, labels: Sequence[str] | None = None,
                 combination: CombineSettings | None = None, network=None) -> None:
        self.taxonomy = taxonomy
        self.rule_model = RuleModel(taxonomy)
        self.labels = list(labels) if labels is not None else [lab.id for lab in taxonomy.all_labels]
        self.combination = combination or CombineSettings()
        self.network = network          # anything with run_network(articles) -> NetworkOutput
        self._gate = self.labels.index(NON_HEALTH) if NON_HEALTH in self.labels else -1

    def _matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([[row.get(k, 0.0) for k in self.labels] for row in rows], dtype=np.float64).reshape(
            len(rows), len(self.labels))

    def score(self, articles: Sequence[Article], network: np.ndarray | None = None,
              sentence: list[np.ndarray] | None = None, votes: Sequence[ArticleVotes] | None = None) -> BatchScores:
        """Score a batch. ``network`` (probabilities precomputed, e.g. from cached vectors) replaces
        running the network; with neither a network nor ``network`` the rules' vote is the score."""
        tax, votes_cfg = self.taxonomy, self.combination.votes
        votes = list(votes) if votes is not None else [self.rule_model.apply(a) for a in articles]
        flat = [weighted_vote(v, tax, votes_cfg) for v in votes]
        rules = self._matrix(flat)
        if network is None and self.network is not None and len(articles):
            out = self.network.run_network(articles)
            network, sentence = out.doc, out.sentence
        if network is None:
            return BatchScores(self.labels, votes, rules, rules, None, rules, None)
        evidence = self._matrix([rule_evidence(self.combination.rule_evidence, a, v, tax, flat=f, settings=votes_cfg)
                                 for a, v, f in zip(articles, votes, flat)])
        network = np.asarray(network, dtype=np.float64).reshape(len(articles), len(self.labels))
        combined = combine_scores(network, evidence, self.combination.combine, self._gate,
                                  self.combination.rules_alone_weight, flat_rules=rules)
        return BatchScores(self.labels, votes, rules, evidence, network, combined, sentence)


def decide_matrix(scores: np.ndarray, labels: Sequence[str],
                  thresholds: Mapping[str, float] | float = DEFAULT_THRESHOLD) -> list[tuple[bool, list[str]]]:
    """`evidence.decide` on every row of a score matrix."""
    return [decide(dict(zip(labels, row.tolist())), thresholds) for row in np.asarray(scores)]


def decide_batch(scores: BatchScores, thresholds: Mapping[str, float] | None = None,
                 network_thresholds: Mapping[str, float] | None = None) -> list[Decision]:
    """Health flag, topics and disagreement per article: the decision every caller uses."""
    decided = decide_matrix(scores.combined, scores.labels, thresholds or {})
    out = []
    for i, (health, topics) in enumerate(decided):
        disagreement: list[str] = []
        if scores.network is not None:
            net_thr = network_thresholds or {}
            disagreement = [lab for j, lab in enumerate(scores.labels)
                            if (scores.rules[i, j] >= DEFAULT_THRESHOLD)
                            != (scores.network[i, j] >= net_thr.get(lab, DEFAULT_THRESHOLD))]
        out.append(Decision(health, topics, disagreement))
    return out
