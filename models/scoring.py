"""The one scoring path: articles → scores → decisions.

`Scorer.score` runs the rules (and, for a trained model, the network) on a
batch of articles and combines them into one score per label; `decide_batch`
turns those scores into the health flag, the topics and the disagreement
list. The predictor, the evaluation and threshold calibration all go through
these two, so a change to how scores are made cannot reach one of them only.
"""
from __future__ import annotations

import math
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


# A score is "near" its threshold within this many log-odds of it: 0.05 either side of a threshold
# of 0.5, and proportionally less near 0 or 1, where a fixed 0.05 would call every score of a
# label with threshold 0.05 near it (two topics had one, so every article was flagged for both).
REVIEW_MARGIN_LOGODDS = math.log(0.55 / 0.45)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1.0 - 1e-9)
    return math.log(p / (1.0 - p))


def near_threshold(score: float, threshold: float) -> bool:
    """Whether a small change of the score could flip its decision (the review queue's reason)."""
    if not math.isfinite(score):
        return False
    return abs(_logit(score) - _logit(threshold)) < REVIEW_MARGIN_LOGODDS


@dataclass
class BatchScores:
    """Everything scored for a batch, each matrix [articles × labels] in ``labels`` order.

    Where ``network_ran`` is False the rules' health gate excluded the article whatever the network
    could say, so the network was not run for it: its ``network`` row is NaN, and so is its
    ``combined`` row but for the gate, which holds the lowest value the network could have given it.
    """

    labels: list[str]
    votes: list[ArticleVotes]
    rules: np.ndarray                       # the rules' own weighted vote (their 0.5 verdict)
    evidence: np.ndarray                    # the rule evidence the model combines with
    network: np.ndarray | None              # network probabilities (None for rules only)
    combined: np.ndarray                    # the final scores that thresholds apply to
    sentence: list[np.ndarray | None] | None  # salience per sentence (None for rules only)
    network_ran: np.ndarray | None = None   # [articles] bool; None means it ran for all

    def row(self, i: int, which: str = "combined") -> dict[str, float]:
        return dict(zip(self.labels, getattr(self, which)[i].tolist()))

    def ran(self, i: int) -> bool:
        """Whether the network scored article ``i`` (it did not where the rules' gate decided alone)."""
        return self.network is not None and (self.network_ran is None or bool(self.network_ran[i]))


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
              sentence: list[np.ndarray] | None = None, votes: Sequence[ArticleVotes] | None = None,
              skip_gated_at: float | None = None) -> BatchScores:
        """Score a batch. ``network`` (probabilities precomputed, e.g. from cached vectors) replaces
        running the network; with neither a network nor ``network`` the rules' vote is the score.

        With ``skip_gated_at`` (the health gate's threshold) the network is run only for articles
        whose gate the rules have not already decided: where the gate score reaches the threshold,
        clear of `near_threshold`, with the network's gate probability at 0 and at 1 alike, no
        network output can change the decision, and on general news that is most articles (158 of
        the gate set's 185). Their records are the same but for the review hints.
        """
        tax, votes_cfg = self.taxonomy, self.combination.votes
        votes = list(votes) if votes is not None else [self.rule_model.apply(a) for a in articles]
        flat = [weighted_vote(v, tax, votes_cfg) for v in votes]
        rules = self._matrix(flat)
        will_run = network is None and self.network is not None and len(articles) > 0
        if network is None and not will_run:
            return BatchScores(self.labels, votes, rules, rules, None, rules, None)
        evidence = self._matrix([rule_evidence(self.combination.rule_evidence, a, v, tax, flat=f, settings=votes_cfg)
                                 for a, v, f in zip(articles, votes, flat)])
        ran = None
        if will_run:
            skipping = skip_gated_at is not None and self._gate >= 0
            floor = self.gate_floor(evidence, rules) if skipping else None
            ran = self.needs_network(floor, skip_gated_at) if skipping else np.ones(len(articles), dtype=bool)
            network, sentence = self._run_network_where(articles, ran)
        network = np.asarray(network, dtype=np.float64).reshape(len(articles), len(self.labels))
        combined = combine_scores(network, evidence, self.combination.combine, self._gate,
                                  self.combination.rules_alone_weight, flat_rules=rules)
        if ran is not None and not ran.all():
            # the gate's value whatever the network says: it already reaches the threshold, so the
            # one decision rule (`decide`) excludes these articles without a special case
            combined[~ran, self._gate] = floor[~ran]
        return BatchScores(self.labels, votes, rules, evidence, network, combined, sentence,
                           None if ran is None or ran.all() else ran)

    def gate_floor(self, evidence: np.ndarray, rules: np.ndarray) -> np.ndarray:
        """Per article, the lowest health-gate score any network output could give.

        Every combination rule's gate is a maximum, a mean or one of its two inputs, so it is
        monotone in the network's gate probability: the smaller of its values at 0 and at 1.
        """
        at = [combine_scores(np.full_like(evidence, p), evidence, self.combination.combine, self._gate,
                             self.combination.rules_alone_weight, flat_rules=rules)[:, self._gate] for p in (0.0, 1.0)]
        return np.minimum(*at)

    @staticmethod
    def needs_network(gate_floor: np.ndarray, gate_threshold: float) -> np.ndarray:
        """False for the articles whose health gate the rules decide whatever the network says:
        their `gate_floor` reaches the threshold, clear of `near_threshold` (so no review hint is lost)."""
        return np.array([not (v >= gate_threshold and not near_threshold(float(v), gate_threshold))
                         for v in gate_floor], dtype=bool).reshape(len(gate_floor))

    def _run_network_where(self, articles: Sequence[Article], need: np.ndarray):
        """The network's outputs for the articles that need them; NaN rows and None salience elsewhere.

        The encoder's records do not depend on what else is in a batch (`runtime.width_step`),
        so leaving articles out changes nobody else's scores.
        """
        doc = np.full((len(articles), len(self.labels)), np.nan)
        sentence: list[np.ndarray | None] = [None] * len(articles)
        chosen = [i for i in range(len(articles)) if need[i]]
        if chosen:
            out = self.network.run_network([articles[i] for i in chosen])
            doc[chosen] = np.asarray(out.doc, dtype=np.float64).reshape(len(chosen), len(self.labels))
            for i, sal in zip(chosen, out.sentence):
                sentence[i] = sal
        return doc, sentence


def decide_matrix(scores: np.ndarray, labels: Sequence[str],
                  thresholds: Mapping[str, float] | float = DEFAULT_THRESHOLD) -> list[tuple[bool, list[str]]]:
    """`evidence.decide` on every row of a score matrix."""
    return [decide(dict(zip(labels, row.tolist())), thresholds) for row in np.asarray(scores)]


def decide_batch(scores: BatchScores, thresholds: Mapping[str, float] | None = None,
                 network_thresholds: Mapping[str, float] | None = None) -> list[Decision]:
    """Health flag, topics and disagreement per article: the decision every caller uses.

    A general-news article's topics are never tagged, so its disagreement list speaks of the
    health gate only; where the network did not run (the rules' gate decided alone) it is empty.
    """
    decided = decide_matrix(scores.combined, scores.labels, thresholds or {})
    net_thr = network_thresholds or {}
    out = []
    for i, (health, topics) in enumerate(decided):
        disagreement = [] if not scores.ran(i) else [
            lab for j, lab in enumerate(scores.labels)
            if (health or lab == NON_HEALTH)
            and (scores.rules[i, j] >= DEFAULT_THRESHOLD) != (scores.network[i, j] >= net_thr.get(lab, DEFAULT_THRESHOLD))]
        out.append(Decision(health, topics, disagreement))
    return out
